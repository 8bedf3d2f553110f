"""rvlib.corruptions' common-corruption suite against independent transcriptions of the reference.

The references below are written from ``make_cifar_c.py`` (hendrycks/robustness)
with NumPy, SciPy, Pillow and the standard library's ``colorsys``, never with
rvlib.  Deterministic corruptions: pixel agreement.  Random ones: moments and
invariants.  Severity monotonicity is tested where the reference's constants
make the corruption monotone (listed in ``MONOTONE``); it is NOT monotone by
construction for saturate (desaturates at 1-2, saturates at 3-5), glass blur
(severity 4 has a smaller sigma than 3, with two sweeps), elastic (CIFAR's
severity 1 has the largest affine jitter and no elastic field), spatter
(water at 1-3, mud at 4-5) and snow (its zoom and threshold go up and down).
"""
from __future__ import annotations

import colorsys
import io
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage as ndi
from PIL import Image

from rvlib import corruptions as C
from rvlib.corruptions import _ops, suite

KEY = jax.random.key(0)
RNG = np.random.default_rng(0)
# 8-bit values, as the reference's PIL images: exact inputs for Pillow too.
U8 = RNG.integers(0, 256, size=(2, 32, 32, 3)).astype(np.uint8)
X = U8.astype(np.float32) / 255.0


def cifar(name: str, severity: int):
    return C.SUITE[name].cifar10[severity - 1]


def run(name: str, x, severity: int, key=KEY):
    """The jitted core function (cached per name and severity: few compiles, shared by tests)."""
    return np.asarray(suite.jitted(name, "cifar10", severity)(key, jnp.asarray(x)))


# --- reference transcriptions ---------------------------------------------------

def ref_contrast(x, c):
    means = x.mean(axis=(1, 2), keepdims=True)
    return np.clip((x - means) * c + means, 0, 1)


def _hsv_edit(x, edit):
    out = np.empty_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape[:3]):
        h, s, v = colorsys.rgb_to_hsv(*map(float, x[idx]))
        out[idx] = colorsys.hsv_to_rgb(*edit(h, s, v))
    return np.clip(out, 0, 1)


def ref_brightness(x, c):
    return _hsv_edit(x, lambda h, s, v: (h, s, min(max(v + c, 0), 1)))


def ref_saturate(x, c):
    return _hsv_edit(x, lambda h, s, v: (h, min(max(s * c[0] + c[1], 0), 1), v))


