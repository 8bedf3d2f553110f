"""The common-corruption suite (Hendrycks & Dietterich, ICLR 2019): registry and entry points.

15 corruptions of CIFAR-10-C / ImageNet-C plus their 4 "extra" ones, each at
severities 1..5, with the per-severity constants of ``make_cifar_c.py``
(table ``"cifar10"``, the default) and of the ``imagecorruptions`` /
``make_imagenet_c.py`` generator (table ``"imagenet"``)::

    from rvlib import corruptions
    x_c = corruptions.corrupt_suite("zoom_blur", key, images, 3)        # validated, jitted
    entry = corruptions.SUITE["snow"]; entry.family, entry.random, entry.params("cifar10", 5)

Every corruption is ``fn(key, images: f32[n, h, w, c] in [0, 1], c)`` with
``c`` the table's constant for one severity (static under ``jit``: one
compilation per corruption, severity and shape), works on grey (c = 1) and RGB
(c = 3) images of any size >= 8 x 8, and returns ``f32[n, h, w, c]`` in [0, 1].
Random corruptions draw everything from ``key`` (deterministic corruptions
ignore it).  Where rvlib departs from the reference the entry's ``note`` says
so (frost, spatter's water, JPEG on the host); see the family modules.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from rvlib import validate
from rvlib.corruptions import blur, digital, noise, weather

__all__ = ["SuiteCorruption", "SUITE", "BENCHMARK_15", "EXTRA_4", "FAMILIES", "TABLES",
           "SEVERITIES", "corrupt_suite", "suite_grid", "check_suite_images", "check_severity"]

FAMILIES = ("noise", "blur", "weather", "digital")
TABLES = ("cifar10", "imagenet")
SEVERITIES = (1, 2, 3, 4, 5)
MIN_SIDE = 8


@dataclass(frozen=True)
class SuiteCorruption:
    """One corruption of the suite: its function and the constants of each severity.

    ``cifar10`` / ``imagenet``: five per-severity constants (severity 1 first),
    passed as ``c`` to ``fn``.  ``random``: whether ``fn`` uses its key.
    ``exact``: whether ``fn`` transcribes the reference's algorithm (up to
    random draws and float rounding); ``note`` says what differs when not.
    """
    name: str
    family: str
    fn: Callable
    cifar10: tuple
    imagenet: tuple
    random: bool
    exact: bool = True
    note: str = ""

    def params(self, table: str, severity: int):
        """The constant ``c`` of ``severity`` (1..5) in ``table``."""
        return getattr(self, table)[severity - 1]


def _zooms(stop: float, step: float) -> tuple[float, ...]:
    return tuple(float(z) for z in np.arange(1, stop, step))  # the reference's np.arange


_E = SuiteCorruption
_ENTRIES = (
    _E("gaussian_noise", "noise", noise.gaussian_noise, (0.04, 0.06, .08, .09, .10),
       (.08, .12, 0.18, 0.26, 0.38), True),
    _E("shot_noise", "noise", noise.shot_noise, (500, 250, 100, 75, 50), (60, 25, 12, 5, 3), True,
       note="Poisson by exact inversion below 8 expected counts, rounded Gaussian above"),
    _E("impulse_noise", "noise", noise.impulse_noise, (.01, .02, .03, .05, .07),
       (.03, .06, .09, 0.17, 0.27), True),
    _E("defocus_blur", "blur", blur.defocus_blur,
       ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),
       ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)), False),
    _E("glass_blur", "blur", blur.glass_blur,
       ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)),
       ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)), True),
    _E("motion_blur", "blur", blur.motion_blur_corruption,
       ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)),
       ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)), True,
       note="ImageMagick's MotionBlurImage kernel transcribed (not called); edge pixels repeated"),
    _E("zoom_blur", "blur", blur.zoom_blur,
       (_zooms(1.06, 0.01), _zooms(1.11, 0.01), _zooms(1.16, 0.01), _zooms(1.21, 0.01),
        _zooms(1.26, 0.01)),
       (_zooms(1.11, 0.01), _zooms(1.16, 0.01), _zooms(1.21, 0.02), _zooms(1.26, 0.02),
        _zooms(1.31, 0.03)), False),
    _E("snow", "weather", weather.snow,
       ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)),
       ((0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
        (0.55, 0.3, 4, 0.9, 12, 8, 0.7), (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
        (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)), True,
       note="motion blur of the snow layer: ImageMagick's kernel transcribed"),
    _E("frost_procedural", "weather", weather.frost_procedural,
       ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),
       ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)), True, exact=False,
       note="procedural ice texture instead of the reference's six frost photos"),
    _E("fog", "weather", weather.fog,
       ((.2, 3), (.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)),
       ((1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)), True),
    _E("brightness", "weather", digital.brightness, (.05, .1, .15, .2, .3), (.1, .2, .3, .4, .5),
       False),
    _E("contrast", "digital", digital.contrast, (.75, .5, .4, .3, 0.15), (0.4, .3, .2, .1, .05),
       False),
    # Elastic: the reference writes its constants as IMSIZE x fraction (IMSIZE = 32; ImageNet:
    # 244 on 224-pixel images); rvlib keeps the fractions and scales them by min(h, w) x last.
    _E("elastic_transform", "digital", digital.elastic_transform,
       ((0, 0, 0.08, 1.0), (0.05, 0.2, 0.07, 1.0), (0.08, 0.06, 0.06, 1.0),
        (0.1, 0.04, 0.05, 1.0), (0.1, 0.03, 0.03, 1.0)),
       tuple(t + (244 / 224,) for t in ((2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02),
                                        (0.07, 0.01, 0.02), (0.12, 0.01, 0.02))), True,
       note="constants are fractions of the image side (the reference's pixels at 32 / 224)"),
    _E("pixelate", "digital", digital.pixelate, (0.95, 0.9, 0.85, 0.75, 0.65),
       (0.6, 0.5, 0.4, 0.3, 0.25), False, note="float output; Pillow rounds to 8 bits"),
    _E("jpeg_compression", "digital", digital.jpeg_compression, (80, 65, 58, 50, 40),
       (25, 18, 15, 10, 7), False, note="Pillow on the host through jax.pure_callback"),
    # The four "extra" corruptions (held out of mCE in the paper).
    _E("speckle_noise", "noise", noise.speckle_noise, (.06, .1, .12, .16, .2),
       (.15, .2, 0.35, 0.45, 0.6), True),
    _E("gaussian_blur", "blur", blur.gaussian_blur, (.4, .6, 0.7, .8, 1), (1, 2, 3, 4, 6), False),
    _E("spatter", "weather", weather.spatter,
       ((0.62, 0.1, 0.7, 0.7, 0.5, 0), (0.65, 0.1, 0.8, 0.7, 0.5, 0),
        (0.65, 0.3, 1, 0.69, 0.5, 0), (0.65, 0.1, 0.7, 0.69, 0.6, 1),
        (0.65, 0.1, 0.5, 0.68, 0.6, 1)),
       ((0.65, 0.3, 4, 0.69, 0.6, 0), (0.65, 0.3, 3, 0.68, 0.6, 0),
        (0.65, 0.3, 2, 0.68, 0.5, 0), (0.65, 0.3, 1, 0.65, 1.5, 1),
        (0.67, 0.4, 1, 0.65, 1.5, 1)), True, exact=False,
       note="water drops (severities 1-3 on cifar10) without the reference's Canny/"
            "distance-transform shading; mud severities as the reference"),
    _E("saturate", "digital", digital.saturate,
       ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)),
       ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)), False),
)
SUITE: dict[str, SuiteCorruption] = {e.name: e for e in _ENTRIES}
BENCHMARK_15 = tuple(e.name for e in _ENTRIES[:15])   # the mCE set (frost: procedural)
EXTRA_4 = tuple(e.name for e in _ENTRIES[15:])


# --- validation ----------------------------------------------------------------

def check_severity(severity) -> int:
    """An integer 1..5 (the suite's severities are levels, not amounts)."""
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)):
        validate.fail("severity", severity, "must be an integer 1..5 (the suite's levels)")
    if not 1 <= int(severity) <= 5:
        validate.fail("severity", severity, "must be an integer 1..5 (the suite's levels)")
    return int(severity)


