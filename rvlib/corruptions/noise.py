"""Noise family of the common-corruption suite: gaussian, shot, impulse, speckle.

``fn(key, images: f32[n, h, w, c] in [0, 1], c) -> images``, with ``c`` the
reference's constant for one severity (see :mod:`rvlib.corruptions.suite`).
Formulas follow make_cifar_c.py of hendrycks/robustness; the random numbers
are rvlib's (the same distributions, not the same draws).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from rvlib.corruptions._ops import normal, uniform

__all__ = ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"]


def gaussian_noise(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """``clip(x + c N(0, 1), 0, 1)``, independent per pixel and channel (c = sigma)."""
    return jnp.clip(images + c * normal(key, images.shape), 0.0, 1.0)


def shot_noise(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """Poisson (photon) noise: ``clip(Poisson(c x) / c, 0, 1)`` (c = photons at full white).

    Drawn with ``jax.random.poisson`` (exact sampler, threefry keys).
    """
    counts = jax.random.poisson(key, images * c, images.shape)
    return jnp.clip(counts.astype(images.dtype) / c, 0.0, 1.0)


def impulse_noise(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """Salt and pepper per value: each pixel *channel* becomes 0 or 1 with probability ``c``.

    skimage's ``random_noise(mode="s&p", amount=c)`` on an RGB array: a
    Bernoulli(c) mask per element, half salt (1) and half pepper (0).
    """
    u = uniform(key, images.shape)
    return jnp.where(u < c, (u < 0.5 * c).astype(images.dtype), images)


def speckle_noise(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """Multiplicative noise ``clip(x + x c N(0, 1), 0, 1)``."""
    return jnp.clip(images + images * c * normal(key, images.shape), 0.0, 1.0)