def ref_disk(radius, alias_blur):
    """make_cifar_c.disk: aliased disk, then cv2.GaussianBlur (3x3, reflect-101 border)."""
    side = np.arange(-8, 9) if radius <= 8 else np.arange(-radius, radius + 1)
    ksize = 3 if radius <= 8 else 5
    xx, yy = np.meshgrid(side, side)
    d = ((xx ** 2 + yy ** 2) <= radius ** 2).astype(np.float64)
    d /= d.sum()
    g = np.array([math.exp(-((i - ksize // 2) ** 2) / (2 * alias_blur ** 2)) for i in range(ksize)])
    g /= g.sum()
    out = np.zeros_like(d)
    p = np.pad(d, ksize // 2, mode="reflect")  # NumPy "reflect" = cv2 BORDER_REFLECT_101
    for i in range(ksize):
        for j in range(ksize):
            out += g[i] * g[j] * p[i:i + d.shape[0], j:j + d.shape[1]]
    return out


def ref_defocus(x, c):
    k = ref_disk(*c)
    r = k.shape[0] // 2
    out = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for ch in range(x.shape[3]):  # cv2.filter2D per channel, border reflect-101
            p = np.pad(x[n, :, :, ch].astype(np.float64), r, mode="reflect")
            for i in range(k.shape[0]):
                for j in range(k.shape[1]):
                    out[n, :, :, ch] += k[i, j] * p[i:i + x.shape[1], j:j + x.shape[2]]
    return np.clip(out, 0, 1)


def ref_clipped_zoom(img, z):
    """make_cifar_c.clipped_zoom with scipy (square image h x h x c)."""
    h = img.shape[0]
    ch = int(np.ceil(h / z))
    top = (h - ch) // 2
    img = ndi.zoom(img[top:top + ch, top:top + ch], (z, z, 1), order=1)
    trim = (img.shape[0] - h) // 2
    return img[trim:trim + h, trim:trim + h]


def ref_zoom_blur(x, zooms):
    out = []
    for img in x.astype(np.float64):
        acc = np.zeros_like(img)
        for z in zooms:
            acc += ref_clipped_zoom(img, z)
        out.append((img + acc) / (len(zooms) + 1))
    return np.clip(np.stack(out), 0, 1)


def ref_gaussian_blur(x, sigma):  # skimage.filters.gaussian(multichannel) = scipy, mode nearest
    return np.clip(ndi.gaussian_filter(x.astype(np.float64), (0, sigma, sigma, 0),
                                       mode="nearest", truncate=4.0), 0, 1)


def ref_pillow_pixelate(u8, c):
    out = []
    for img in u8:
        im = Image.fromarray(img)
        side = int(32 * c)
        out.append(np.asarray(im.resize((side, side), Image.BOX).resize((32, 32), Image.BOX)))
    return np.stack(out).astype(np.float64) / 255


def ref_pillow_jpeg(u8, q):
    out = []
    for img in u8:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=q)
        out.append(np.asarray(Image.open(buf)))
    return np.stack(out).astype(np.float64) / 255


def ref_motion(x, radius, sigma, angles):
    """ImageMagick MotionBlurImage: taps i = 0..2 ceil(r), offsets rounded, edges repeated."""
    width = 2 * math.ceil(radius) + 1
    k = np.array([math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(width)])
    k /= k.sum()
    n, h, w, _ = x.shape
    out = np.zeros(x.shape)
    for b in range(n):
        a = math.radians(angles[b])
        for i in range(width):
            dx, dy = math.ceil(i * math.cos(a) - 0.5), math.ceil(i * math.sin(a) - 0.5)
            rows = np.clip(np.arange(h) + dy, 0, h - 1)
            cols = np.clip(np.arange(w) + dx, 0, w - 1)
            out[b] += k[i] * x[b][rows][:, cols]
    return out


# --- deterministic: pixel agreement ----------------------------------------------

@pytest.mark.parametrize("severity", [1, 5])
@pytest.mark.parametrize("name,ref,atol", [
    ("contrast", ref_contrast, 1e-6),
    ("brightness", ref_brightness, 1e-5),
    ("saturate", ref_saturate, 1e-5),
    ("defocus_blur", ref_defocus, 1e-5),
    ("zoom_blur", ref_zoom_blur, 1e-5),
    ("gaussian_blur", ref_gaussian_blur, 1e-5),
])
def test_deterministic_matches_reference(name, ref, atol, severity):
    np.testing.assert_allclose(run(name, X, severity), ref(X, cifar(name, severity)), atol=atol)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_pixelate_matches_pillow_box(severity):
    # Pillow rounds to 8 bits after each of its 4 passes; rvlib stays in float.
    ours = run("pixelate", X, severity)
    diff = np.abs(ours - ref_pillow_pixelate(U8, cifar("pixelate", severity)))
    assert diff.max() <= 1.5 / 255 and diff.mean() < 0.5 / 255


@pytest.mark.parametrize("severity", [1, 5])
def test_jpeg_matches_pillow_exactly(severity):
    ours = np.asarray(C.corrupt_suite("jpeg_compression", KEY, X, severity))
    np.testing.assert_allclose(ours, ref_pillow_jpeg(U8, cifar("jpeg_compression", severity)),
                               atol=1e-6)


def test_jpeg_grey_and_under_vmap():
    g = X[..., :1]
    ours = np.asarray(C.corrupt_suite("jpeg_compression", KEY, g, 2))
    buf = io.BytesIO()
    Image.fromarray(U8[0, :, :, 0]).save(buf, "JPEG", quality=65)
    np.testing.assert_allclose(ours[0, :, :, 0], np.asarray(Image.open(buf)) / 255, atol=1e-6)
    fn = C.SUITE["jpeg_compression"].fn
    per_image = jax.vmap(lambda x: fn(KEY, x[None], 65)[0])(jnp.asarray(g))
    np.testing.assert_allclose(per_image, ours, atol=1e-6)


def test_motion_blur_kernel_matches_imagemagick_transcription():
    angles = np.array([-40.0, 30.0])
    blur = jax.jit(lambda x, a: _ops.motion_blur(x, 6, 2.0, a))
    ours = np.asarray(blur(jnp.asarray(X), jnp.asarray(angles, jnp.float32)))
    np.testing.assert_allclose(ours, ref_motion(X, 6, 2.0, angles), atol=1e-5)


def test_zoom_matrix_per_axis_matches_scipy():
    # Non-square images: the reference's clipped_zoom applied along each axis alone.
    for length in (8, 12, 20):
        v = RNG.random(length)
        for z in (1.0, 1.03, 1.25, 2.25):
            ch = int(np.ceil(length / z))
            top = (length - ch) // 2
            zoomed = ndi.zoom(v[top:top + ch], z, order=1)
            trim = (zoomed.shape[0] - length) // 2
            np.testing.assert_allclose(_ops.zoom_matrix(length, z) @ v,
                                       zoomed[trim:trim + length], atol=1e-9)


@pytest.mark.parametrize("name", [n for n, e in C.SUITE.items() if not e.random])
def test_deterministic_entries_ignore_the_key(name):
    a = run(name, X, 5, jax.random.key(1))
    np.testing.assert_array_equal(a, run(name, X, 5, jax.random.key(2)))


# --- random: moments and invariants ---------------------------------------------

GREY = np.full(X.shape, 0.5, np.float32)  # X's shape: the compiles are shared


def test_gaussian_and_speckle_noise_moments():
    for name, scale in (("gaussian_noise", 1.0), ("speckle_noise", 0.5)):
        c = cifar(name, 5)
        d = run(name, GREY, 5) - GREY
        assert abs(d.mean()) < 3 * c * scale / math.sqrt(d.size)
        assert abs(d.std() / (c * scale) - 1) < 0.04


def test_shot_noise_moments_both_branches():
    c = cifar("shot_noise", 5)  # 50 photons at white
    for level in (0.5, 0.05):   # lam = 25 (Gaussian branch), 2.5 (exact inversion)
        x = np.full(X.shape, level, np.float32)
        y = run("shot_noise", x, 5) * c
        lam = level * c
        assert abs(y.mean() - lam) < 4 * math.sqrt(lam / y.size)
        assert abs(y.var() / lam - 1) < 0.08
        assert np.allclose(y, np.round(y), atol=1e-4)  # integer photon counts
    y = run("shot_noise", np.full(X.shape, 0.05, np.float32), 5) * c
    p0 = math.exp(-2.5)
    assert abs((np.round(y) == 0).mean() - p0) < 0.015


def test_impulse_noise_fraction_and_balance():
    c = cifar("impulse_noise", 5)
    y = run("impulse_noise", GREY, 5)
    changed = y != 0.5
    assert abs(changed.mean() - c) < 4 * math.sqrt(c / changed.size)
    assert set(np.unique(y[changed])) <= {0.0, 1.0}
    assert abs((y[changed] == 1).mean() - 0.5) < 4 * 0.5 / math.sqrt(changed.sum())
    # per value, not per pixel: channels of one pixel are hit independently
    assert (changed.sum(-1) == 1).mean() > 0.5 * changed.any(-1).mean()


def test_glass_blur_severity_1_only_permutes_pixels():
    # sigma 0.05 -> a Gaussian of radius 0 (identity): the output is the 8-bit
    # image with pixels swapped, so each image keeps its multiset of pixels.
    y = run("glass_blur", X, 1)
    base = np.floor(X * 255) / 255
    for b in range(2):
        np.testing.assert_allclose(np.sort(y[b].reshape(-1, 3), axis=0),
                                   np.sort(base[b].reshape(-1, 3), axis=0), atol=1e-6)
        assert not np.allclose(y[b], base[b])
        moved = np.abs(y[b] - base[b]).sum(-1) > 1e-6
        assert moved[0].sum() == 0 and moved[:, 0].sum() == 0  # the sweep stops at delta + 1


def test_elastic_identity_and_constant():
    ident = jax.jit(lambda k, x: C.SUITE["elastic_transform"].fn(k, x, (0.0, 0.03, 0.0, 1.0)))
    np.testing.assert_allclose(ident(KEY, jnp.asarray(X)), X, atol=1e-5)
    flat = np.full(X.shape, 0.3, np.float32)
    np.testing.assert_allclose(run("elastic_transform", flat, 5), flat, atol=1e-5)


def test_snow_never_darkens_and_plasma_spans_unit_range():
    y = run("snow", X, 3)
    assert (y >= X - 1e-6).all() and (y > X + 1e-3).mean() > 0.3
    p = np.asarray(jax.jit(lambda k: _ops.plasma_fractal(_ops.Stream(k), 3, 32, 2.0))(KEY))
    np.testing.assert_allclose(p.min(axis=(1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(p.max(axis=(1, 2)), 1, atol=1e-6)
    assert np.abs(np.diff(p, axis=1)).mean() < 0.2  # smooth, not white noise


@pytest.mark.parametrize("name", list(C.SUITE))
def test_every_corruption_shape_range_determinism(name):
    x = jnp.asarray(X)
    f = suite.jitted(name, "cifar10", 5)
    a, b = np.asarray(f(KEY, x)), np.asarray(f(KEY, x))
    assert a.shape == x.shape and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    if C.SUITE[name].random:
        assert not np.array_equal(a, np.asarray(f(jax.random.key(1), x)))


@pytest.mark.parametrize("name", ["saturate", "snow", "spatter", "frost_procedural", "fog"])
def test_grey_8x8(name):
    g = jnp.asarray(X[:, :8, :8, :1])
    y = np.asarray(C.corrupt_suite(name, KEY, g, 5))
    assert y.shape == g.shape and 0 <= y.min() and y.max() <= 1


# --- severity monotonicity --------------------------------------------------------

MONOTONE = ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "contrast",
            "brightness", "defocus_blur", "gaussian_blur", "zoom_blur", "pixelate"]


@pytest.mark.parametrize("name", MONOTONE)
def test_monotone_in_severity(name):
    # Same key at every severity (common random numbers, as robustness.py does).
    dist = [np.abs(run(name, X, s) - X).mean() for s in range(1, 6)]
    assert all(b > a for a, b in zip(dist, dist[1:])), dist


def test_saturate_is_not_monotone():
    dist = [np.abs(run("saturate", X, s) - X).mean() for s in range(1, 6)]
    assert dist[1] > dist[2]  # 0.1 x S (severity 2) moves further than 1.5 x S (severity 3)


# --- registry and errors ------------------------------------------------------------

def test_registry():
    assert len(C.SUITE) == 19 and len(C.BENCHMARK_15) == 15 and len(C.EXTRA_4) == 4
    assert "frost" not in C.SUITE and not C.SUITE["frost_procedural"].exact
    for e in C.SUITE.values():
        assert e.family in C.FAMILIES and len(e.cifar10) == 5 and len(e.imagenet) == 5
    assert cifar("gaussian_noise", 1) == 0.04 and cifar("shot_noise", 5) == 50
    assert cifar("jpeg_compression", 3) == 58 and C.SUITE["contrast"].imagenet[4] == 0.05
    assert len(cifar("zoom_blur", 5)) == 26 and cifar("elastic_transform", 1)[2] * 32 == 2.56
    assert {f: sum(e.family == f for e in C.SUITE.values()) for f in C.FAMILIES} == \
        {"noise": 4, "blur": 5, "weather": 5, "digital": 5}
    assert C.fog is not C.SUITE["fog"].fn  # the paper's fog keeps its name


@pytest.mark.parametrize("args,msg", [
    (("frost", X, 1), r"corruption='frost' is not allowed: must be one of 'gaussian_noise', "
                      r"'shot_noise'.*'frost_procedural'.*'saturate'"),
    (("contrast", X, 0), r"severity=0 is not allowed: must be an integer 1..5"),
    (("contrast", X, 6), r"severity=6 is not allowed"),
    (("contrast", X, 2.0), r"severity=2.0 is not allowed: must be an integer 1..5"),
    (("contrast", X, True), r"severity=True is not allowed"),
    (("contrast", X[0], 1), r"images.shape=\(32, 32, 3\) is not allowed: must be \[n, h, w, c\]"),
    (("contrast", np.zeros((1, 8, 8, 2), np.float32), 1),
     r"images.shape=\(1, 8, 8, 2\) is not allowed: must have 1 \(grey\) or 3 \(RGB\) channels"),
    (("contrast", np.zeros((1, 7, 9, 1), np.float32), 1),
     r"images.shape=\(1, 7, 9, 1\) is not allowed: height and width must be >= 8"),
    (("contrast", U8, 1), r"images.dtype='uint8' is not allowed: must be a floating dtype"),
    (("contrast", X * 2, 1),
     r"\(min, max\) of images=\(0.0, 2.0\) is not allowed: values must lie in \[0, 1\]"),
    (("contrast", X - 0.5, 1), r"\(min, max\) of images=\(-0.5, 0.5\) is not allowed"),
])
def test_error_messages(args, msg):
    name, x, s = args
    with pytest.raises(ValueError, match=msg):
        C.corrupt_suite(name, KEY, x, s)


def test_table_error_and_imagenet_table():
    with pytest.raises(ValueError, match=r"table='cifar' is not allowed: must be one of "
                                         r"'cifar10', 'imagenet'"):
        C.corrupt_suite("contrast", KEY, X, 1, table="cifar")
    y = np.asarray(C.corrupt_suite("contrast", KEY, X, 1, table="imagenet"))
    np.testing.assert_allclose(y, ref_contrast(X, 0.4), atol=1e-6)
