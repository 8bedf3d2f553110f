"""Gaussian weight noise: ``W <- W + alpha * sigma_W * N(0, 1)`` on every weight matrix.

The weight-noise robustness study (PAPER.md section 4) perturbs every
``kernel`` (biases stay exact: a crossbar stores only the matrix) with noise
scaled per layer:

* ``mode="additive"``: ``W + alpha * s(W) * eps`` with ``s(W)`` that layer's
  weight std (``relative_to="std"``, the seed study) or its max ``|W|``
  (``relative_to="max"``, aihwkit's noise-injection convention, where the
  largest weight sits at g_max);
* ``mode="multiplicative"``: ``W * (1 + alpha * eps)``.

``alpha`` may be a traced scalar, so many noise levels and draws run as one
vmapped program (``hardware.grid``); ``alpha = 0`` returns every weight
bit for bit.  Each kernel gets its own key (split from the one given), so
one key fixes one draw of the whole model.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from rvlib import validate
from rvlib.hardware.clip import is_kernel

__all__ = ["MODES", "SCALES", "check_noise", "layer_scale", "perturb_leaf", "perturb"]

MODES = ("additive", "multiplicative")
SCALES = ("std", "max")


def check_noise(alpha, mode: str = "additive", relative_to: str = "std"):
    """``(alpha >= 0, mode, relative_to)`` checked before any compute."""
    return (validate.non_negative("alpha", alpha), validate.choice("mode", mode, MODES),
            validate.choice("relative_to", relative_to, SCALES))


def layer_scale(w, relative_to: str = "std") -> jax.Array:
    """``sigma_W`` of one layer, ``w: f32[...]`` -> ``f32[]`` (population std or max ``|w|``)."""
    return jnp.std(w) if relative_to == "std" else jnp.max(jnp.abs(w))


def perturb_leaf(key, w, alpha, mode: str = "additive", relative_to: str = "std"):
    """One noisy copy of ``w: f32[...]``; ``alpha``: f32[] (may be traced)."""
    eps = jax.random.normal(key, w.shape, w.dtype)
    if mode == "multiplicative":
        return w * (1.0 + alpha * eps)
    return w + alpha * layer_scale(w, relative_to) * eps


def perturb(key, params, alpha, *, mode: str = "additive", relative_to: str = "std",
            stop_gradient: bool = False):
    """A noisy copy of every ``kernel`` leaf of ``params`` (an ``nnx.Param`` state); biases kept.

    ``stop_gradient``: the noise term carries no gradient (noise-aware
    training: the gradient at the noisy weights updates the clean ones, as in
    aihwkit's weight-noise injection).
    """
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    keys = jax.random.split(key, max(len(flat), 1))
    out = []
    for k, (path, w) in zip(keys, flat):
        if not is_kernel(path):
            out.append(w)
            continue
        noisy = perturb_leaf(k, w, alpha, mode, relative_to)
        out.append(w + jax.lax.stop_gradient(noisy - w) if stop_gradient else noisy)
    return jax.tree_util.tree_unflatten(treedef, out)
