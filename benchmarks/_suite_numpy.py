"""NumPy/SciPy/Pillow transcriptions of make_cifar_c.py's corruptions, batched where NumPy allows.

Used by ``benchmarks/corruptions.py`` as the speed reference for rvlib's suite:
``NUMPY_SUITE[name](rng, x: f32[n, h, w, 3], c) -> f32[n, h, w, 3]`` with ``c``
the same per-severity constant rvlib uses.  Vectorised over the batch where
the reference's algorithm allows it; a per-image loop where it does not
(glass blur's sequential swaps, elastic's map_coordinates, Pillow's pixelate
and JPEG), as the reference itself does.  Frost is the procedural texture and
spatter's water the simplified mask, as in rvlib.
"""
from __future__ import annotations

import io

import numpy as np
import scipy.ndimage as ndi
from PIL import Image

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rvlib.corruptions.blur import disk_kernel  # noqa: E402  (the kernel, built once)



def _gauss(x, sigma, mode="nearest", truncate=4.0):
    return ndi.gaussian_filter(x, (0, sigma, sigma) + (0,) * (x.ndim - 3), mode=mode,
                               truncate=truncate)


def _clipped_zoom(x, z):  # x: [n, h, w, c]
    h = x.shape[1]
    ch = int(np.ceil(h / z))
    top = (h - ch) // 2
    out = ndi.zoom(x[:, top:top + ch, top:top + ch], (1, z, z, 1), order=1)
    trim = (out.shape[1] - h) // 2
    return out[:, trim:trim + h, trim:trim + h]


def _motion(x, radius, sigma, angles):
    width = 2 * int(np.ceil(radius)) + 1
    k = np.exp(-np.arange(width) ** 2 / (2 * sigma * sigma))
    k /= k.sum()
    n, h, w, _ = x.shape
    a = np.deg2rad(angles)
    out = np.zeros_like(x)
    b = np.arange(n)[:, None, None]
    for i in range(width):
        dx = np.ceil(i * np.cos(a) - 0.5).astype(int)[:, None, None]
        dy = np.ceil(i * np.sin(a) - 0.5).astype(int)[:, None, None]
        rows = np.clip(np.arange(h)[None, :, None] + dy, 0, h - 1)
        cols = np.clip(np.arange(w)[None, None, :] + dx, 0, w - 1)
        out += k[i] * x[b, rows, cols]
    return out


def _plasma(rng, n, m, decay):
    a = np.zeros((n, m, m))
    step, wibble = m, 100.0

    def wm(arr):
        return arr / 4 + wibble * rng.uniform(-wibble, wibble, arr.shape)

    while step >= 2:
        half = step // 2
        corner = a[:, 0:m:step, 0:m:step]
        sq = corner + np.roll(corner, -1, axis=1)
        sq += np.roll(sq, -1, axis=2)
        a[:, half:m:step, half:m:step] = wm(sq)
        dr, ul = a[:, half:m:step, half:m:step], a[:, 0:m:step, 0:m:step]
        a[:, 0:m:step, half:m:step] = wm(dr + np.roll(dr, 1, 1) + ul + np.roll(ul, -1, 2))
        a[:, half:m:step, 0:m:step] = wm(dr + np.roll(dr, 1, 2) + ul + np.roll(ul, -1, 1))
        step //= 2
        wibble /= decay
    a -= a.min(axis=(1, 2), keepdims=True)
    return a / a.max(axis=(1, 2), keepdims=True)


def _rgb2hsv(x):
    v = x.max(-1)
    delta = v - x.min(-1)
    s = np.where(v > 0, delta / np.where(v > 0, v, 1), 0)
    d = np.where(delta > 0, delta, 1)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    h = np.where(v == r, (g - b) / d, np.where(v == g, 2 + (b - r) / d, 4 + (r - g) / d))
    h = np.where(delta > 0, (h / 6) % 1, 0)
    return h, s, v


def _hsv2rgb(h, s, v):
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros(h.shape + (3,))
    for k, (r, g, b) in enumerate(table):
        m = i == k
        out[m] = np.stack([r[m], g[m], b[m]], -1)
    return out


def gaussian_noise(rng, x, c):
    return np.clip(x + rng.normal(size=x.shape, scale=c), 0, 1)


def shot_noise(rng, x, c):
    return np.clip(rng.poisson(x * c) / c, 0, 1)


def impulse_noise(rng, x, c):
    u = rng.random(x.shape)
    return np.where(u < c, (u < c / 2).astype(x.dtype), x)


def speckle_noise(rng, x, c):
    return np.clip(x + x * rng.normal(size=x.shape, scale=c), 0, 1)


def defocus_blur(rng, x, c):
    k = disk_kernel(*c)
    return np.clip(ndi.correlate(x, k[None, :, :, None], mode="mirror"), 0, 1)


def glass_blur(rng, x, c):
    sigma, delta, iters = c
    x = np.floor(_gauss(x, sigma) * 255) / 255
    n, h, w, _ = x.shape
    for img in x:  # the reference's sequential swaps, one image at a time
        for _ in range(iters):
            for r in range(h - delta, delta, -1):
                for q in range(w - delta, delta, -1):
                    dx, dy = rng.integers(-delta, delta, size=2)
                    img[r, q], img[r + dy, q + dx] = img[r + dy, q + dx].copy(), img[r, q].copy()
    return np.clip(_gauss(x, sigma), 0, 1)


