"""The analog device model against the PCM formulas computed by hand in NumPy (float64).

The formulas are aihwkit's ``PCMLikeNoiseModel`` (Nandakumar et al., ICECS
2019) as written in issue 11; each reference below re-derives them from the
equations with the same standard normals (drawn with JAX's generator, so the
comparison checks the formula, not the RNG).
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rvlib import hardware, models
from rvlib.hardware import device as dv
from rvlib.hardware.analog import analog_kernel, analog_params
from rvlib.hardware.clip import clip_kernels
from rvlib.hardware.presets import DEVICES, get_device

YEAR = 365 * 24 * 3600.0
PCM = get_device("pcm")


def _g(n=257):
    return jnp.linspace(0.0, 25.0, n, dtype=jnp.float32)  # µS over [0, g_max]


def _eps(key, shape):
    return np.asarray(jax.random.normal(key, shape, jnp.float32), np.float64)


def test_programming_noise_matches_the_pcm_polynomial():
    g, key = _g(), jax.random.key(3)
    out = np.asarray(dv.programming_noise(key, g, PCM))
    r = np.asarray(g, np.float64) / 25.0
    sigma = (0.26348 + 1.9650 * r - 1.1731 * r ** 2) * (25.0 / 25.0)
    ref = np.maximum(np.asarray(g, np.float64) + sigma * _eps(key, g.shape), 0.0)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    # g_max = 50 µS doubles sigma (the polynomial is in µS at 25 µS)
    dev = PCM.replace(g_max=50.0)
    out50 = np.asarray(dv.programming_noise(key, 2 * g, dev))
    ref50 = np.maximum(2 * np.asarray(g, np.float64) + 2 * sigma * _eps(key, g.shape), 0.0)
    np.testing.assert_allclose(out50, ref50, rtol=1e-5, atol=1e-5)


def test_drift_exponents_match_the_fit():
    g, key = _g(), jax.random.key(4)
    nu = np.asarray(dv.drift_nu(key, g, PCM))
    r = np.maximum(np.asarray(g, np.float64) / 25.0, 1e-7)
    mu = np.clip(-0.0155 * np.log(r) + 0.0244, 0.049, 0.1)
    s = np.clip(-0.0125 * np.log(r) - 0.0059, 0.008, 0.045)
    np.testing.assert_allclose(nu, np.abs(mu + s * _eps(key, g.shape)), rtol=1e-5, atol=1e-7)
    # at g = g_max the fit gives mu = 0.049 (clipped from 0.0244), s = 0.008 (from -0.0059)
    assert mu[-1] == 0.049 and s[-1] == 0.008


@pytest.mark.parametrize("t", [20.0, YEAR])
def test_drift_follows_the_power_law(t):
    g_prog = jnp.asarray([1.0, 10.0, 25.0], jnp.float32)
    nu = jnp.asarray([0.049, 0.06, 0.1], jnp.float32)
    out = np.asarray(dv.drift(g_prog, nu, t, PCM))
    ref = np.array([1.0, 10.0, 25.0]) * ((t + 20.0) / 20.0) ** -np.array([0.049, 0.06, 0.1])
    np.testing.assert_allclose(out, ref, rtol=1e-5)
    if t == 20.0:  # one t0 after programming: exactly a factor 2^-nu
        np.testing.assert_allclose(out, np.array([1.0, 10.0, 25.0]) * 2.0 ** -np.array(
            [0.049, 0.06, 0.1]), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(dv.drift(g_prog, nu, 0.0, PCM)), np.asarray(g_prog))


@pytest.mark.parametrize("t", [1.0, YEAR])
def test_read_noise_matches_the_1_over_f_model(t):
    g_prog = _g()
    g_drift = g_prog * 0.8
    key = jax.random.key(5)
    out = np.asarray(dv.read_noise(key, g_drift, g_prog, t, PCM))
    gp = np.asarray(g_prog, np.float64)
    gd = np.asarray(g_drift, np.float64)
    q = np.minimum(0.0088 / np.maximum((gp / 25.0) ** 0.65, 1e-3), 0.2)
    sigma = q * math.sqrt(math.log((t + 20.0 + 250e-9) / (2 * 250e-9)))
    ref = np.maximum(gd + np.abs(gd) * sigma * _eps(key, gp.shape), 0.0)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bits", [1, 2, 3, 5])
def test_quantisation_to_n_bits_gives_2_to_the_n_levels(bits):
    dev = get_device("ideal", levels=hardware.bits_to_levels(bits), g_min=1.0, g_max=25.0)
    g = jnp.linspace(0.0, 26.0, 4001)
    q = np.asarray(dv.quantize(g, dev))
    levels = np.unique(q)
    assert len(levels) == 2 ** bits
    np.testing.assert_allclose(levels, np.linspace(1.0, 25.0, 2 ** bits), rtol=1e-6)
    # nearest level: no point further than half a step from its level (inside the range)
    inside = (np.asarray(g) >= 1.0) & (np.asarray(g) <= 25.0)
    step = 24.0 / (2 ** bits - 1)
    assert np.max(np.abs(q - np.asarray(g))[inside]) <= step / 2 + 1e-5


def test_differential_pair_round_trip_is_exact_without_noise():
    w = jax.random.normal(jax.random.key(0), (64, 10)) * 0.3
    for dev in (get_device("ideal"), get_device("ideal", g_min=2.0, g_max=40.0)):
        g_pos, g_neg = dv.to_conductance(w, jnp.max(jnp.abs(w)), dev)
        assert float(g_pos.min()) >= dev.g_min and float(g_pos.max()) <= dev.g_max + 1e-5
        assert float(jnp.max(jnp.minimum(g_pos - dev.g_min, g_neg - dev.g_min))) == 0.0
        back = analog_kernel(jax.random.key(1), w, dev, YEAR, gdc=True)
        np.testing.assert_allclose(np.asarray(back), np.asarray(w), rtol=1e-5, atol=1e-6)
    model = models.MLP(64, 32, 10, rngs=nnx.Rngs(0))
    params = nnx.state(model, nnx.Param)
    out = analog_params(jax.random.key(2), params, "ideal", 3600.0)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)


def test_fixed_weight_scale_is_the_clip_range_of_notebook_04():
    model = models.MLP(64, 32, 10, rngs=nnx.Rngs(0), init_scale=1.0)
    params = nnx.state(model, nnx.Param)
    key = jax.random.key(0)
    signed = analog_params(key, params, get_device("ideal", w_max=0.5), 0.0)
    single = analog_params(key, params, get_device("ideal", w_max=0.5, differential=False), 0.0)
    for out, (lo, hi) in ((signed, (-0.5, 0.5)), (single, (0.0, 0.5))):
        ref = clip_kernels(params, lo, hi)
        for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(ref)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_drift_compensation_restores_the_mean_output_scale():
    w = jax.random.normal(jax.random.key(0), (128, 64)) * 0.1
    x = jax.random.uniform(jax.random.key(1), (256, 128))
    dev = get_device("pcm_drift_only")
    ref = float(jnp.mean(jnp.abs(x @ w)))
    ratios = {gdc: float(jnp.mean(jnp.abs(x @ analog_kernel(jax.random.key(2), w, dev, YEAR,
                                                               gdc=gdc)))) / ref
              for gdc in (False, True)}
    # about (1 year / 20 s)^-0.05 ~ 0.5 without compensation, back to 1 with it
    assert ratios[False] < 0.6
    assert abs(ratios[True] - 1.0) < 0.05


def test_same_key_same_draw_and_new_key_new_draw():
    w = jax.random.normal(jax.random.key(0), (32, 8))
    a = analog_kernel(jax.random.key(1), w, PCM, 3600.0)
    b = analog_kernel(jax.random.key(1), w, PCM, 3600.0)
    c = analog_kernel(jax.random.key(2), w, PCM, 3600.0)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))


def test_presets_carry_aihwkit_constants():
    assert {"ideal", "pcm", "pcm_4bit", "rram_like"} <= set(DEVICES)
    assert (PCM.g_max, PCM.t0, PCM.t_read) == (25.0, 20.0, 250e-9)
    assert dv.PROG_COEFF == (0.26348, 1.9650, -1.1731)
    assert DEVICES["pcm_4bit"].levels == 16
    assert all(d.source for d in DEVICES.values())


@pytest.mark.parametrize("call, message", [
    (lambda: get_device("memristor9000"), "device='memristor9000' is not allowed: must be one of"),
    (lambda: get_device("pcm", g_max=0.0), "g_max=0.0 is not allowed: must be > 0"),
    (lambda: get_device("pcm", g_max=-25.0), "g_max=-25.0 is not allowed: must be > 0"),
    (lambda: get_device("pcm", g_min=30.0), "g_min=30.0 is not allowed: must be < g_max=25.0"),
    (lambda: get_device("pcm", levels=1), "levels=1 is not allowed: must be >= 2"),
    (lambda: hardware.bits_to_levels(0), "bits=0 is not allowed: must be >= 1"),
    (lambda: analog_params(jax.random.key(0), {}, "pcm", -1.0), "t=-1.0 is not allowed: must be >= 0"),
    (lambda: hardware.device_grid(None, {}, None, (np.zeros((2, 4)), np.zeros(2, int)), "pcm",
                                  [1.0, -5.0], draws=2, key=jax.random.key(0)),
     "times[1]=-5.0 is not allowed: must be >= 0"),
    (lambda: get_device("pcm", prog_noise=-1.0), "prog_noise=-1.0 is not allowed: must be >= 0"),
])
def test_bad_devices_fail_before_compute(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        call()
