"""Adversarial training as an option of the training step: ``make_train_step(..., adversary=Adversary(...))``.

The step perturbs its batch with the attack, using the step's own key (split
off before anything else uses it) and the pre-update weights in eval mode,
then computes the loss on the perturbed batch (Madry et al. 2018).  Kinds:

* ``pgd``: PGD-``steps`` with random start, step ``2.5 eps / steps`` unless given;
* ``fgsm_rs``: "fast" adversarial training (Wong et al. 2020): a random start
  and one signed step of ``1.25 eps``.

The attack keeps the per-example worst iterate (``attacks.pgd``).  Training
metrics (loss, accuracy, margin) are then those of the perturbed batch.
"""
from __future__ import annotations

from dataclasses import dataclass

from rvlib import validate
from rvlib.attacks import checks
from rvlib.attacks.pgd import pgd

__all__ = ["Adversary", "ADVERSARY_KINDS", "check_adversary"]

ADVERSARY_KINDS = ("pgd", "fgsm_rs")


@dataclass(frozen=True)
class Adversary:
    """How a training step perturbs its batch; checked on construction."""
    eps: float
    kind: str = "pgd"
    steps: int = 7
    step_size: float | None = None
    norm: str = "linf"
    loss: str = "ce"
    clip: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen)
        set_("eps", checks.eps(self.eps))
        set_("kind", validate.choice("adversary.kind", self.kind, ADVERSARY_KINDS))
        set_("steps", checks.steps(self.steps, "adversary.steps"))
        if self.step_size is not None:
            set_("step_size", checks.step_size(self.step_size, "adversary.step_size"))
        set_("norm", checks.norm(self.norm))
        set_("clip", checks.clip(self.clip))

    def perturb(self, logits_fn, x, y, key):
        """x: f32[b, ...] -> the adversarial batch f32[b, ...] (traceable)."""
        if self.kind == "fgsm_rs":
            return pgd(logits_fn, x, y, key, eps=self.eps, steps=1, norm=self.norm,
                       step_size=1.25 * self.eps if self.step_size is None else self.step_size,
                       random_start=True, clip=self.clip, loss=self.loss)
        return pgd(logits_fn, x, y, key, eps=self.eps, steps=self.steps, norm=self.norm,
                   step_size=self.step_size, random_start=True, clip=self.clip, loss=self.loss)


def check_adversary(adversary) -> Adversary | None:
    """``None`` (no adversarial training) or an :class:`Adversary`."""
    if adversary is not None and not isinstance(adversary, Adversary):
        validate.fail("adversary", adversary, "must be None or an rvlib.attacks.Adversary")
    return adversary
