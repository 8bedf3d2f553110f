"""Tests for rvlib.corruptions: ranges, exact severity 0, semantics per noise type."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rvlib import corruptions as C

NAMES = ["gaussian", "salt_pepper", "fog", "occlusion"]
SHAPE = (16, 16, 16, 3)
# Compiled once per corruption and reused across tests (small shapes, few compiles).
JIT = {name: jax.jit(fn) for name, fn in C.CORRUPTIONS.items()}
VMAP_SEV = {name: jax.jit(jax.vmap(fn, in_axes=(None, None, 0)))
            for name, fn in C.CORRUPTIONS.items()}


def _images(shape=SHAPE, seed=0, lo=0.05, hi=0.95):
    """Random images strictly inside [0, 1] so every replaced pixel is visible."""
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.uniform(lo, hi, size=shape).astype(np.float32))


KEY = jax.random.key(0)
X = _images()
SEV = jnp.array([0.0, 0.05, 0.1, 0.3, 0.6, 0.9])  # one vmapped compile per corruption


@pytest.mark.parametrize("name", NAMES)
def test_range_shape_dtype(name):
    for s in (0.3, 1.0):
        y = JIT[name](KEY, X, s)
        assert y.shape == X.shape and y.dtype == X.dtype
        y = np.asarray(y)
        assert y.min() >= 0.0 and y.max() <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_key_dependent(name):
    a = JIT[name](KEY, X, 0.3)
    b = JIT[name](KEY, X, 0.3)
    c = JIT[name](jax.random.key(1), X, 0.3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", ["gaussian", "fog"])  # key handling is shared by all
def test_legacy_uint32_keys_work(name):
    a = JIT[name](jax.random.PRNGKey(3), X, 0.3)
    b = JIT[name](jax.random.PRNGKey(3), X, 0.3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, X)


@pytest.mark.parametrize("name", NAMES)
def test_severity_zero_is_exact_identity(name):
    # Values outside [0, 1] too: a clip would change them, the select must not.
    x = X * 1.5 - 0.25
    # A Python 0.0 seen by the function as a constant (closed over, not traced).
    with_python_zero = jax.jit(lambda key, images: C.CORRUPTIONS[name](key, images, 0.0))
    np.testing.assert_array_equal(with_python_zero(KEY, x), x)
    np.testing.assert_array_equal(JIT[name](KEY, x, 0.0), x)  # traced 0.0 inside jit
    np.testing.assert_array_equal(VMAP_SEV[name](KEY, x, SEV)[0], x)  # vmapped 0.0


@pytest.mark.parametrize("name", NAMES)
def test_effect_grows_with_severity(name):
    ys = VMAP_SEV[name](KEY, X, SEV)
    change = np.abs(np.asarray(ys) - np.asarray(X)[None]).mean(axis=(1, 2, 3, 4))
    assert np.all(np.diff(change) > 0), change


@pytest.mark.parametrize("name", NAMES)
def test_vmap_over_severity_and_keys_matches_single_calls(name):
    ys = VMAP_SEV[name](KEY, X, SEV)
    for i in range(len(SEV)):
        np.testing.assert_allclose(ys[i], JIT[name](KEY, X, float(SEV[i])), atol=1e-6)
    keys = jax.random.split(jax.random.key(7), 3)
    yk = jax.jit(jax.vmap(C.CORRUPTIONS[name], in_axes=(0, None, None)))(keys, X, 0.4)
    for i in range(3):
        np.testing.assert_allclose(yk[i], JIT[name](keys[i], X, 0.4), atol=1e-6)
    assert not np.array_equal(yk[0], yk[1])


def test_gaussian_is_x_plus_sigma_times_standard_normal():
    x = jnp.full((64, 16, 16, 3), 0.5, jnp.float32)
    y1 = np.asarray(JIT["gaussian"](KEY, x, 0.1), np.float64)
    z = (y1 - 0.5) / 0.1  # sigma 0.1 around 0.5 clips only for |z| > 5 (p ~ 6e-7)
    assert abs(z.mean()) < 0.02                     # 49k samples: se 0.0045
    assert abs(z.std() - 1.0) < 0.02
    assert abs(np.mean(np.abs(z) > 1.96) - 0.05) < 0.006
    assert abs(np.mean(z ** 4) - 3.0) < 0.15        # normal kurtosis, not uniform's 1.8
    # Neighbouring pixels and channels are independent draws.
    flat = z.reshape(-1)
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 0.02
    half = flat.size // 2  # and the two halves of the batch (Box-Muller pairs)
    assert abs(np.corrcoef(flat[:half], flat[half:])[0, 1]) < 0.02
    assert abs(np.corrcoef(flat[:half] ** 2, flat[half:] ** 2)[0, 1]) < 0.03
    # The same key gives the same z: sigma 0.3 is the sigma 0.1 noise scaled, then clipped.
    y3 = np.asarray(JIT["gaussian"](KEY, x, 0.3))
    np.testing.assert_allclose(y3, np.clip(0.5 + 0.3 * z, 0, 1), atol=2e-6)


def test_salt_pepper_replaces_fraction_p_of_pixel_locations():
    x = _images((64, 32, 32, 3))
    p = 0.3
    y = np.asarray(JIT["salt_pepper"](KEY, x, p))
    xn = np.asarray(x)
    changed = (y != xn)
    # All channels of a location change together, to all-0 or all-1.
    np.testing.assert_array_equal(changed.any(-1), changed.all(-1))
    loc = changed.all(-1)
    pepper = (y == 0).all(-1) & loc
    salt = (y == 1).all(-1) & loc
    np.testing.assert_array_equal(pepper | salt, loc)
    m = loc.size  # 65536 locations: se of the fraction ~0.0018
    assert abs(loc.sum() / m - p) < 0.01
    assert abs(pepper.sum() / m - p / 2) < 0.01
    assert abs(salt.sum() / m - p / 2) < 0.01
    assert np.all(JIT["salt_pepper"](KEY, x, 1.0) != x)  # p = 1 replaces everything


def test_occlusion_is_one_contiguous_square_of_area_severity():
    n, h, w = 32, 20, 20
    x = _images((n, h, w, 3))
    for s in (0.1, 0.25, 0.5):
        y = np.asarray(JIT["occlusion"](KEY, x, s))
        zero = y == 0
        np.testing.assert_array_equal(zero.any(-1), zero.all(-1))  # all channels
        zero = zero[..., 0]
        side = round(np.sqrt(s * h * w))
        tops = []
        for img in zero:  # test-side check per image, the library has no loop
            rows, cols = np.nonzero(img)
            assert rows.size == side * side
            assert rows.max() - rows.min() + 1 == side
            assert cols.max() - cols.min() + 1 == side  # full bounding box: a square
            tops.append((rows.min(), cols.min()))
        # Fraction of area within rounding of the side.
        assert abs(side * side / (h * w) - s) <= (2 * np.sqrt(s * h * w) + 1) / (h * w)
        assert len(set(tops)) > n // 4  # positions are random per image
        # Outside the square the image is untouched.
        np.testing.assert_array_equal(y[~zero], np.asarray(x)[~zero])
    assert np.all(np.asarray(JIT["occlusion"](KEY, x, 1.0)) == 0)


def test_occlusion_square_is_capped_on_non_square_images():
    x = _images((4, 8, 16, 1))
    y = np.asarray(JIT["occlusion"](KEY, x, 1.0))
    assert np.all((y == 0).sum(axis=(1, 2, 3)) == 64)  # 8 x 8, the largest square


def test_fog_brightens_dark_images_with_smooth_haze():
    dark = jnp.zeros((8, 32, 32, 3), jnp.float32)
    haze = np.asarray(JIT["fog"](KEY, dark, 1.0))  # s = 1: the haze layer itself
    assert haze.min() >= 0.6 - 1e-6 and haze.max() <= 1.0 + 1e-6
    per_image = haze.reshape(8, -1)
    np.testing.assert_allclose(per_image.min(1), 0.6, atol=0.05)   # spans ~[0.6, 1]
    np.testing.assert_allclose(per_image.max(1), 1.0, atol=0.05)
    np.testing.assert_array_equal(haze[..., 0], haze[..., 2])  # grey: same on all channels
    assert not np.array_equal(haze[0], haze[1])  # one haze per image
    # Low frequency: neighbouring pixels differ far less than the haze range.
    assert np.abs(np.diff(haze, axis=1)).max() < 0.1
    assert np.abs(np.diff(haze, axis=2)).max() < 0.1
    # Blend: s * haze on black, and the same haze for the same key at any s.
    half = np.asarray(JIT["fog"](KEY, dark, 0.5))
    np.testing.assert_allclose(half, 0.5 * haze, atol=1e-6)
    assert half.mean() > 0.3
    haze_x = np.asarray(JIT["fog"](KEY, jnp.zeros_like(X), 1.0))
    np.testing.assert_allclose(JIT["fog"](KEY, X, 0.5), 0.5 * np.asarray(X) + 0.5 * haze_x,
                               atol=1e-6)


def test_random_bits_are_uniform_and_key_dependent():
    uniform = jax.jit(C._uniform, static_argnums=(1, 2))
    u = np.asarray(uniform(KEY, 1 << 16))
    assert 0.0 < u.min() and u.max() < 1.0
    counts = np.histogram(u, bins=16, range=(0, 1))[0]
    expected = u.size / 16
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 45  # 15 dof: p ~ 1e-4
    v = np.asarray(uniform(jax.random.key(1), 1 << 16))
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.02
    f = np.linspace(-1.5, 1.5, 10001, dtype=np.float32)
    np.testing.assert_allclose(jax.jit(C._cos_turns)(f), np.cos(2 * np.pi * f), atol=2e-6)
    g = np.asarray(uniform(KEY, 12, 3))
    np.testing.assert_array_equal(g.reshape(4, 3), g.reshape(4, 3)[:, :1].repeat(3, 1))


def test_registry_and_error_messages():
    assert sorted(C.CORRUPTIONS) == sorted(NAMES)
    assert C.get_corruption("fog") is C.fog
    msg = ("noise='blur' is not allowed: "
           "must be one of 'gaussian', 'salt_pepper', 'fog', 'occlusion'")
    with pytest.raises(ValueError, match=msg):
        C.get_corruption("blur")
    with pytest.raises(ValueError, match=msg):
        C.corrupt("blur", KEY, X, 0.1)
    with pytest.raises(ValueError, match=r"severity=1.5 is not allowed: must be <= 1.0"):
        C.corrupt("gaussian", KEY, X, 1.5)
    with pytest.raises(ValueError, match=r"severity=-0.1 is not allowed: must be >= 0.0"):
        C.corrupt("fog", KEY, X, -0.1)
    with pytest.raises(ValueError, match=r"images.shape=\(16, 16, 3\) is not allowed: "
                                         r"must be \[n, h, w, c\]"):
        C.corrupt("occlusion", KEY, X[0], 0.1)
    with pytest.raises(ValueError, match=r"images.dtype='uint8' is not allowed"):
        C.corrupt("gaussian", KEY, jnp.zeros((1, 4, 4, 1), jnp.uint8), 0.1)
    with pytest.raises(ValueError, match=r"severities\[1\]=2.0 is not allowed: must be <= 1.0"):
        C.corrupt_grid(KEY, X, ["fog"], [0.1, 2.0])
    with pytest.raises(ValueError, match=r"names\[1\]='blur' is not allowed"):
        C.corrupt_grid(KEY, X, ["fog", "blur"], [0.1])


def test_corrupt_matches_core_function():
    for name in NAMES:
        np.testing.assert_allclose(C.corrupt(name, KEY, X, 0.4), JIT[name](KEY, X, 0.4),
                                   atol=1e-6)


def test_corrupt_grid_splits_keys_per_name_and_severity():
    sev = [0.0, 0.3, 0.6]
    out = C.corrupt_grid(KEY, X, ["gaussian", "occlusion"], sev)
    assert set(out) == {"gaussian", "occlusion"}
    name_keys = jax.random.split(KEY, 2)
    for name, name_key in zip(["gaussian", "occlusion"], name_keys):
        assert out[name].shape == (3,) + X.shape
        np.testing.assert_array_equal(out[name][0], X)
        for i, k in enumerate(jax.random.split(name_key, 3)):
            np.testing.assert_allclose(out[name][i], JIT[name](k, X, sev[i]), atol=1e-6)
