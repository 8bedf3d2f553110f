"""rvlib's paper protocol against an independent transcription of the authors' script.

The oracle below is written from the equations in docs/protocol.md (the authors'
"HONEST SCIENTIFIC INVESTIGATION: What REALLY Improves Robustness?" v2.0), not
from rvlib: plain NumPy in float64, one image at a time, one update per
iteration, with the protocol's constants written out here.  Only the initial
weights and the noise come from JAX, because the authors draw them with
``jax.random.PRNGKey(42 + i)`` / ``PRNGKey(99 + i)``: those key draws are part of
the protocol (and are tested on their own below).

The exact-gradient variant is checked against ``jax.grad`` of the stated loss,
written in this file.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rvlib import data
from rvlib.paper import protocol

# The protocol's constants, written from the paper's script (not read from rvlib).
LR, ITERS, HIDDEN, FLOOR = 1e-3, 60, 128, 0.1
LAMS = (0.0, 1.0, 10.0)
LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
HEBB_ETA, DELTA_ETA, CROSSBAR_ITERS = 0.2, 0.01, 30
CLIPS = {"hebbian": None, "hebbian_0_2": (0.0, 2.0), "hebbian_0_1": (0.0, 1.0),
         "hebbian_0_0.5": (0.0, 0.5)}
T = np.array([1.0, 0.0])
# float32 engines vs the float64 oracle (measured differences are ~2e-6 at outputs ~4)
RTOL, ATOL = 1e-4, 1e-5


# ----------------------------------------------------------------------------- the authors' keys
@functools.lru_cache(maxsize=None)
def _mlp_draw(d):
    def draw(key):
        k1, k2 = jax.random.split(key)
        return (jax.random.uniform(k1, (d, HIDDEN), minval=-0.01, maxval=0.01),
                jax.random.uniform(k2, (HIDDEN, 2), minval=-0.01, maxval=0.01))
    return jax.jit(draw)


def authors_mlp_init(i, d):
    """``k1, k2 = random.split(random.PRNGKey(42 + i))``; U(-0.01, 0.01) for W1 [d, 128], W2 [128, 2]."""
    w1, w2 = _mlp_draw(d)(jax.random.PRNGKey(42 + i))
    return np.asarray(w1, np.float64), np.asarray(w2, np.float64)


def authors_crossbar_init(i, d):
    """``random.uniform(random.PRNGKey(42 + i), (d, 2), minval=0.0, maxval=0.01)``."""
    return np.asarray(jax.random.uniform(jax.random.PRNGKey(42 + i), (d, 2), minval=0.0,
                                         maxval=0.01), np.float64)


def authors_noise(i, d):
    """``random.normal(random.PRNGKey(99 + i), x.shape)``: one draw per image, every level."""
    return np.asarray(jax.random.normal(jax.random.PRNGKey(99 + i), (d,)), np.float64)


# ----------------------------------------------------------------------------- the oracle
def published_mlp(x, w1, w2, lam):
    """The authors' loop for one image.  Returns trained (W1, W2) and the margin before each step."""
    x, w1, w2 = (np.asarray(a, np.float64) for a in (x, w1, w2))
    margins = []
    for _ in range(ITERS):
        h = np.maximum(w1.T @ x, 0.0)          # hidden = relu(W1ᵀ x), no bias
        out = w2.T @ h                         # output = W2ᵀ hidden, no bias
        m = out[0] - out[1]
        margins.append(m)
        e = out - T                            # error = output - target
        e[0] -= lam / max(m, FLOOR)            # error[0] += -λ / max(margin, 0.1)
        grad_w2 = np.outer(h, e)
        grad_h = (w2 @ e) * (h > 0)            # W2 before its update
        grad_w1 = np.outer(x, grad_h)
        w2 = w2 - LR * grad_w2
        w1 = w1 - LR * grad_w1
    return w1, w2, np.array(margins)


def eval_inputs(x, eps):
    """f64[1 + L, d]: the clean image, then ``clip(x + σ·ε, 0, 1)`` for each σ."""
    x = np.asarray(x, np.float64)
    return np.stack([x] + [np.clip(x + s * eps, 0.0, 1.0) for s in LEVELS])


