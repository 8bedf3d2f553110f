"""paper.crossbar_studies: crossbar sweeps against the protocol, the closed form, table rows."""
import jax.numpy as jnp
import numpy as np
import pytest

from rvlib.paper import crossbar_studies as ex
from rvlib import rules
from rvlib.paper import protocol

LEVELS = (0.1, 0.5)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(3)
    return (rng.uniform(0, 1, (4, 256)) * 0.6).astype(np.float32)


@pytest.fixture(scope="module")
def hebb(images):
    """One program: unconstrained, [0, 1], [0, 0.5] and init scale 0.001."""
    return ex.crossbar_sweep(images, [{}, {"clip": (0, 1)}, {"clip": (0, 0.5)},
                                      {"init_scale": 0.001}], levels=LEVELS)


def test_sweep_equals_protocol_run_crossbar(images, hebb):
    for r, clip in zip(hebb[:3], (None, (0.0, 1.0), (0.0, 0.5))):
        want = protocol.run_crossbar(images, rule="hebbian", eta=0.2, iters=30, clip=clip,
                                     levels=LEVELS)
        assert r["outputs"].shape == (4, 2, 2) and r["weights"].shape == (4, 256, 2)
        np.testing.assert_allclose(r["weights"], want["weights"], rtol=1e-6)
        np.testing.assert_allclose(r["outputs"], want["outputs"], rtol=1e-5)
    eta = protocol.stable_delta_eta(images)
    d = ex.crossbar_sweep(images, [{"eta": eta}], rule="delta", levels=LEVELS)[0]
    want = protocol.run_crossbar(images, rule="delta", eta=eta, iters=30, levels=LEVELS)
    np.testing.assert_allclose(d["outputs"], want["outputs"], rtol=1e-4, atol=1e-6)


def test_control_column_is_the_scaled_init(images, hebb):
    """Hebbian never writes column 1: it is the published U[0, s] draw, linear in s."""
    w0 = np.asarray(protocol.init_crossbars(protocol.PAPER_SEED, 4, 256))
    np.testing.assert_allclose(hebb[0]["weights"][..., 1], w0[..., 1], rtol=1e-6)
    np.testing.assert_allclose(hebb[3]["outputs"][..., 1], hebb[0]["outputs"][..., 1] / 10,
                               rtol=1e-5)


def test_snr_prediction_formula(images, hebb):
    pred = ex.hebbian_snr_prediction(images, levels=LEVELS)
    xn = np.asarray(protocol.noisy_images(jnp.asarray(images), LEVELS), np.float64)
    want = 1 + 1200 * (images[1] @ xn[1, 1]) / xn[1, 1].sum()      # image 1 at σ = 0.5
    np.testing.assert_allclose(pred[1, 1], want, rtol=1e-6)
    out = hebb[0]["outputs"]
    measured = out[..., 0] / out[..., 1]
    np.testing.assert_allclose(pred, measured, rtol=0.1)      # init replaced by its mean


def test_clip_rows_ceiling_and_penalty(hebb):
    rows = ex.clip_rows(hebb[:3], levels=LEVELS)
    assert [r["clip"] for r in rows] == ["none", "[0, 1]", "[0, 0.5]"]
    assert rows[1]["ceiling"] == pytest.approx(200.0) and rows[2]["ceiling"] == pytest.approx(100)
    assert all(r["snr_mean"] <= r["ceiling"] * 1.05 for r in rows[1:])
    assert rows[1]["penalty_mean_pct"] == pytest.approx(
        100 * (rows[1]["snr_mean"] / rows[0]["snr_mean"] - 1))
    assert rows[1]["paper_penalty_pct"] == pytest.approx(100 * (169.30 / 274.17 - 1))
    with pytest.raises(ValueError, match=r"results=.*must include an unconstrained"):
        ex.clip_rows(hebb[1:3], levels=LEVELS)


def test_delta_rows_follow_the_stability_limit(images):
    limit = rules.delta_stability_limit(images)
    etas = [0.5 * limit.min(), float(np.median(limit)) * 1.0001, 3 * limit.max()]
    rows = ex.delta_rows(images, ex.crossbar_sweep(images, [{"eta": e} for e in etas],
                                                   rule="delta", levels=LEVELS), levels=LEVELS)
    assert [r["fraction_stable"] for r in rows] == [1.0, float(np.mean(etas[1] < limit)), 0.0]
    assert rows[0]["accuracy"] == 1.0 and rows[2]["accuracy"] == 0.0
    assert rows[2]["w_absmax"] > 1e6 > rows[0]["w_absmax"]


def test_sweep_rejects_bad_configs(images):
    with pytest.raises(ValueError, match=r"configs\[1\].clip=.*g_min must be <= g_max"):
        ex.crossbar_sweep(images, [{}, {"clip": (1.0, 0.0)}])
    with pytest.raises(ValueError, match=r"configs\[0\]=.*keys must be among"):
        ex.crossbar_sweep(images, [{"lr": 0.1}])