def motion_blur(rng, x, c):
    out = _motion(x, c[0], c[1], rng.uniform(-45, 45, x.shape[0]))
    return np.clip(np.round(out * 255) / 255, 0, 1)


def zoom_blur(rng, x, c):
    out = x.copy()
    for z in c:
        out += _clipped_zoom(x, z)
    return np.clip(out / (len(c) + 1), 0, 1)


def gaussian_blur(rng, x, c):
    return np.clip(_gauss(x, c), 0, 1)


def snow(rng, x, c):
    n, h, w, _ = x.shape
    layer = _clipped_zoom(rng.normal(c[0], c[1], (n, h, w, 1)), c[2])
    layer[layer < c[3]] = 0
    layer = np.floor(np.clip(layer, 0, 1) * 255) / 255
    layer = np.round(_motion(layer, c[4], c[5], rng.uniform(-135, -45, n)) * 255) / 255
    gray = x @ np.array([0.299, 0.587, 0.114])
    x = c[6] * x + (1 - c[6]) * np.maximum(x, gray[..., None] * 1.5 + 0.5)
    return np.clip(x + layer + layer[:, ::-1, ::-1], 0, 1)


def frost_procedural(rng, x, c):
    n, h, w, _ = x.shape
    rough = _plasma(rng, n, 32, 1.4)[:, :h, :w]
    ridges = 1 - np.abs(2 * _plasma(rng, n, 32, 2.0)[:, :h, :w] - 1)
    t = np.clip(0.55 * rough + 0.6 * ridges ** 3, 0, 1)[..., None] * np.array([0.8, 0.9, 1.0])
    return np.clip(c[0] * x + c[1] * t, 0, 1)


def fog(rng, x, c):
    n, h, w, _ = x.shape
    top = x.max(axis=(1, 2, 3), keepdims=True)
    x = x + c[0] * _plasma(rng, n, 32, c[1])[:, :h, :w, None]
    return np.clip(x * top / (top + c[0]), 0, 1)


def brightness(rng, x, c):
    h, s, v = _rgb2hsv(x)
    return np.clip(_hsv2rgb(h, s, np.clip(v + c, 0, 1)), 0, 1)


def saturate(rng, x, c):
    h, s, v = _rgb2hsv(x)
    return np.clip(_hsv2rgb(h, np.clip(s * c[0] + c[1], 0, 1), v), 0, 1)


def contrast(rng, x, c):
    m = x.mean(axis=(1, 2), keepdims=True)
    return np.clip((x - m) * c + m, 0, 1)


def elastic_transform(rng, x, c):
    out = np.empty_like(x)
    n, h, w, ch = x.shape
    alpha, sigma, jitter = (v * c[3] * min(h, w) for v in c[:3])
    centre = np.float32([h, w]) // 2
    s = min(h, w) // 3
    src = np.float32([centre + s, [centre[0] + s, centre[1] - s], centre - s])
    a_inv = np.linalg.inv(np.concatenate([src, np.ones((3, 1))], 1))
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    for i, img in enumerate(x):  # the reference: one image at a time
        dst = src + rng.uniform(-jitter, jitter, src.shape)
        m = (a_inv @ dst).T
        full = np.linalg.inv(np.vstack([m, [0, 0, 1]]))
        sx = full[0, 0] * xx + full[0, 1] * yy + full[0, 2]
        sy = full[1, 0] * xx + full[1, 1] * yy + full[1, 2]
        warped = np.stack([ndi.map_coordinates(img[..., k], (sy, sx), order=1, mode="mirror")
                           for k in range(ch)], -1)
        dx = ndi.gaussian_filter(rng.uniform(-1, 1, (h, w)), sigma, mode="reflect", truncate=3)
        dy = ndi.gaussian_filter(rng.uniform(-1, 1, (h, w)), sigma, mode="reflect", truncate=3)
        out[i] = np.stack([ndi.map_coordinates(warped[..., k], (yy + alpha * dy, xx + alpha * dx),
                                               order=1, mode="reflect") for k in range(ch)], -1)
    return np.clip(out, 0, 1)


def pixelate(rng, x, c):
    out = []
    for img in np.round(x * 255).astype(np.uint8):  # Pillow, as the reference
        im = Image.fromarray(img)
        side = int(img.shape[0] * c)
        out.append(np.asarray(im.resize((side, side), Image.BOX).resize(img.shape[1::-1],
                                                                        Image.BOX)))
    return np.stack(out).astype(np.float32) / 255


def jpeg_compression(rng, x, c):
    out = []
    for img in np.round(x * 255).astype(np.uint8):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=c)
        out.append(np.asarray(Image.open(buf)))
    return np.stack(out).astype(np.float32) / 255


def spatter(rng, x, c):
    n, h, w, _ = x.shape
    liquid = _gauss(rng.normal(c[0], c[1], (n, h, w, 1)), c[2])
    liquid[liquid < c[3]] = 0
    if c[5] == 0:
        m = c[4] * liquid / np.maximum(liquid.max(axis=(1, 2, 3), keepdims=True), 1e-12)
        return np.clip(x + m * np.array([238, 238, 175]) / 255, 0, 1)
    m = _gauss((liquid > c[3]).astype(np.float32), c[4])
    m[m < 0.8] = 0
    return np.clip(x * (1 - m) + m * np.array([63, 42, 20]) / 255, 0, 1)


NUMPY_SUITE = {name: fn for name, fn in globals().items()
               if callable(fn) and not name.startswith("_") and fn.__module__ == __name__}
