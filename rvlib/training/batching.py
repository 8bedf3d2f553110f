"""Whole arrays in fixed-size batches: pad to whole batches so every call has one shape.

One compiled call per shape: the last, short batch is padded with zero rows
and the padding dropped from the result (or masked out, ``pad_rows``).
"""
from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from rvlib import validate

__all__ = ["batch_rows", "pad_rows", "map_batches"]


def batch_rows(n: int, batch_size: int) -> int:
    """The batch size used for ``n`` rows: ``batch_size``, or ``n`` when that is smaller (>= 1)."""
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    return max(1, min(batch_size, n))


def pad_rows(a, batch_size: int):
    """``a: [n, ...]`` with zero rows appended up to a multiple of ``batch_size`` -> ``[m, ...]``."""
    pad = -a.shape[0] % batch_size
    return jnp.concatenate([a, jnp.zeros((pad,) + a.shape[1:], a.dtype)]) if pad else a


def map_batches(fn: Callable, x, batch_size: int, *, axis: int = 0):
    """``fn`` applied to ``x: [n, ...]`` in padded batches of ``batch_rows(n, batch_size)`` rows.

    The outputs are concatenated along ``axis`` (where ``fn`` puts the batch)
    and cut back to ``n`` rows there.
    """
    n = x.shape[0]
    bs = batch_rows(n, batch_size)
    xp = pad_rows(x, bs)
    out = jnp.concatenate([fn(xp[i:i + bs]) for i in range(0, xp.shape[0], bs)], axis=axis)
    return out[(slice(None),) * axis + (slice(0, n),)]
