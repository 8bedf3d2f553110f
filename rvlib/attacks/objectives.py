"""Per-example attack losses, all maximised by the attacker: ``(logits: f32[b, k], y: i32[b]) -> f32[b]``.

* ``ce``: cross-entropy ``-log p_y``;
* ``margin``: the Carlini-Wagner margin ``max_{j != y} z_j - z_y`` (> 0 iff misclassified);
* ``dlr``: Croce & Hein's difference of logits ratio
  ``-(z_y - max_{j != y} z_j) / (z_pi1 - z_pi3 + 1e-12)`` (pi: logits sorted
  descending), invariant to shifting and rescaling the logits; needs k >= 3.

Targeted losses take the target ``t: i32[b]`` too (``ce_targeted = log p_t``,
``dlr_targeted = -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12)``, k >= 4).
Per-example sums give per-example gradients only when examples do not
interact: attack models in eval mode (no batch statistics, no dropout).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from rvlib import validate

__all__ = ["ce", "margin", "dlr", "ce_targeted", "dlr_targeted", "OBJECTIVES", "get_objective",
           "MIN_CLASSES"]


def _true_and_other(z, y):
    is_true = jax.nn.one_hot(y, z.shape[-1], dtype=bool)
    z_true = jnp.sum(jnp.where(is_true, z, 0.0), -1)
    z_other = jnp.max(jnp.where(is_true, -jnp.inf, z), -1)
    return z_true, z_other


def ce(z, y):
    return -jnp.take_along_axis(jax.nn.log_softmax(z, -1), y[:, None], -1)[:, 0]


def margin(z, y):
    z_true, z_other = _true_and_other(z, y)
    return z_other - z_true


def dlr(z, y):
    z_true, z_other = _true_and_other(z, y)
    top = jax.lax.top_k(z, 3)[0]
    return -(z_true - z_other) / (top[:, 0] - top[:, 2] + 1e-12)


def ce_targeted(z, y, t):
    return jnp.take_along_axis(jax.nn.log_softmax(z, -1), t[:, None], -1)[:, 0]


def dlr_targeted(z, y, t):
    pick = lambda c: jnp.take_along_axis(z, c[:, None], -1)[:, 0]
    top = jax.lax.top_k(z, 4)[0]
    return -(pick(y) - pick(t)) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + 1e-12)


OBJECTIVES = {"ce": ce, "margin": margin, "dlr": dlr}
TARGETED = {"ce": ce_targeted, "dlr": dlr_targeted}
MIN_CLASSES = {"ce": 2, "margin": 2, "dlr": 3}
MIN_CLASSES_TARGETED = {"ce": 2, "dlr": 4}


def get_objective(name: str, targeted: bool = False):
    """The per-example loss called ``name`` (``ce``, ``margin``, ``dlr``; targeted: ``ce``, ``dlr``)."""
    table = TARGETED if targeted else OBJECTIVES
    return table[validate.choice("loss", name, table)]


def check_classes(name: str, classes: int, targeted: bool = False) -> None:
    need = (MIN_CLASSES_TARGETED if targeted else MIN_CLASSES)[name]
    if classes < need:
        validate.fail("loss", name, f"needs at least {need} classes, the model has {classes}")
