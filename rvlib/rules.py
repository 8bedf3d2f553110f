"""Local learning rules for the crossbar: Hebbian and the delta rule.

A crossbar is a conductance matrix ``w: f32[d, k]`` with ``out = x @ w``.  Both
rules are trained with ``lax.scan`` on one input ``x: f32[d]`` toward a target
``t: f32[k]`` (the paper's per-image protocol), and are ``vmap``-able over
images so all 50 of the paper's models train in one call.

Hardware constraint: an optional conductance clip ``[g_min, g_max]`` is applied
after every update, because a physical device can never leave its range.

Divergence is data, not an exception: the result carries ``diverged`` (any
non-finite weight) so a sweep over learning rates keeps every row.
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rvlib import validate
from rvlib.hardware.clip import bounds

RULES = ("hebbian", "delta")


class CrossbarResult(NamedTuple):
    w: jax.Array          # f32[..., d, k] trained conductances
    diverged: jax.Array   # bool[...] any weight became inf/NaN


def hebbian_update(w, x, t, eta):
    """``W <- W + eta * outer(x, t)``: only columns with a non-zero target change."""
    return w + eta * jnp.outer(x, t)


def delta_update(w, x, t, eta):
    """``W <- W - eta * outer(x, W^T x - t)``: gradient descent on ``0.5 * |W^T x - t|^2``."""
    return w - eta * jnp.outer(x, x @ w - t)


UPDATES = {"hebbian": hebbian_update, "delta": delta_update}


def check_rule(rule, eta, iters, clip):
    """The rule's arguments, checked: ``(rule, eta >= 0, iters >= 0 int, clip | None)``."""
    validate.choice("rule", rule, RULES)
    eta = validate.non_negative("eta", eta)
    iters = validate.non_negative("iters", iters, integer=True)
    clip = validate.clip_range("clip", clip)
    return rule, eta, iters, clip


def crossbar_scan(w0, x, t, eta, lo=-jnp.inf, hi=jnp.inf, *, rule: str, iters: int):
    """``iters`` updates of one crossbar, clipped to ``[lo, hi]`` after each. -> f32[d, k].

    The unchecked core: ``eta``, ``lo`` and ``hi`` may be traced (one
    program for many settings; ``(-inf, inf)`` is no clip), ``rule`` and
    ``iters`` are static.  w0: f32[d, k], x: f32[d], t: f32[k].
    """
    update = UPDATES[rule]

    def body(w, _):
        return jnp.clip(update(w, x, t, eta), lo, hi), None

    return jax.lax.scan(body, w0, None, length=iters)[0]


def crossbars_scan(w0, x, t, eta, lo=-jnp.inf, hi=jnp.inf, *, rule: str,
                   iters: int) -> CrossbarResult:
    """:func:`crossbar_scan` for one crossbar per image: ``w0: f32[n, d, k]``, ``x: f32[n, d]``."""
    w = jax.vmap(lambda w, xi: crossbar_scan(w, xi, t, eta, lo, hi, rule=rule, iters=iters))(w0, x)
    return CrossbarResult(w, ~jnp.all(jnp.isfinite(w), axis=(-2, -1)))


def train_crossbar(w0, x, t, *, rule: str, eta: float, iters: int,
                   clip: tuple[float, float] | None = None) -> CrossbarResult:
    """Train one crossbar with a local rule.

    w0: f32[d, k] initial conductances; x: f32[d] the input; t: f32[k] the target.
    ``rule`` in ``RULES``; ``clip=(g_min, g_max)`` or ``None``.
    """
    rule, eta, iters, clip = check_rule(rule, eta, iters, clip)
    w = crossbar_scan(w0, x, t, eta, *bounds(clip), rule=rule, iters=iters)
    return CrossbarResult(w, ~jnp.all(jnp.isfinite(w)))


def train_crossbars(w0, x, t, *, rule: str, eta: float, iters: int, clip=None) -> CrossbarResult:
    """One crossbar per image, jitted: ``w0: f32[n, d, k]``, ``x: f32[n, d]``, ``t: f32[k]``."""
    rule, eta, iters, clip = check_rule(rule, eta, iters, clip)
    return _train_many(w0, x, jnp.asarray(t, jnp.float32), eta, *bounds(clip), rule, iters)


@partial(jax.jit, static_argnums=(6, 7))
def _train_many(w0, x, t, eta, lo, hi, rule, iters):
    return crossbars_scan(w0, x, t, eta, lo, hi, rule=rule, iters=iters)


def delta_stability_limit(x) -> np.ndarray:
    """Largest stable delta-rule step per input: ``2 / ||x||^2`` (x: f32[n, d] -> f64[n]).

    On one input the output error evolves as ``e <- (1 - eta * ||x||^2) * e``,
    so the rule converges iff ``0 < eta < 2 / ||x||^2`` and grows geometrically
    beyond it.
    """
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    return 2.0 / np.maximum((x * x).sum(axis=1), np.finfo(np.float64).tiny)


def delta_stability(eta: float, x) -> dict:
    """Say whether ``eta`` exceeds the delta rule's stability limit on ``x: f32[n, d]``.

    Returns ``stable`` (all inputs converge), ``fraction_stable``, the limits'
    min/median, and the worst per-step error growth factor ``|1 - eta ||x||^2|``.
    """
    eta = validate.non_negative("eta", eta)
    limit = delta_stability_limit(x)
    growth = np.abs(1.0 - eta * 2.0 / limit)
    ok = growth < 1.0
    return {
        "eta": eta,
        "stable": bool(ok.all()),
        "fraction_stable": float(ok.mean()),
        "limit_min": float(limit.min()),
        "limit_median": float(np.median(limit)),
        "max_growth_per_step": float(growth.max()),
    }
