"""The threat models' geometry: steepest-ascent directions, projections, random starts.

All act on ``f32[b, ...]`` per example (norms over every non-batch axis).
Projection onto the ε-ball is followed by clipping to the input box; since the
clean point lies in the box, clipping only shrinks each coordinate of the
perturbation, so the result stays inside both sets.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["l2_norm", "direction", "project", "random_start"]


def _per_example(v, x):
    return jnp.reshape(v, (x.shape[0],) + (1,) * (x.ndim - 1))


def l2_norm(d):
    """``f32[b, ...] -> f32[b]``."""
    return jnp.sqrt(jnp.sum(jnp.square(d.reshape(d.shape[0], -1)), -1))


def direction(grad, norm: str):
    """The unit-norm steepest-ascent direction: ``sign(g)`` (L∞) or ``g / ||g||_2`` (L2)."""
    if norm == "linf":
        return jnp.sign(grad)
    return grad / _per_example(l2_norm(grad) + 1e-12, grad)


def project(x_adv, x, eps, norm: str, clip):
    """Nearest point of the ε-ball around ``x`` (L∞: per pixel; L2: rescale), then the box."""
    d = x_adv - x
    if norm == "linf":
        d = jnp.clip(d, -eps, eps)
    else:
        scale = jnp.minimum(1.0, eps / (l2_norm(d) + 1e-12))
        d = d * _per_example(scale, d)
    return jnp.clip(x + d, clip[0], clip[1])


def random_start(key, x, eps, norm: str, clip):
    """A uniform point of the ε-ball (L∞: the cube; L2: the ball) around ``x``, clipped to the box."""
    if norm == "linf":
        d = jax.random.uniform(key, x.shape, x.dtype, -1.0, 1.0) * eps
    else:
        k_dir, k_rad = jax.random.split(key)
        g = jax.random.normal(k_dir, x.shape, x.dtype)
        dim = x[0].size
        radius = eps * jax.random.uniform(k_rad, (x.shape[0],), x.dtype) ** (1.0 / dim)
        d = g / _per_example(l2_norm(g) + 1e-12, g) * _per_example(radius, x)
    return jnp.clip(x + d, clip[0], clip[1])