def mlp_outputs(xs, w1, w2, b1=0.0, b2=0.0):
    return np.maximum(xs @ w1 + b1, 0.0) @ w2 + b2


def crossbar_loop(x, w, rule, eta, clip):
    x, w = np.asarray(x, np.float64), w.copy()
    for _ in range(CROSSBAR_ITERS):
        if rule == "hebbian":
            w = w + eta * np.outer(x, T)
        else:
            w = w - eta * np.outer(x, w.T @ x - T)
        if clip is not None:
            w = np.clip(w, clip[0], clip[1])
    return w


def snr(out):
    return out[..., 0] / (out[..., 1] + 1e-9)


# ----------------------------------------------------------------------------- images
def varied_brightness(size):
    """Six images, ‖x‖² from ~4 to ~0.6·d: dark (‖x‖² < 200), typical, bright, noise."""
    scenes = data.flatten(data.depth_scenes(4, seed=7, size=size)[0]).astype(np.float64)
    rng = np.random.default_rng(3)
    x = np.stack([scenes[0], scenes[1] * 0.5, scenes[2] * 0.15, scenes[1] * 0.05,
                  np.clip(scenes[3] * 1.5 + 0.25, 0, 1), rng.uniform(0, 1, size * size)])
    x = x.astype(np.float32)
    norms = (x.astype(np.float64) ** 2).sum(1)
    assert (norms < 200).sum() >= 2 and norms.max() > 0.4 * size * size
    return x


@pytest.fixture(scope="module")
def small():
    """32×32 images (d = 1024): the engine × variant matrix stays cheap."""
    return varied_brightness(32)


@pytest.fixture(scope="module")
def full():
    """64×64 images (d = 4096): the paper's size, for the default master table."""
    return varied_brightness(64)[[0, 2, 4]]                 # typical, dark, bright


@pytest.fixture(scope="module")
def small_oracle(small):
    return _published_oracle(small)


def _published_oracle(x):
    """{lam: (W1 f64[n, d, h], W2 f64[n, h, 2], outputs f64[n, 1+L, 2], margins f64[n, ITERS])}."""
    n, d = x.shape
    res = {}
    for lam in LAMS:
        w1s, w2s, outs, ms = [], [], [], []
        for i in range(n):
            w1, w2, m = published_mlp(x[i], *authors_mlp_init(i, d), lam)
            w1s.append(w1), w2s.append(w2), ms.append(m)
            outs.append(mlp_outputs(eval_inputs(x[i], authors_noise(i, d)), w1, w2))
        res[lam] = tuple(np.array(a) for a in (w1s, w2s, outs, ms))
    return res


def _engine_outputs(r, k):
    """run_mlp result -> f32[n, 1 + L, 2] for λ index k (clean first, like the oracle)."""
    return np.concatenate([r["clean"][k][:, None], r["outputs"][k]], axis=1)


# ----------------------------------------------------------------------------- keys
def test_keys_are_the_authors():
    n, d = 3, 256
    p = protocol.init_mlps(42, n, d)
    assert set(p) == {"w1", "w2"}                          # the published MLP has no biases
    assert p["w1"].shape == (n, d, HIDDEN) and p["w2"].shape == (n, HIDDEN, 2)
    w0 = protocol.init_crossbars(42, n, d)
    x = np.full((n, d), 0.5, np.float32)
    xn = np.asarray(protocol.noisy_images(jnp.asarray(x), LEVELS))
    for i in range(n):
        w1, w2 = authors_mlp_init(i, d)
        np.testing.assert_array_equal(np.asarray(p["w1"][i], np.float64), w1)
        np.testing.assert_array_equal(np.asarray(p["w2"][i], np.float64), w2)
        np.testing.assert_array_equal(np.asarray(w0[i], np.float64), authors_crossbar_init(i, d))
        eps = authors_noise(i, d)
        for l, s in enumerate(LEVELS):                    # one draw, reused at every level
            np.testing.assert_allclose(xn[l, i], np.clip(0.5 + s * eps, 0, 1), rtol=1e-6,
                                       atol=1e-7)
    pb = protocol.init_mlps(42, n, d, bias=True)           # gradient variant: same draws + zeros
    np.testing.assert_array_equal(pb["w1"], p["w1"])
    assert not np.any(pb["b1"]) and pb["b1"].shape == (n, HIDDEN) and pb["b2"].shape == (n, 2)


