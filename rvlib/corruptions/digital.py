"""Digital family of the common-corruption suite: brightness, contrast, saturate, pixelate,
JPEG, elastic.

``fn(key, images: f32[n, h, w, c] in [0, 1], c) -> images`` with the
reference's per-severity constant ``c``.  Brightness and saturate edit HSV's V
and S as skimage does, written in closed form on RGB (exact: with hue fixed,
RGB is affine in V and S).  JPEG is a host-side Pillow round trip through
``jax.pure_callback``: it runs under ``jit`` and ``vmap`` but on the CPU, one
image at a time, like the reference.
"""
from __future__ import annotations

import functools
import io

import jax
import jax.numpy as jnp
import numpy as np

from rvlib.corruptions._ops import Stream, gaussian_filter, rgb_only, uniform

__all__ = ["brightness", "contrast", "saturate", "pixelate", "box_resize_matrix",
           "jpeg_compression", "jpeg_roundtrip_numpy", "elastic_transform"]


def brightness(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """HSV ``V <- clip(V + c, 0, 1)``, hue and saturation kept (skimage rgb2hsv/hsv2rgb).

    With ``V = max(r, g, b)`` every channel scales by ``V' / V``; black (V = 0,
    S = 0) becomes grey ``V'``.  Grey images work as they are.  Deterministic.
    """
    del key
    v = images.max(axis=-1, keepdims=True)
    v_new = jnp.clip(v + c, 0.0, 1.0)
    out = jnp.where(v > 0, images * v_new / jnp.where(v > 0, v, 1.0), v_new)
    return jnp.clip(out, 0.0, 1.0)


def contrast(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """``clip((x - mean) c + mean, 0, 1)`` with the mean per image and channel.  Deterministic."""
    del key
    means = images.mean(axis=(1, 2), keepdims=True)
    return jnp.clip((images - means) * c + means, 0.0, 1.0)


@rgb_only
def saturate(key: jax.Array, images: jax.Array, c: tuple) -> jax.Array:
    """HSV ``S <- clip(S c0 + c1, 0, 1)``, hue and value kept (skimage rgb2hsv/hsv2rgb).

    With ``S = (V - min) / V``, ``rgb' = V - (V - rgb) S' / S``; a grey pixel
    (S = 0, hue 0 in skimage) becomes ``(V, V (1 - S'), V (1 - S'))``.
    Grey images go through RGB and back with luma.  Deterministic.
    """
    del key
    v = images.max(axis=-1, keepdims=True)
    lo = images.min(axis=-1, keepdims=True)
    s = jnp.where(v > 0, (v - lo) / jnp.where(v > 0, v, 1.0), 0.0)
    s_new = jnp.clip(s * c[0] + c[1], 0.0, 1.0)
    coloured = v - (v - images) * s_new / jnp.where(s > 0, s, 1.0)
    grey = v * jnp.concatenate([jnp.ones_like(v), 1 - s_new, 1 - s_new], axis=-1)
    return jnp.clip(jnp.where(s > 0, coloured, grey), 0.0, 1.0)


@functools.cache
def box_resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """f64[size_out, size_in]: Pillow's ``Image.BOX`` resampling along one axis.

    Pillow's coefficients: output pixel ``o`` has centre ``(o + 0.5) * scale``
    in input pixels (``scale = size_in / size_out``); input pixels whose
    centres lie in its box of half-width ``0.5 * max(scale, 1)`` get weight
    1, then the weights are normalised.
    """
    scale = size_in / size_out
    fscale = max(scale, 1.0)
    support = 0.5 * fscale
    m = np.zeros((size_out, size_in))
    for o in range(size_out):
        centre = (o + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), size_in)
        for i in range(lo, hi):
            t = (i - centre + 0.5) / fscale
            m[o, i] = 1.0 if -0.5 < t <= 0.5 else 0.0
        m[o] /= m[o].sum()
    return m


def pixelate(key: jax.Array, images: jax.Array, c: float) -> jax.Array:
    """Pillow BOX resize to ``int(side c)`` and back (per axis), as two matrices.

    Pillow rounds its intermediate and output to 8 bits; rvlib stays in float
    (agrees with Pillow to about one grey level).  Deterministic.
    """
    del key
    _, h, w, _ = images.shape
    mats = []
    for side in (h, w):
        small = max(int(side * c), 1)
        mats.append(jnp.asarray(box_resize_matrix(small, side) @ box_resize_matrix(side, small),
                                images.dtype))
    out = jnp.einsum("ih,nhwc,jw->nijc", mats[0], images, mats[1],
                     precision=jax.lax.Precision.HIGHEST)
    return jnp.clip(out, 0.0, 1.0)


def jpeg_roundtrip_numpy(images: np.ndarray, quality: int) -> np.ndarray:
    """f32[..., h, w, c] -> the same after 8-bit rounding and a Pillow JPEG save/load."""
    from PIL import Image

    images = np.asarray(images)
    flat = images.reshape((-1,) + images.shape[-3:])
    u8 = np.clip(np.round(flat * 255.0), 0, 255).astype(np.uint8)
    out = np.empty(flat.shape, np.float32)
    for i, img in enumerate(u8):
        buf = io.BytesIO()
        Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(
            buf, "JPEG", quality=int(quality))
        dec = np.asarray(Image.open(buf), np.float32) / 255.0
        out[i] = dec.reshape(img.shape)
    return out.reshape(images.shape)


def jpeg_compression(key: jax.Array, images: jax.Array, c: int) -> jax.Array:
    """Pillow JPEG at quality ``c`` (default 4:2:0 chroma subsampling for RGB), host side.

    Not a JAX kernel: ``jax.pure_callback`` to :func:`jpeg_roundtrip_numpy`.
    Deterministic.
    """
    del key
    shape = jax.ShapeDtypeStruct(images.shape, jnp.float32)
    out = jax.pure_callback(functools.partial(jpeg_roundtrip_numpy, quality=int(c)), shape,
                            images, vmap_method="expand_dims")
    return out.astype(images.dtype)


def _reflect_index(i: jax.Array, n: int, mode: str) -> jax.Array:
    if mode == "reflect101":      # cv2 BORDER_REFLECT_101: ... 2 1 | 0 1 2 ... n-1 | n-2 ...
        i = jnp.abs(i)
        i = jnp.where(i > n - 1, 2 * (n - 1) - i, i)
    else:                         # scipy "reflect": ... 1 0 | 0 1 ... n-1 | n-1 n-2 ...
        i = jnp.where(i < 0, -i - 1, i)
        i = jnp.where(i > n - 1, 2 * n - 1 - i, i)
    return jnp.clip(i, 0, n - 1)


def _bilinear(img: jax.Array, rows: jax.Array, cols: jax.Array, mode: str) -> jax.Array:
    """img: f32[h, w, c] sampled at (rows, cols): f32[h, w] -> f32[h, w, c]."""
    h, w = img.shape[:2]
    r0, c0 = jnp.floor(rows), jnp.floor(cols)
    fr, fc = (rows - r0)[..., None], (cols - c0)[..., None]
    r0, c0 = r0.astype(jnp.int32), c0.astype(jnp.int32)
    ra, rb = _reflect_index(r0, h, mode), _reflect_index(r0 + 1, h, mode)
    ca, cb = _reflect_index(c0, w, mode), _reflect_index(c0 + 1, w, mode)
    return ((1 - fr) * ((1 - fc) * img[ra, ca] + fc * img[ra, cb])
            + fr * ((1 - fc) * img[rb, ca] + fc * img[rb, cb]))


def elastic_transform(key: jax.Array, images: jax.Array, c: tuple) -> jax.Array:
    """Random affine jitter then a smooth random displacement field, bilinear sampling.

    c = (a, b, d, scale): the reference's ``(IMSIZE * a, IMSIZE * b, IMSIZE * d)``
    with ``IMSIZE = scale * min(h, w)`` (scale 1 for CIFAR: its exact pixels on
    32 x 32, proportionally weaker or stronger on other sizes), giving alpha,
    sigma and the affine jitter in pixels.  Affine: the three points
    ``centre + s, (centre0 + s, centre1 - s), centre - s`` (``s = min(h, w) // 3``)
    move by U(-jitter, jitter) each (cv2.getAffineTransform + warpAffine,
    border reflect-101).  Displacement: U(-1, 1) per pixel, Gaussian-blurred
    (sigma, truncate 3, scipy "reflect"), times alpha, one field per axis
    (``map_coordinates(order=1, mode="reflect")``).  One draw per image.
    """
    n, h, w, _ = images.shape
    alpha, sigma, jitter = (v * c[3] * min(h, w) for v in c[:3])
    stream = Stream(key)
    centre = np.float32([h, w]) // 2
    s = min(h, w) // 3
    src = np.float64([centre + s, [centre[0] + s, centre[1] - s], centre - s])
    dst = jnp.asarray(src, jnp.float32)[None] + jitter * (2 * uniform(stream, (n, 3, 2)) - 1)
    # cv2.getAffineTransform: M (2 x 3) with M [p, 1] = q for the 3 point pairs;
    # src is fixed, so M^T = A^-1 dst with A = [src, 1] inverted once in NumPy.
    a_inv = jnp.asarray(np.linalg.inv(np.concatenate([src, np.ones((3, 1))], 1)), jnp.float32)
    m = jnp.einsum("ij,njk->nki", a_inv, dst)                              # [n, 2, 3]
    # warpAffine samples the source at M^-1 (x, y): invert [R | t] in closed form.
    det = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
    r_inv = jnp.stack([jnp.stack([m[:, 1, 1], -m[:, 0, 1]], -1),
                       jnp.stack([-m[:, 1, 0], m[:, 0, 0]], -1)], 1) / det[:, None, None]
    inv = jnp.concatenate([r_inv, -jnp.einsum("nij,nj->ni", r_inv, m[:, :, 2])[..., None]], 2)
    yy, xx = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32),
                          indexing="ij")
    src_x = inv[:, 0, 0, None, None] * xx + inv[:, 0, 1, None, None] * yy + inv[:, 0, 2, None, None]
    src_y = inv[:, 1, 0, None, None] * xx + inv[:, 1, 1, None, None] * yy + inv[:, 1, 2, None, None]
    warped = jax.vmap(lambda im, r, q: _bilinear(im, r, q, "reflect101"))(images, src_y, src_x)
    if alpha == 0:
        return jnp.clip(warped, 0.0, 1.0)
    field = lambda: alpha * gaussian_filter(2 * uniform(stream, (n, h, w)) - 1, sigma,  # noqa: E731
                                            mode="reflect", truncate=3.0)
    dx = field()
    dy = field()
    out = jax.vmap(lambda im, r, q: _bilinear(im, r, q, "reflect"))(warped, yy + dy, xx + dx)
    return jnp.clip(out, 0.0, 1.0)

