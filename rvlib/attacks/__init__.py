"""Adversarial attacks in JAX: FGSM, PGD (L∞/L2), APGD-CE/DLR/T, robust evaluation, adversarial training.

Every attack is a pure function ``(logits_fn, x, y, key, *, eps, ...) -> x_adv``
to call inside ``jax.jit``: ``logits_fn: f32[b, ...] -> f32[b, k]`` (any class
count), inputs ``x: f32[b, ...]`` in [0, 1] with ε in pixel units (put input
normalisation inside the model), ``y: i32[b]``.  The model must be in eval
mode: :func:`model_logits` builds ``logits_fn`` from a split NNX model,
discarding any state updates (batch statistics) and switching modules with a
``deterministic``/``use_running_average`` flag to eval.

* ``pgd``: :func:`fgsm`, :func:`pgd` (random start, restarts, worst case kept);
* ``apgd``: :func:`apgd` (CE, DLR, margin losses), :func:`apgd_targeted`;
* ``registry``: ``ATTACKS`` by name and :func:`attack`;
* ``evaluate``: :func:`robust_eval`, robust accuracy over an ε grid, worst case
  over attacks per example, gradient-masking flags;
* ``adversary``: :class:`Adversary`, the adversarial-training option of
  ``training.make_train_step``;
* ``objectives``, ``geometry``, ``checks``: losses, projections, argument checks.
"""
from __future__ import annotations

import functools

from flax import nnx

from rvlib.attacks.adversary import ADVERSARY_KINDS, Adversary, check_adversary
from rvlib.attacks.apgd import apgd, apgd_best, apgd_checkpoints, apgd_targeted
from rvlib.attacks.geometry import direction, l2_norm, project, random_start
from rvlib.attacks.objectives import OBJECTIVES, get_objective
from rvlib.attacks.pgd import Best, fgsm, keep_worse, pgd, pgd_best
from rvlib.attacks.evaluate import RobustEval, masking_flags, robust_eval, robust_eval_params
from rvlib.attacks.registry import ATTACKS, AttackSpec, attack, random_noise

__all__ = ["fgsm", "pgd", "pgd_best", "apgd", "apgd_best", "apgd_targeted", "apgd_checkpoints",
           "random_noise", "ATTACKS", "AttackSpec", "attack", "Best", "keep_worse", "OBJECTIVES",
           "get_objective", "direction", "l2_norm", "project", "random_start", "model_logits",
           "Adversary", "ADVERSARY_KINDS", "check_adversary", "RobustEval", "robust_eval",
           "masking_flags", "robust_eval_params", "apply_fn"]


@functools.cache
def apply_fn(graphdef: nnx.GraphDef):
    """``apply((params, rest), x) -> logits`` in eval mode; one function object per graphdef,
    so programs compiled for it (``robust_eval_params``) are shared by all its models."""
    def apply(weights, x):
        return model_logits(graphdef, *weights)(x)
    return apply


def model_logits(graphdef: nnx.GraphDef, params, rest=None):
    """``logits_fn(x) -> f32[b, k]`` of a split model in eval mode (state updates discarded)."""
    def logits_fn(x):
        model = nnx.merge(graphdef, params) if rest is None else nnx.merge(graphdef, params, rest)
        if hasattr(model, "eval"):
            model.eval()
        return model(x)
    return logits_fn