# ----------------------------------------------------------------------------- published update
def test_oracle_covers_the_floor_and_both_control_signs(small_oracle):
    """The images exercise what distinguishes the published update (else the test is weak)."""
    for lam in (1.0, 10.0):
        margins = small_oracle[lam][3]
        assert (margins < FLOOR).any() and (margins > FLOOR).any()   # push on below the floor
    out = np.concatenate([small_oracle[lam][2] for lam in LAMS])
    assert (out[..., 1] < 0).mean() > 0.2 and (out[..., 1] > 0).mean() > 0.1
    assert ((out[..., 0] - out[..., 1]) < FLOOR).any()              # evaluation rows below floor


@pytest.mark.parametrize("engine", ["lowrank", "dense"])
def test_published_engine_outputs_match_oracle(small, small_oracle, engine):
    r = protocol.run_mlp(small, LAMS, engine=engine)                 # default: published
    for k, lam in enumerate(LAMS):
        np.testing.assert_allclose(_engine_outputs(r, k), small_oracle[lam][2], rtol=RTOL,
                                   atol=ATOL, err_msg=f"lam={lam}")


@jax.jit
def _train_lowrank(p, x, lam):
    return jax.vmap(lambda p, xi: protocol.train_mlp_lowrank(p, xi, lam))(p, x)


@jax.jit
def _train_dense(p, x, lam):
    return jax.vmap(lambda p, xi: protocol.train_mlp_dense(p, xi, lam))(p, x)


@pytest.mark.parametrize("engine", ["lowrank", "dense"])
def test_published_trained_weights_match_oracle(small, small_oracle, engine):
    n, d = small.shape
    p0 = protocol.init_mlps(42, n, d)
    x = jnp.asarray(small)
    for lam in LAMS:
        if engine == "lowrank":
            q = _train_lowrank(p0, x, jnp.float32(lam))
            assert set(q) == {"c", "w2"}
            w1 = np.asarray(p0["w1"], np.float64) + np.einsum("nd,nh->ndh", small, q["c"])
        else:
            q = _train_dense(p0, x, jnp.float32(lam))
            assert set(q) == {"w1", "w2"}
            w1 = q["w1"]
        want_w1, want_w2 = small_oracle[lam][:2]
        np.testing.assert_allclose(w1, want_w1, rtol=RTOL, atol=1e-7, err_msg=f"lam={lam}")
        np.testing.assert_allclose(q["w2"], want_w2, rtol=RTOL, atol=1e-6, err_msg=f"lam={lam}")


