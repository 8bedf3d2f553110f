"""An analog memory device, one formula per effect: weights -> conductances -> weights.

A :class:`Device` says how one signed weight is stored and read back
(conductances in µS):

1. **mapping** (:func:`to_conductance`): a signed weight ``w`` becomes a
   differential pair ``(g+, g-)`` in ``[g_min, g_max]`` with
   ``w = (g+ - g-) * w_max / (g_max - g_min)``; the weight scale ``w_max`` is
   each layer's ``max |W|`` (aihwkit's default) or a fixed number, beyond
   which weights clip.  ``differential=False`` keeps one device per weight,
   so negative weights clip to 0 (notebook 04's ``[0, g]`` ranges).
2. **levels** (:func:`quantize`): ``levels`` equally spaced conductances
   from g_min to g_max (``2**bits`` for a ``bits``-bit cell);
3. **programming noise** (:func:`programming_noise`), aihwkit's PCM model
   (Nandakumar et al., ICECS 2019): with ``r = g/g_max``,
   ``sigma = (c0 + c1 r + c2 r^2) * g_max / 25 µS``, ``g <- max(g + sigma N, 0)``;
4. **drift** (:func:`drift_nu`, :func:`drift`): ``g(t) = g_prog ((t + t0)/t0)^-nu``
   with ``nu = |mu + s N|`` per device, ``mu = clip(-0.0155 ln r + 0.0244,
   0.049, 0.1)``, ``s = clip(-0.0125 ln r - 0.0059, 0.008, 0.045)`` (``r`` of
   the target, clipped at 1e-7); ``t`` is the time since programming, t0 = 20 s;
5. **read (1/f) noise** (:func:`read_noise`): ``q = min(0.0088 /
   max((g_prog/g_max)^0.65, 1e-3), 0.2)``, ``sigma = q sqrt(ln((t + t0 +
   t_read) / (2 t_read)))``, ``g <- max(g + |g| sigma N, 0)``.

The constants are aihwkit's ``PCMLikeNoiseModel`` defaults (the tests check
them against these formulas computed by hand in NumPy); each effect has a
scale so a preset can switch it off (``hardware.presets``).  Every function
is pure and jittable; ``t`` may be traced.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from rvlib import validate

__all__ = ["Device", "T0", "T_READ", "PROG_COEFF", "ZERO_CLIP", "check_device", "check_time",
           "bits_to_levels", "to_conductance", "from_conductance", "quantize",
           "programming_noise", "drift_nu", "drift", "read_noise"]

T0 = 20.0                              # s, first read after programming (aihwkit t_0)
T_READ = 250e-9                        # s, read pulse (aihwkit t_read)
PROG_COEFF = (0.26348, 1.9650, -1.1731)  # µS at g_max = 25 µS (Nandakumar et al. 2019)
PROG_G_REF = 25.0                      # µS, the g_max the coefficients were fitted at
ZERO_CLIP = 1e-7                       # r below this is clipped in the drift fit


@dataclass(frozen=True)
class Device:
    """One device model; every field is a number or None, so a Device is hashable (a jit static).

    ``g_min``/``g_max``: µS; ``w_max``: the weight stored at g_max (None: each
    layer's max |W|); ``levels``: conductance levels (None: continuous);
    ``prog_noise``, ``drift_scale``, ``read_noise``: scales of the PCM
    effects (0 switches one off); ``t0``, ``t_read``: s.
    """
    name: str = "custom"
    g_max: float = 25.0
    g_min: float = 0.0
    w_max: float | None = None
    differential: bool = True
    levels: int | None = None
    prog_noise: float = 1.0
    drift_scale: float = 1.0
    read_noise: float = 1.0
    t0: float = T0
    t_read: float = T_READ
    description: str = ""
    source: str = ""

    def replace(self, **changes) -> "Device":
        """A checked copy with some fields changed (e.g. ``levels=16``)."""
        return check_device(dataclasses.replace(self, **changes))


def bits_to_levels(bits) -> int:
    """``2**bits`` levels for a ``bits``-bit cell (bits >= 1)."""
    return 2 ** validate.number("bits", bits, min=1, integer=True)


def check_device(device: Device) -> Device:
    """Every field in range before any compute; returns the device."""
    if not isinstance(device, Device):
        validate.fail("device", device, "must be a hardware.Device (or a preset name)")
    validate.positive("g_max", device.g_max)
    validate.number("g_min", device.g_min, min=0.0)
    if device.g_min >= device.g_max:
        validate.fail("g_min", device.g_min, f"must be < g_max={device.g_max}")
    if device.w_max is not None:
        validate.positive("w_max", device.w_max)
    validate.flag("differential", device.differential)
    if device.levels is not None:
        validate.number("levels", device.levels, min=2, integer=True)
    for name in ("prog_noise", "drift_scale", "read_noise"):
        validate.non_negative(name, getattr(device, name))
    validate.positive("t0", device.t0)
    validate.positive("t_read", device.t_read)
    return device


def check_time(name: str, t) -> float:
    """A time since programming in seconds, ``t >= 0``."""
    return validate.non_negative(name, t)


def to_conductance(w, w_max, device: Device):
    """``w: f32[...]`` -> ``(g+, g-)``, each ``f32[...]`` in ``[g_min, g_max]`` (µS).

    ``w_max``: f32[], the weight stored at g_max; larger ``|w|`` clip.
    """
    span = device.g_max - device.g_min
    u = jnp.clip(w / w_max, -1.0, 1.0)
    g_pos = device.g_min + jnp.maximum(u, 0.0) * span
    g_neg = device.g_min + jnp.maximum(-u, 0.0) * span
    if not device.differential:  # one device: negative weights cannot be stored
        g_neg = jnp.full_like(g_pos, device.g_min)
    return g_pos, g_neg


def from_conductance(g_pos, g_neg, w_max, device: Device):
    """The weight a pair reads back: ``(g+ - g-) * w_max / (g_max - g_min)``."""
    return (g_pos - g_neg) * (w_max / (device.g_max - device.g_min))


def quantize(g, device: Device):
    """``g`` rounded to the nearest of ``device.levels`` equally spaced conductances."""
    if device.levels is None:
        return g
    step = (device.g_max - device.g_min) / (device.levels - 1)
    k = jnp.clip(jnp.round((g - device.g_min) / step), 0, device.levels - 1)
    return device.g_min + k * step


def programming_noise(key, g_target, device: Device):
    """``max(g + prog_noise * sigma(g/g_max) * N(0, 1), 0)``, sigma the PCM polynomial (µS)."""
    r = g_target / device.g_max
    sigma = (PROG_COEFF[0] + PROG_COEFF[1] * r + PROG_COEFF[2] * r * r) * (device.g_max
                                                                            / PROG_G_REF)
    noise = jax.random.normal(key, g_target.shape, g_target.dtype)
    return jnp.maximum(g_target + device.prog_noise * sigma * noise, 0.0)


def drift_nu(key, g_target, device: Device):
    """Per-device drift exponents ``|mu(r) + s(r) N(0, 1)| * drift_scale``, ``r = |g|/g_max``."""
    r = jnp.maximum(jnp.abs(g_target) / device.g_max, ZERO_CLIP)
    mu = jnp.clip(-0.0155 * jnp.log(r) + 0.0244, 0.049, 0.1)
    s = jnp.clip(-0.0125 * jnp.log(r) - 0.0059, 0.008, 0.045)
    return jnp.abs(mu + s * jax.random.normal(key, r.shape, r.dtype)) * device.drift_scale


def drift(g_prog, nu, t, device: Device):
    """``g_prog * ((t + t0) / t0) ** -nu`` at ``t`` seconds after programming (t >= 0)."""
    return g_prog * ((t + device.t0) / device.t0) ** (-nu)


def read_noise(key, g_drift, g_prog, t, device: Device):
    """Accumulated 1/f noise: ``max(g + |g| * read_noise * sigma(g_prog, t) * N(0, 1), 0)``."""
    q = jnp.minimum(0.0088 / jnp.maximum((jnp.abs(g_prog) / device.g_max) ** 0.65, 1e-3), 0.2)
    sigma = q * jnp.sqrt(jnp.log((t + device.t0 + device.t_read) / (2.0 * device.t_read)))
    noise = jax.random.normal(key, g_drift.shape, g_drift.dtype)
    return jnp.maximum(g_drift + jnp.abs(g_drift) * device.read_noise * sigma * noise, 0.0)
