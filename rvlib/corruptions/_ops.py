"""Image operations shared by the common-corruption families (static kernels, resampling).

Everything here takes ``x: f32[n, h, w, c]`` and Python (static) parameters:
kernels and interpolation matrices are built with NumPy at trace time, so under
``jit`` a corruption is a fixed sum of shifted slices or two small matmuls.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from rvlib.corruptions.paper import _cos_turns, _lowbias32

__all__ = ["Stream", "uniform", "normal", "gaussian_kernel1d", "gaussian_filter", "correlate2d",
           "zoom_matrix", "clipped_zoom", "motion_blur", "plasma_fractal", "to_gray",
           "rgb_only", "quantize_u8"]

# Scipy's boundary modes in NumPy's ``pad`` names (scipy "reflect" repeats the edge pixel).
_PAD = {"nearest": "edge", "reflect": "symmetric", "mirror": "reflect", "reflect101": "reflect"}


class Stream:
    """Random numbers for one corruption call: ONE threefry draw from ``key``, then a hash.

    Each threefry call inlines ~20 rounds that XLA:CPU compiles slowly (15 of
    them took 5 s), so a corruption draws two 32-bit seeds from its key once
    and every array after that is the counter hash of :mod:`.paper` salted
    with the array's ordinal (trace-time Python counter: same order, same
    numbers).  Not cryptographic; meant for image noise.
    """

    def __init__(self, key: jax.Array):
        self.seeds = jax.random.bits(key, (2,), jnp.uint32)
        self.count = 0

    def bits(self, size: int) -> jax.Array:
        self.count += 1
        salt = _lowbias32(self.seeds[0] + jnp.uint32((0x9E3779B9 * self.count) & 0xFFFFFFFF))
        index = lax.iota(jnp.uint32, size)
        return _lowbias32(_lowbias32(index ^ salt) + self.seeds[1])


def uniform(stream: Stream, shape: tuple[int, ...]) -> jax.Array:
    """f32[shape] uniform on the open interval (0, 1) (23 bits, never 0 or 1)."""
    b = stream.bits(math.prod(shape))
    return (((b >> 9).astype(jnp.float32) + 0.5) * (2.0 ** -23)).reshape(shape)


def normal(stream: Stream, shape: tuple[int, ...]) -> jax.Array:
    """f32[shape] standard normal by Box-Muller (one log and sqrt per pair), |z| <= 5.8."""
    size = math.prod(shape)
    half = (size + 1) // 2
    r = lax.optimization_barrier(jnp.sqrt(-2.0 * jnp.log(uniform(stream, (half,)))))
    turns = uniform(stream, (half,))
    row = lax.broadcasted_iota(jnp.float32, (2, half), 0)
    return (r * _cos_turns(turns - 0.25 * row)).reshape(-1)[:size].reshape(shape)


def quantize_u8(x: jax.Array) -> jax.Array:
    """Round to the 8-bit grid the reference passes its images through (PNG/PIL steps)."""
    return jnp.round(jnp.clip(x, 0.0, 1.0) * 255.0) / 255.0


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """scipy.ndimage's Gaussian taps: radius ``int(truncate * sigma + 0.5)``, summing to 1."""
    radius = int(truncate * float(sigma) + 0.5)
    if sigma <= 0 or radius == 0:
        return np.ones(1, np.float64)
    t = np.arange(-radius, radius + 1)
    k = np.exp(-0.5 * (t / float(sigma)) ** 2)
    return k / k.sum()


@functools.cache
def filter_matrix(size: int, taps: tuple[float, ...], mode: str) -> np.ndarray:
    """f64[size, size]: 1-D correlation with ``taps`` (odd length), boundary ``mode`` folded in.

    Row i holds the weights of the input pixels for output pixel i, after the
    scipy-style padding (the same shifted sum applied to the identity).
    """
    r = len(taps) // 2
    padded = np.pad(np.eye(size), ((r, r), (0, 0)), mode=_PAD[mode])
    return sum(t * padded[i:i + size] for i, t in enumerate(taps))


