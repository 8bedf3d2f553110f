"""Conductance ranges: a memristor stores a weight as a conductance in ``[g_min, g_max]``.

A clip range is ``None`` (unconstrained) or a pair ``(g_min, g_max)``
(checked by ``validate.clip_range``).  Crossbar rules clip after every update
(``rules``); gradient training projects every ``kernel`` into the range after
each optimiser step (``training.make_train_step(clip=...)``).  Biases stay
free: they are not conductances of the crossbar.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rvlib import validate

__all__ = ["clip_label", "bounds", "is_kernel", "clip_kernels", "kernel_weights"]


def clip_label(clip) -> str:
    """``None`` -> ``"none"``, ``(0, 1)`` -> ``"[0, 1]"``."""
    clip = validate.clip_range("clip", clip)
    return "none" if clip is None else f"[{clip[0]:g}, {clip[1]:g}]"


def bounds(clip) -> tuple[float, float]:
    """``(lo, hi)`` of a clip range; ``None`` is ``(-inf, inf)``, where clipping is the identity.

    So "no clip" and "clip" run as one program with traced bounds.
    """
    clip = validate.clip_range("clip", clip)
    return (-math.inf, math.inf) if clip is None else clip


def is_kernel(path) -> bool:
    """Whether a pytree path (``tree_map_with_path``) leads to a ``kernel`` (a weight matrix)."""
    return any(getattr(k, "key", getattr(k, "name", None)) == "kernel" for k in path)


def clip_kernels(tree, lo, hi):
    """Project every leaf under a ``kernel`` name into ``[lo, hi]``; biases are left free.

    ``lo``/``hi`` may be Python floats or traced scalars.
    """
    return jax.tree_util.tree_map_with_path(
        lambda path, a: jnp.clip(a, lo, hi) if is_kernel(path) else a, tree)


def kernel_weights(model: nnx.Module) -> np.ndarray:
    """All ``kernel`` entries of a model (the weights a clip constrains) as one ``f32[m]``."""
    flat = jax.tree_util.tree_flatten_with_path(nnx.state(model, nnx.Param))[0]
    return np.concatenate([np.asarray(a).ravel() for p, a in flat if is_kernel(p)])