def test_default_master_table_matches_oracle(full):
    """``run_paper_protocol`` at the paper's size, defaults only: MLP and crossbar rows."""
    n, d = full.shape
    res = protocol.run_paper_protocol(full)
    oracle = _published_oracle(full)
    for key, lam in [("mlp_standard", 0.0), ("mlp_margin1", 1.0), ("mlp_margin10", 10.0)]:
        want = oracle[lam][2]                                         # f64[n, 1 + L, 2]
        np.testing.assert_allclose(res[key]["clean"], want[:, 0], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(res[key]["outputs"], want[:, 1:], rtol=RTOL, atol=ATOL)
        got, ref = np.asarray(res[key]["outputs"], np.float64), want[:, 1:]
        # SNR = out0 / (out1 + 1e-9) where the control output is not within rounding of 0
        ok = np.abs(ref[..., 1]) > 1e-3
        assert ok.mean() > 0.5
        np.testing.assert_allclose(snr(got)[ok], snr(ref)[ok], rtol=2e-2)
        sure = np.abs(ref[..., 0] - ref[..., 1]) > 1e-4                 # correct = out0 > out1
        np.testing.assert_array_equal((got[..., 0] > got[..., 1])[sure],
                                      (ref[..., 0] > ref[..., 1])[sure])
        row = protocol.summarize_method(res[key])
        assert row["accuracy"] == pytest.approx(np.mean(ref[..., 0] > ref[..., 1]))
        assert row["frac_control_negative"] == pytest.approx(np.mean(ref[..., 1] < 0))
        assert row["out0_mean"] == pytest.approx(ref[..., 0].mean(), rel=1e-4)
    # crossbars: Hebbian at every clip range and the delta rule, same keys and noise
    for key, clip in CLIPS.items():
        for i in range(n):
            w = crossbar_loop(full[i], authors_crossbar_init(i, d), "hebbian", HEBB_ETA, clip)
            np.testing.assert_allclose(res[key]["weights"][i], w, rtol=1e-5, atol=1e-6)
            out = eval_inputs(full[i], authors_noise(i, d))[1:] @ w
            np.testing.assert_allclose(res[key]["outputs"][i], out, rtol=1e-4, atol=1e-5)
    for i in range(n):
        w = crossbar_loop(full[i], authors_crossbar_init(i, d), "delta", DELTA_ETA, None)
        stable = DELTA_ETA * float(full[i].astype(np.float64) @ full[i]) < 2
        if stable:
            np.testing.assert_allclose(res["sgd"]["weights"][i], w, rtol=1e-4, atol=1e-5)
            assert not res["sgd"]["diverged"][i]
        else:   # beyond 2/‖x‖² the error grows geometrically; float32 keeps the direction
            got = np.asarray(res["sgd"]["weights"][i], np.float64)
            assert res["sgd"]["diverged"][i] == (not np.all(np.abs(w) < 3.4e38))
            if np.all(np.isfinite(got)):
                np.testing.assert_allclose(got, w, rtol=1e-3)


# ----------------------------------------------------------------------------- gradient variant
def stated_loss(params, x, lam):
    """``Σ(out − t)² − λ·log(max(out0 − out1, 0.1))`` of the MLP, written here."""
    pre = x @ params["w1"] + params.get("b1", 0.0)
    out = jax.nn.relu(pre) @ params["w2"] + params.get("b2", 0.0)
    return jnp.sum((out - jnp.array([1.0, 0.0])) ** 2) - lam * jnp.log(
        jnp.maximum(out[0] - out[1], FLOOR))


@jax.jit
def _gd_step(params, x, lam):
    g = jax.grad(stated_loss)(params, x, lam)
    return {k: params[k] - LR * g[k] for k in params}


GRAD_IMAGES = [0, 2, 4, 5]      # typical, dark, bright, uniform noise


@functools.lru_cache(maxsize=None)
def _gradient_oracle(bias: bool):
    """Plain gradient descent on ``stated_loss`` per image -> f64[K λ, n, 1 + L, 2] outputs."""
    x = varied_brightness(32)[GRAD_IMAGES]
    n, d = x.shape
    res = []
    for lam in LAMS:
        want = []
        for i in range(n):
            w1, w2 = authors_mlp_init(i, d)
            params = {"w1": jnp.float32(w1), "w2": jnp.float32(w2)}
            if bias:
                params |= {"b1": jnp.zeros(HIDDEN), "b2": jnp.zeros(2)}
            for _ in range(ITERS):
                params = _gd_step(params, jnp.asarray(x[i]), jnp.float32(lam))
            p = {k: np.asarray(v, np.float64) for k, v in params.items()}
            want.append(mlp_outputs(eval_inputs(x[i], authors_noise(i, d)), p["w1"], p["w2"],
                                    p.get("b1", 0.0), p.get("b2", 0.0)))
        res.append(want)
    return np.array(res)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("engine", ["lowrank", "dense"])
def test_gradient_variant_matches_jax_grad(small, small_oracle, engine, bias):
    want = _gradient_oracle(bias)
    x = small[GRAD_IMAGES]
    r = protocol.run_mlp(x, LAMS, engine=engine, update="gradient", bias=bias)
    for k, lam in enumerate(LAMS):
        got = _engine_outputs(r, k)
        np.testing.assert_allclose(got, want[k], rtol=RTOL, atol=ATOL, err_msg=f"lam={lam}")
        if lam > 0:   # and the choice matters: the published update lands elsewhere
            assert np.abs(got - small_oracle[lam][2][GRAD_IMAGES]).max() > 0.1
