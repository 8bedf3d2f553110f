"""Checks of an attack's arguments, before any compute, in ``rvlib.validate``'s message format.

Numbers given as Python values are checked; traced values (an ε under
``jax.vmap`` or ``jit``) pass through, their value unknown until run time.
"""
from __future__ import annotations

import jax
import numpy as np

from rvlib import validate

NORMS = ("linf", "l2")


def _traced(value) -> bool:
    return isinstance(value, jax.core.Tracer)


def eps(value, name: str = "eps"):
    """ε >= 0 in pixel units (inputs in [0, 1])."""
    if _traced(value) or np.ndim(value):  # traced, or one ε per example
        return value
    return validate.non_negative(name, value)


def step_size(value, name: str = "step_size"):
    return value if _traced(value) else validate.positive(name, value)


def steps(value, name: str = "steps") -> int:
    return validate.positive(name, value, integer=True)


def norm(value) -> str:
    return validate.choice("norm", value, NORMS)


def clip(value) -> tuple[float, float]:
    lo_hi = validate.clip_range("clip", value)
    if lo_hi is None:
        validate.fail("clip", value, "must be a pair (lo, hi) of input bounds, e.g. (0.0, 1.0)")
    return lo_hi


def inputs(x, y, clip_range) -> None:
    """``x: f32[b, ...]`` inside ``clip_range``, ``y: i32[b]``; concrete arrays only.

    Inputs outside [0, 1] almost always mean the attack is run on normalised
    images, so ε is not in pixel units: refuse, and say where the
    normalisation belongs.
    """
    if _traced(x) or _traced(y):
        return
    shape_x, shape_y = np.shape(x), np.shape(y)
    if len(shape_x) < 2 or len(shape_y) != 1 or shape_x[0] != shape_y[0]:
        validate.fail("x, y shapes", f"x{shape_x}, y{shape_y}",
                      "need x: [b, ...] and y: [b] with the same b")
    if not np.issubdtype(np.asarray(y).dtype, np.integer):
        validate.fail("y dtype", str(np.asarray(y).dtype), "must be integer labels")
    lo, hi = clip_range
    x_min, x_max = float(np.min(x)), float(np.max(x))
    if x_min < lo - 1e-6 or x_max > hi + 1e-6:
        validate.fail("x range", (x_min, x_max),
                      f"inputs must lie in [{lo}, {hi}] (pixel units, where eps is measured); "
                      "put any normalisation (mean/std) inside the model, not in the data")
