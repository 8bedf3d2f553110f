"""Noise family of the common-corruption suite: gaussian, shot, impulse, speckle.

``fn(key, images: f32[n, h, w, c] in [0, 1], c) -> images``, with ``c`` the
reference's constant for one severity (see :mod:`rvlib.corruptions.suite`).
Formulas follow make_cifar_c.py of hendrycks/robustness; the random numbers
are rvlib's (the same distributions, not the same draws).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from rvlib.corruptions._ops import Stream, normal, uniform

__all__ = ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"]


def gaussian_noise(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """``clip(x + c N(0, 1), 0, 1)``, independent per pixel and channel (c = sigma)."""
    return jnp.clip(images + c * normal(Stream(key), images.shape), 0.0, 1.0)


def shot_noise(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """Poisson (photon) noise: ``clip(Poisson(c x) / c, 0, 1)`` (c = photons at full white).

    Sampler (not ``jax.random.poisson``, whose threefry-in-a-loop took ~10 s
    to compile): exact inversion of the CDF for ``lam < 8`` (24 terms; the
    chance of a larger count is < 1e-5), and ``round(lam + sqrt(lam) z)``
    above (mean lam, variance lam + 1/12; the skew of 1/sqrt(lam) is lost).
    """
    stream = Stream(key)
    lam = images * c
    u = uniform(stream, images.shape)
    p = jnp.exp(-jnp.minimum(lam, 8.0))
    cdf, k = p, jnp.zeros_like(lam)
    for i in range(1, 25):   # k = number of CDF steps below u
        k = k + (u > cdf)
        p = p * jnp.minimum(lam, 8.0) / i
        cdf = cdf + p
    big = jnp.maximum(jnp.round(lam + jnp.sqrt(lam) * normal(stream, images.shape)), 0.0)
    counts = jnp.where(lam < 8.0, k, big)
    return jnp.clip(counts / c, 0.0, 1.0)


def impulse_noise(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """Salt and pepper per value: each pixel *channel* becomes 0 or 1 with probability ``c``.

    skimage's ``random_noise(mode="s&p", amount=c)`` on an RGB array: a
    Bernoulli(c) mask per element, half salt (1) and half pepper (0).
    """
    u = uniform(Stream(key), images.shape)
    return jnp.where(u < c, (u < 0.5 * c).astype(images.dtype), images)


def speckle_noise(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """Multiplicative noise ``clip(x + x c N(0, 1), 0, 1)``."""
    return jnp.clip(images + images * c * normal(Stream(key), images.shape), 0.0, 1.0)