def gaussian_filter(x: jax.Array, sigma: float, *, mode: str = "nearest",
                    truncate: float = 4.0) -> jax.Array:
    """Separable Gaussian blur over axes 1 and 2 (skimage ``gaussian`` with ``channel_axis=-1``).

    x: f32[n, h, w, ...] -> same shape.  ``mode``: scipy's boundary name.  Two
    small banded matrices (boundary included): on CPU ~3x faster than padded
    shifted sums, which vectorise badly over a trailing axis of 3 channels.
    """
    taps = tuple(float(t) for t in gaussian_kernel1d(sigma, truncate))
    if len(taps) == 1:
        return x * taps[0]
    a = jnp.asarray(filter_matrix(x.shape[1], taps, mode), x.dtype)
    b = jnp.asarray(filter_matrix(x.shape[2], taps, mode), x.dtype)
    return jnp.einsum("ih,nhw...,jw->nij...", a, x, b, precision=lax.Precision.HIGHEST)


def correlate2d(x: jax.Array, kernel: np.ndarray, *, mode: str = "reflect101") -> jax.Array:
    """``cv2.filter2D``: correlation of axes 1, 2 with an odd 2-D kernel, centre anchor.

    Rows and columns of the kernel that are all zero are dropped first (exactly
    the same result, fewer taps).  x: f32[n, h, w, c] -> same shape.
    """
    kernel = np.asarray(kernel, np.float64)
    r = kernel.shape[0] // 2
    nz = np.nonzero(np.abs(kernel).sum(1))[0]
    keep = int(max(r - nz.min(), nz.max() - r)) if nz.size else 0
    kernel = kernel[r - keep:r + keep + 1, r - keep:r + keep + 1]
    n, h, w = x.shape[:3]
    xp = jnp.pad(x, [(0, 0), (keep, keep), (keep, keep)] + [(0, 0)] * (x.ndim - 3),
                 mode=_PAD[mode])
    return sum(float(kernel[i, j]) * xp[:, i:i + h, j:j + w]
               for i in range(kernel.shape[0]) for j in range(kernel.shape[1])
               if kernel[i, j] != 0)


def zoom_matrix(size: int, factor: float) -> np.ndarray:
    """f64[size, size]: the reference's ``clipped_zoom`` along one axis as a matrix.

    Crop the centre ``ceil(size / factor)`` pixels, zoom them by ``factor`` with
    ``scipy.ndimage.zoom(order=1)`` (output ``round(crop * factor)``, corners
    aligned), keep the centre ``size`` pixels.  Linear, so one matrix per axis.
    """
    crop = int(np.ceil(size / factor))
    top = (size - crop) // 2
    out = int(round(crop * factor))
    trim = (out - size) // 2
    m = np.zeros((size, size))
    for i in range(size):
        pos = (trim + i) * (crop - 1) / (out - 1) if out > 1 else 0.0
        lo = min(int(np.floor(pos)), crop - 1)
        frac = pos - lo
        m[i, top + lo] += 1 - frac
        if frac > 0:
            m[i, top + lo + 1] += frac
    return m


def clipped_zoom(x: jax.Array, factor: float) -> jax.Array:
    """x: f32[n, h, w, c] zoomed by ``factor`` about the centre, same size (``zoom_matrix``)."""
    a = jnp.asarray(zoom_matrix(x.shape[1], factor), x.dtype)
    b = jnp.asarray(zoom_matrix(x.shape[2], factor), x.dtype)
    return jnp.einsum("ih,nhwc,jw->nijc", a, x, b, precision=lax.Precision.HIGHEST)


def motion_kernel(radius: float, sigma: float) -> np.ndarray:
    """ImageMagick ``MotionBlurImage`` weights: a one-sided Gaussian, ``2 ceil(radius) + 1`` taps."""
    width = 2 * int(np.ceil(radius)) + 1
    i = np.arange(width)
    k = np.exp(-(i * i) / (2.0 * sigma * sigma))
    return k / k.sum()


def motion_blur(x: jax.Array, radius: float, sigma: float, angle_deg: jax.Array) -> jax.Array:
    """One-sided motion blur along ``angle_deg`` (per image), ImageMagick's kernel and offsets.

    Tap ``i`` reads the pixel at ``(row + round(i sin a), col + round(i cos a))``
    (ties rounded down, as ``ceil(v - 0.5)``), edge pixels repeated outside.
    x: f32[n, h, w, c], angle_deg: f32[n] -> f32[n, h, w, c].
    """
    k = motion_kernel(radius, sigma)
    width = len(k)
    n, h, w, c = x.shape
    rad = jnp.deg2rad(angle_deg)
    i = jnp.arange(width, dtype=jnp.float32)[:, None]
    dx = jnp.ceil(i * jnp.cos(rad)[None] - 0.5).astype(jnp.int32)  # [width, n]
    dy = jnp.ceil(i * jnp.sin(rad)[None] - 0.5).astype(jnp.int32)
    p = width - 1
    xp = jnp.pad(x, [(0, 0), (p, p), (p, p), (0, 0)], mode="edge")
    # One gather for all taps: [n, width, h, w, c], then the weighted sum over taps.
    rows = p + jnp.arange(h)[None, None, :, None] + dy.T[:, :, None, None]
    cols = p + jnp.arange(w)[None, None, None, :] + dx.T[:, :, None, None]
    taps = xp[jnp.arange(n)[:, None, None, None], rows, cols]
    return jnp.einsum("t,nthwc->nhwc", jnp.asarray(k, x.dtype), taps,
                      precision=lax.Precision.HIGHEST)


