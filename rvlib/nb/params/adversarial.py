"""Parameters of notebook 06: adversarial robustness of the digits models."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rvlib import validate
from rvlib.attacks.adversary import Adversary
from rvlib.nb.params.base import (DigitsTrainingParams, choice_check, lams_check, param,
                                  positive_int)
from rvlib.training.classifier import CLASSIFIERS

__all__ = ["AdversarialParams"]


def _eps_grid(name, values):
    out = sorted(set(validate.each(name, values, validate.non_negative, nonempty="eps")))
    if out[-1] > 1.0:
        validate.fail(name, values, "every eps must be <= 1 (pixel units, inputs in [0, 1])")
    return out


@dataclass(frozen=True)
class AdversarialParams(DigitsTrainingParams):
    """06_adversarial_robustness: do the paper's large margins buy adversarial robustness?

    ``train_eps`` is added to ``eps_grid`` (sorted, no repeats) so the
    training budget is always evaluated.  Quick: one seed (``seed``), at most
    10 epochs, the largest λ only, APGD with at most 20 steps, no fast AT.
    """
    notebook: ClassVar[str] = "06_adversarial_robustness"
    model: str = param("mlp", choice_check(CLASSIFIERS))
    lams: list = param([1.0, 10.0], lams_check)
    smoothing: float = param(0.1, validate.probability)
    train_eps: float = param(0.1, validate.positive)
    at_steps: int = param(7, positive_int)
    fast_at: bool = param(True, validate.flag)
    eps_grid: list = param([0.0, 0.025, 0.05, 0.1, 0.15, 0.2], _eps_grid)
    pgd_steps: int = param(10, positive_int)
    apgd_steps: int = param(100, positive_int)
    large_eps: float = param(0.5, validate.positive)

    def normalize(self) -> None:
        if self.smoothing >= 1.0:
            validate.fail("smoothing", self.smoothing, "must be in [0, 1)")
        Adversary(eps=self.train_eps, steps=self.at_steps)  # the same checks as training
        self._set("eps_grid", sorted(set(self.eps_grid) | {self.train_eps}))

    def quick_values(self) -> dict:
        return {"seeds": [self.seed], "epochs": min(self.epochs, 10), "lams": self.lams[-1:],
                "apgd_steps": min(self.apgd_steps, 20), "fast_at": False}