def check_suite_images(images) -> None:
    """f32[n, h, w, c]: floating, c in {1, 3}, h, w >= 8, values in [0, 1] (host check)."""
    validate.image_shape("images", images)
    shape = tuple(images.shape)
    if shape[-1] not in (1, 3):
        validate.fail("images.shape", shape, "must have 1 (grey) or 3 (RGB) channels")
    if min(shape[1:3]) < MIN_SIDE:
        validate.fail("images.shape", shape, f"height and width must be >= {MIN_SIDE}")
    dtype = getattr(images, "dtype", None)
    if not jnp.issubdtype(dtype, jnp.floating):
        validate.fail("images.dtype", str(dtype), "must be a floating dtype with values in [0, 1]")
    if shape[0]:
        lo, hi = float(jnp.min(images)), float(jnp.max(images))
        if not (lo >= 0.0 and hi <= 1.0):  # also catches NaN
            validate.fail("(min, max) of images", (round(lo, 6), round(hi, 6)),
                          "values must lie in [0, 1]")


@functools.cache
def jitted(name: str, table: str, severity: int):
    """Jitted ``(key, images) -> images`` for one corruption, table and severity (no checks)."""
    entry = SUITE[name]
    return jax.jit(functools.partial(entry.fn, c=entry.params(table, severity)))


def corrupt_suite(name: str, key: jax.Array, images, severity: int, *,
                  table: str = "cifar10") -> jax.Array:
    """Validate, then apply suite corruption ``name`` at ``severity`` (1..5) from ``table``.

    images: f32[n, h, w, c] in [0, 1], c in {1, 3}, h, w >= 8 -> same shape.
    """
    name = validate.choice("corruption", name, SUITE)
    table = validate.choice("table", table, TABLES)
    severity = check_severity(severity)
    check_suite_images(images)
    return jitted(name, table, severity)(key, jnp.asarray(images, jnp.float32))


@functools.cache
def _jitted_levels(name: str, table: str, levels: tuple[int, ...]):
    entry = SUITE[name]

    def levels_fn(key, images):  # the same key at every level: common random numbers
        return jnp.stack([entry.fn(key, images, entry.params(table, s)) for s in levels])

    return jax.jit(levels_fn)


def suite_grid(key: jax.Array, images, names=BENCHMARK_15 + EXTRA_4,
               severities=SEVERITIES, *, table: str = "cifar10") -> dict[str, jax.Array]:
    """Every corruption in ``names`` at every severity: ``{name: f32[s, n, h, w, c]}``.

    One compilation per name (severities unrolled); each name gets its own key
    split from ``key``, shared by its severities (the same noise, stronger).
    """
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        validate.fail("names", names, "must name at least one suite corruption")
    for i, name in enumerate(names):
        validate.choice(f"names[{i}]", name, SUITE)
    table = validate.choice("table", table, TABLES)
    levels = tuple(check_severity(s) for s in severities)
    if not levels:
        validate.fail("severities", list(severities), "must hold at least one level 1..5")
    check_suite_images(images)
    x = jnp.asarray(images, jnp.float32)
    return {name: _jitted_levels(name, table, levels)(k, x)
            for name, k in zip(names, jax.random.split(key, len(names)))}
