"""Blur family of the common-corruption suite: defocus, glass, motion, zoom, gaussian.

``fn(key, images: f32[n, h, w, c] in [0, 1], c) -> images``; ``c`` is the
reference's per-severity constant (a tuple for most).  Kernels are built with
NumPy from ``c`` at trace time, so ``c`` is static under ``jit``.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from rvlib.corruptions._ops import (Stream, clipped_zoom, correlate2d, gaussian_filter,
                                    motion_blur, uniform)

__all__ = ["disk_kernel", "defocus_blur", "glass_blur", "motion_blur_corruption", "zoom_blur",
           "gaussian_blur"]


@functools.cache
def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """The reference's ``disk``: an aliased disk (sum 1) smoothed by cv2's 3x3 (5x5) Gaussian.

    The grid is -8..8 for ``radius <= 8``, else -radius..radius; cv2's
    ``GaussianBlur`` is separable with taps ``exp(-t^2 / (2 alias_blur^2))``
    normalised, border reflect-101.
    """
    if radius <= 8:
        span, ksize = np.arange(-8, 9), 3
    else:
        span, ksize = np.arange(-radius, radius + 1), 5
    xx, yy = np.meshgrid(span, span)
    disk = ((xx ** 2 + yy ** 2) <= radius ** 2).astype(np.float32)
    disk /= disk.sum()
    t = np.arange(ksize) - ksize // 2
    g = np.exp(-(t ** 2) / (2.0 * alias_blur ** 2))
    g = (g / g.sum()).astype(np.float32)
    padded = np.pad(disk, ksize // 2, mode="reflect")
    rows = sum(g[i] * padded[:, i:i + disk.shape[1]] for i in range(ksize))
    return sum(g[i] * rows[i:i + disk.shape[0]] for i in range(ksize)).astype(np.float32)


def defocus_blur(key: jax.Array, images: jax.Array, c: tuple) -> jax.Array:
    """Correlate every channel with ``disk_kernel(*c)`` (cv2.filter2D, reflect-101), clip.

    Deterministic (``key`` unused).
    """
    del key
    return jnp.clip(correlate2d(images, disk_kernel(*c)), 0.0, 1.0)


def gaussian_blur(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """skimage ``gaussian(x, sigma=c)``: scipy taps (truncate 4), edge pixels repeated.

    Deterministic (``key`` unused).
    """
    del key
    return jnp.clip(gaussian_filter(images, c, mode="nearest"), 0.0, 1.0)


def zoom_blur(key: jax.Array, images: jax.Array, c: tuple) -> jax.Array:
    """Mean of the image and its centre zooms by every factor in ``c`` (clipped_zoom, order 1).

    Deterministic (``key`` unused).
    """
    del key
    out = images
    for factor in c:
        out = out + clipped_zoom(images, float(factor))
    return jnp.clip(out / (len(c) + 1), 0.0, 1.0)


def glass_blur(key: jax.Array, images: jax.Array, c: tuple) -> jax.Array:
    """Gaussian blur, local pixel shuffling, Gaussian blur again (c = sigma, max_delta, iterations).

    As the reference: blur, truncate to 8 bits, then ``iterations`` sweeps
    from the bottom-right corner to ``max_delta + 1`` in row-major reverse
    order, each pixel swapped with the one at an offset drawn from
    ``{-max_delta, ..., max_delta - 1}`` in each axis (NumPy's ``randint``
    excludes the upper end), one sequential ``lax.scan`` per sweep (every image
    shuffled at once), then blur again.  The swaps are sequential by
    definition: a pixel can move several times.
    """
    sigma, delta, iterations = c
    n, h, w, ch = images.shape
    x = jnp.floor(gaussian_filter(images, sigma) * 255.0) / 255.0
    rows = np.arange(h - delta, delta, -1)
    cols = np.arange(w - delta, delta, -1)
    pos = jnp.asarray((rows[:, None] * w + cols[None, :]).reshape(-1), jnp.int32)
    steps = pos.shape[0]
    flat = x.reshape(n, h * w, ch)
    batch = jnp.arange(n)
    stream = Stream(key)
    for _ in range(iterations):
        off = jnp.floor(uniform(stream, (steps, n, 2)) * (2 * delta)).astype(jnp.int32) - delta
        target = pos[:, None] + off[..., 0] * w + off[..., 1]  # [steps, n]: dy * w + dx

        def swap(img, step):
            p, q = step
            a, b = img[:, p], img[batch, q]
            img = img.at[:, p].set(b)
            return img.at[batch, q].set(a), None

        flat, _ = lax.scan(swap, flat, (pos, target))
    return jnp.clip(gaussian_filter(flat.reshape(n, h, w, ch), sigma), 0.0, 1.0)


def motion_blur_corruption(key: jax.Array, images: jax.Array, c: tuple) -> jax.Array:
    """ImageMagick motion blur (c = radius, sigma) at an angle ~ U(-45, 45) degrees per image.

    The reference writes the image to PNG and calls ``MagickMotionBlurImage``;
    here its kernel is transcribed (:func:`rvlib.corruptions._ops.motion_blur`)
    and the result rounded to 8 bits as the PNG round trip does.
    """
    radius, sigma = c
    angle = -45.0 + 90.0 * uniform(Stream(key), (images.shape[0],))
    out = motion_blur(images, radius, sigma, angle)
    return jnp.clip(jnp.round(out * 255.0) / 255.0, 0.0, 1.0)