def plasma_fractal(stream: Stream, n: int, mapsize: int, decay: float) -> jax.Array:
    """f32[n, mapsize, mapsize] in [0, 1]: the reference's diamond-square height map, batched.

    Same steps as ``plasma_fractal`` of make_cifar_c.py (wibble starts at 100,
    each new point is the mean of its four parents plus ``wibble * U(-wibble,
    wibble)``, wrap-around neighbours, wibble divided by ``decay`` per level),
    normalised to [0, 1] per image.  ``mapsize`` must be a power of two.
    Built level by level by interleaving (no scatters): the reference's
    ``maparray[::step, ::step]`` is ``g`` at each level.
    """
    g = jnp.zeros((n, 1, 1), jnp.float32)   # the points filled so far, one level coarser
    wibble = 100.0
    # All the noise in one hash call (each call costs compile time), sliced per use.
    sides = [1 << i for i in range(int(np.log2(mapsize)))]
    noise = 2 * uniform(stream, (3 * n * sum(k * k for k in sides),)) - 1
    used = 0

    def noisy_mean(total):
        nonlocal used
        size = total.size
        u = lax.dynamic_slice_in_dim(noise, used, size).reshape(total.shape)
        used += size
        return total / 4 + wibble * wibble * u

    def interleave(a, b):  # a at even, b at odd positions of the last axis
        return jnp.stack([a, b], axis=-1).reshape(a.shape[:-1] + (2 * a.shape[-1],))

    while g.shape[1] < mapsize:
        # squares: centre of each cell = mean of its 4 corners (wrapping) + noise
        sq = g + jnp.roll(g, -1, axis=1)
        sq = noisy_mean(sq + jnp.roll(sq, -1, axis=2))
        # diamonds: edge midpoints from the 2 neighbouring centres and 2 corners
        even_row = noisy_mean(sq + jnp.roll(sq, 1, axis=1) + g + jnp.roll(g, -1, axis=2))
        odd_row = noisy_mean(sq + jnp.roll(sq, 1, axis=2) + g + jnp.roll(g, -1, axis=1))
        rows_even = interleave(g, even_row)          # [n, k, 2k]
        rows_odd = interleave(odd_row, sq)
        g = jnp.stack([rows_even, rows_odd], axis=2).reshape(n, 2 * g.shape[1], -1)
        # Materialise each level: fused, every level would recompute the previous
        # ones once per use (5 uses a level), and compilation took seconds.
        g = lax.optimization_barrier(g)
        wibble /= decay
    g = g - g.min(axis=(1, 2), keepdims=True)
    return g / jnp.maximum(g.max(axis=(1, 2), keepdims=True), 1e-12)


def mapsize_for(h: int, w: int, minimum: int = 32) -> int:
    """Smallest power of two >= max(h, w, minimum) (reference: 32 for CIFAR, 256 for ImageNet)."""
    return 1 << int(np.ceil(np.log2(max(h, w, minimum))))


_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as cv2.COLOR_RGB2GRAY


def to_gray(x: jax.Array) -> jax.Array:
    """f32[n, h, w, 1]: cv2's RGB -> gray for 3 channels; a 1-channel image as it is."""
    if x.shape[-1] == 1:
        return x
    return sum(wt * x[..., i:i + 1] for i, wt in enumerate(_LUMA))


def rgb_only(fn):
    """Run an RGB-only corruption on grey images: replicate to RGB, convert back with luma."""
    def wrapped(key, images, c):
        if images.shape[-1] == 3:
            return fn(key, images, c)
        return to_gray(fn(key, jnp.repeat(images, 3, axis=-1), c))
    wrapped.__wrapped__ = fn
    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped
