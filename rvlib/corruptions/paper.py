"""The paper's four image corruptions: gaussian, salt_pepper, fog, occlusion.

Each corruption is a pure function ``fn(key, images, severity) -> images`` with

* ``images: f32[n, h, w, c]`` with values in [0, 1] (returned in [0, 1], same
  shape and dtype),
* ``severity``: a Python float or a traced scalar in [0, 1], so the functions
  can be jitted once and ``vmap``-ed over severities or keys,
* severity 0 returning the input bit for bit (also for a traced 0.0).

The core functions do no checking so they stay cheap inside ``jit``; the
eager entry points :func:`corrupt`, :func:`corrupt_grid` and
:func:`get_corruption` validate their arguments first.

Random numbers: ``key`` is an ordinary JAX key, but threefry is too slow on a
CPU to draw one number per pixel for 100k images/s (it alone caps ``gaussian``
near 20k images/s on two cores).  So each call draws two 32-bit seeds from
``key`` with ``jax.random.bits`` and expands them with a counter-based integer
hash (two rounds of Wellons' ``lowbias32`` over the element's flat index),
which XLA fuses into the elementwise corruption.  Output is still a
deterministic function of ``key``; the stream is not cryptographic, and is
meant for image noise, not for general-purpose sampling.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax

from rvlib import validate

Corruption = Callable[[jax.Array, jax.Array, "float | jax.Array"], jax.Array]

_HAZE_LOW, _HAZE_HIGH = 0.6, 1.0      # brightness range of the fog layer
_HAZE_RES = 8                         # haze is built at 8x8, then upsampled
_HAZE_OCTAVES = ((2, 1.0), (4, 0.5), (8, 0.25))  # (grid side, amplitude)


# --- random numbers -------------------------------------------------------

def _lowbias32(x: jax.Array) -> jax.Array:
    # Wellons' hash-prospector finaliser: a bijection on uint32 with strong avalanche.
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _bits(key: jax.Array, size: int, group: int = 1) -> jax.Array:
    """u32[size] random bits; element i is a hash of (i // group, two seeds from key).

    ``group > 1`` gives runs of ``group`` equal values, e.g. one draw per pixel
    shared by its ``c`` channels.  Callers work on flat arrays on purpose: a
    1-D elementwise fusion vectorises on CPU, while broadcasting a per-pixel
    draw across a trailing axis of 3 channels ran several times slower.
    The index wraps after 2**32 elements per call, far beyond a batch.
    """
    seeds = jax.random.bits(key, (2,), jnp.uint32)
    index = lax.iota(jnp.uint32, size)
    if group > 1:
        index = index // jnp.uint32(group)
    return _lowbias32(_lowbias32(index ^ seeds[0]) + seeds[1])


def _uniform(key: jax.Array, size: int, group: int = 1) -> jax.Array:
    """f32[size] uniform on the open interval (0, 1), on a grid of step 2**-23."""
    # 23 bits + 1/2 keeps u and 1 - u exactly representable, so never 0 or 1.
    return ((_bits(key, size, group) >> 9).astype(jnp.float32) + 0.5) * (2.0 ** -23)


def _cos_turns(f: jax.Array) -> jax.Array:
    """cos(2 pi f) to ~1e-6 by a polynomial (jnp.cos on CPU cost more than the rest)."""
    a = jnp.abs(f - jnp.round(f))             # [0, 0.5] by symmetry and period
    flip = a > 0.25                           # cos(2 pi a) = -cos(2 pi (0.5 - a))
    a = jnp.where(flip, 0.5 - a, a)
    y = (2 * math.pi * a) ** 2                # <= (pi / 2)^2: Taylor to x^12 is enough
    c = 1 + y * (-1 / 2 + y * (1 / 24 + y * (-1 / 720 + y * (
        1 / 40320 + y * (-1 / 3628800 + y * (1 / 479001600))))))
    return jnp.where(flip, -c, c)


def _normal(key: jax.Array, size: int) -> jax.Array:
    """f32[size] standard normal by Box-Muller; |z| <= 5.8 by construction.

    One log and one sqrt per *pair* of outputs and a polynomial cosine: on
    CPU ``gaussian`` ran ~3x faster than with the inverse CDF (``erf_inv``).
    """
    half = (size + 1) // 2
    key_r, key_t = jax.random.split(key)
    # Materialise the radius: fused into the consumer, XLA would redo the log
    # for both outputs of a pair.
    r = lax.optimization_barrier(jnp.sqrt(-2.0 * jnp.log(_uniform(key_r, half))))
    turns = _uniform(key_t, half)
    # Row 0 holds r cos(theta), row 1 r sin(theta) = r cos(theta - pi/2); the
    # (2, half) layout keeps the broadcast of r on the outer, vectorisable axis.
    row = lax.broadcasted_iota(jnp.float32, (2, half), 0)
    return (r * _cos_turns(turns - 0.25 * row)).reshape(-1)[:size]


def _keep_at_zero(severity: jax.Array, images: jax.Array, out: jax.Array) -> jax.Array:
    # A select, not arithmetic, so severity 0 is exact even for inputs outside [0, 1].
    return jnp.where(severity == 0, images, out)


def _as_severity(severity, images: jax.Array) -> jax.Array:
    return jnp.asarray(severity, dtype=images.dtype)


# --- the four corruptions -------------------------------------------------

def gaussian(key: jax.Array, images: jax.Array, severity) -> jax.Array:
    """Additive Gaussian noise: ``clip(x + severity * N(0, 1), 0, 1)``.

    ``severity`` is the noise standard deviation sigma in image units, as in the
    paper (sigma = 0.1 ... 0.7).  Noise is drawn independently per pixel and
    channel.

    images: f32[n, h, w, c] in [0, 1] -> f32[n, h, w, c] in [0, 1]
    """
    s = _as_severity(severity, images)
    x = images.reshape(-1)
    z = _normal(key, x.size).astype(images.dtype)
    return _keep_at_zero(s, x, jnp.clip(x + s * z, 0.0, 1.0)).reshape(images.shape)


def salt_pepper(key: jax.Array, images: jax.Array, severity) -> jax.Array:
    """Salt-and-pepper noise: each pixel is replaced with probability ``severity``.

    A replaced pixel location (all channels together) becomes 0 (pepper) or 1
    (salt) with equal chance, so on average a fraction ``severity / 2`` of the
    pixels turns black and ``severity / 2`` turns white.

    images: f32[n, h, w, c] in [0, 1] -> f32[n, h, w, c] in [0, 1]
    """
    s = _as_severity(severity, images)
    x = images.reshape(-1)
    u = _uniform(key, x.size, group=images.shape[-1])  # one draw per pixel location
    out = jnp.where(u < s, (u >= 0.5 * s).astype(images.dtype), x)
    return _keep_at_zero(s, x, out).reshape(images.shape)


def _haze(key: jax.Array, n: int, h: int, w: int) -> jax.Array:
    """f32[n, h, w, 1]: smooth grey haze per image spanning [0.6, 1] exactly."""
    keys = jax.random.split(key, len(_HAZE_OCTAVES))
    # Plasma-like: coarse grids with amplitude halving as the frequency doubles,
    # summed at low resolution so the expensive part never touches h x w.
    field = sum(
        amp * jax.image.resize(_uniform(k, n * side * side).reshape(n, side, side, 1),
                               (n, _HAZE_RES, _HAZE_RES, 1), "linear")
        for k, (side, amp) in zip(keys, _HAZE_OCTAVES))
    lo = field.min(axis=(1, 2), keepdims=True)
    hi = field.max(axis=(1, 2), keepdims=True)
    field = (field - lo) / jnp.maximum(hi - lo, 1e-6)
    field = _HAZE_LOW + (_HAZE_HIGH - _HAZE_LOW) * field
    # Linear interpolation stays inside the grid's [min, max], so in [0.6, 1].
    return jax.image.resize(field, (n, h, w, 1), "linear")


def fog(key: jax.Array, images: jax.Array, severity) -> jax.Array:
    """Fog: blend toward a bright, smooth haze layer, ``x (1 - s) + s haze``.

    ``severity`` s is the blend weight: 0 is the clean image, 1 is pure haze.
    The haze is a grey low-frequency random field per image (three octaves of
    2x2, 4x4 and 8x8 random grids, upsampled and rescaled to span [0.6, 1]),
    shared by all channels, so fog lifts dark pixels and lowers contrast.

    images: f32[n, h, w, c] in [0, 1] -> f32[n, h, w, c] in [0, 1]
    """
    s = _as_severity(severity, images)
    n, h, w, _ = images.shape
    haze = _haze(key, n, h, w).astype(images.dtype)
    out = jnp.clip(images * (1 - s) + s * haze, 0.0, 1.0)
    return _keep_at_zero(s, images, out)


def occlusion(key: jax.Array, images: jax.Array, severity) -> jax.Array:
    """Occlusion: one black square per image covering a fraction ``severity`` of it.

    The square's side is ``round(sqrt(severity * h * w))``, capped at
    ``min(h, w)`` (on non-square images a square cannot cover more than
    ``min(h, w)**2 / (h * w)`` of the area).  Its position is uniform per image
    among the placements fully inside the image.

    images: f32[n, h, w, c] in [0, 1] -> f32[n, h, w, c] in [0, 1]
    """
    s = _as_severity(severity, images)
    n, h, w, _ = images.shape
    side = jnp.round(jnp.sqrt(s.astype(jnp.float32) * (h * w))).astype(jnp.int32)
    side = jnp.clip(side, 0, min(h, w))
    u = _uniform(key, 2 * n).reshape(n, 2)
    top = jnp.minimum((u[:, 0] * (h - side + 1)).astype(jnp.int32), h - side)
    left = jnp.minimum((u[:, 1] * (w - side + 1)).astype(jnp.int32), w - side)
    top, left = top[:, None, None, None], left[:, None, None, None]
    rows = lax.broadcasted_iota(jnp.int32, (1, h, 1, 1), 1)
    cols = lax.broadcasted_iota(jnp.int32, (1, 1, w, 1), 2)
    inside = ((rows >= top) & (rows < top + side)
              & (cols >= left) & (cols < left + side))
    return _keep_at_zero(s, images, jnp.where(inside, jnp.zeros_like(images), images))


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian": gaussian,
    "salt_pepper": salt_pepper,
    "fog": fog,
    "occlusion": occlusion,
}


# --- validated entry points -----------------------------------------------

def get_corruption(name: str) -> Corruption:
    """The corruption function called ``name`` (one of ``CORRUPTIONS``)."""
    return CORRUPTIONS[validate.choice("noise", name, CORRUPTIONS)]


def _check_images(images) -> None:
    validate.image_shape("images", images)
    dtype = getattr(images, "dtype", None)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"images.dtype={str(dtype)!r} is not allowed: "
                         "must be a floating dtype with values in [0, 1]")


@functools.cache
def _jitted(name: str):
    # Severity is a traced argument: one compile per (name, shape), not per severity.
    return jax.jit(CORRUPTIONS[name])


@functools.cache
def _jitted_grid(name: str):
    return jax.jit(jax.vmap(CORRUPTIONS[name], in_axes=(0, None, 0)))


def corrupt(name: str, key: jax.Array, images: jax.Array, severity: float) -> jax.Array:
    """Validate the arguments, then apply corruption ``name`` at ``severity``.

    images: f32[n, h, w, c] in [0, 1] -> f32[n, h, w, c] in [0, 1]
    """
    fn = _jitted(validate.choice("noise", name, CORRUPTIONS))
    severity = validate.probability("severity", severity)
    _check_images(images)
    return fn(key, images, jnp.float32(severity))


def corrupt_grid(key: jax.Array, images: jax.Array, names: Sequence[str],
                 severities: Sequence[float]) -> dict[str, jax.Array]:
    """Every corruption in ``names`` at every severity, one jitted vmap per name.

    Each (name, severity) pair gets its own key, split explicitly from ``key``.

    images: f32[n, h, w, c] -> {name: f32[len(severities), n, h, w, c]}
    """
    names = [names] if isinstance(names, str) else list(names)
    for i, name in enumerate(names):
        validate.choice(f"names[{i}]", name, CORRUPTIONS)
    if not names:
        raise ValueError("names=[] is not allowed: must name at least one corruption")
    sev = jnp.asarray(validate.severities("severities", severities), jnp.float32)
    _check_images(images)
    out = {}
    for name, name_key in zip(names, jax.random.split(key, len(names))):
        sev_keys = jax.random.split(name_key, sev.shape[0])
        out[name] = _jitted_grid(name)(sev_keys, images, sev)
    return out
