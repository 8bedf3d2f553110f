"""rvlib.experiments: crossbar sweeps against the protocol, closed forms, classifier helpers."""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rvlib import experiments as ex
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


def test_classifier_metrics_hand_case():
    logits = jnp.array([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0]])
    labels = jnp.array([0, 1])
    m = ex.classifier_metrics(logits, labels)
    assert m["accuracy"] == 0.5
    np.testing.assert_allclose(m["margin_median"], (2.0 - 2.0) / 2)
    p0 = np.exp(2) / (np.exp(2) + 2)
    p1 = np.exp(1) / (1 + np.exp(1) + np.exp(3))
    np.testing.assert_allclose(m["nll"], -(np.log(p0) + np.log(p1)) / 2, rtol=1e-5)


def test_train_classifier_learns_and_respects_clip():
    train, test = ex.load_split("digits", size=8, limit=600, test_limit=200)
    assert train[0].shape == (600, 8, 8, 1) and test[1].shape == (200,)
    _, hist, m = ex.train_classifier(train, test, model="mlp", epochs=3, lr=1e-2,
                                     clip=(0.0, 0.1))
    assert len(hist) == 3 and m["accuracy"] > 0.5               # chance is 0.1
    w = ex.kernel_weights(_)
    assert w.min() >= 0.0 and w.max() <= 0.1 and m["w_frac_negative"] == 0.0
    with pytest.raises(ValueError, match="model='resnet' is not allowed"):
        ex.train_classifier(train, test, model="resnet")


def test_load_split_errors(tmp_path):
    with pytest.raises(ValueError, match="dataset='svhn' is not allowed"):
        ex.load_split("svhn")
    with pytest.raises(ValueError, match="not prepared"):
        ex.load_split("mnist", limit=10, data_dir=tmp_path)


def test_load_split_turns_tfds_keyerror_into_clear_error(monkeypatch):
    import tensorflow_datasets as tfds

    def ungenerated(*args, **kwargs):   # what tfds 4.9 raises for a never-generated dataset
        raise KeyError("Trying to access `splits['train']` but `splits` is empty.")
    monkeypatch.setattr(tfds, "data_source", ungenerated)
    with pytest.raises(ValueError, match="name='cifar10' is not allowed: the TFDS dataset .* not prepared"):
        ex.load_split("cifar10")


# ----------------------------------------------------------------------------- notebook setup
# The notebooks' own defaults: each setup must accept them and record them unchanged.
BASELINE = dict(seed=42, quick=False, run_name="default", n_images=50, dataset="digits", size=16,
                epochs=15, batch_size=64, lr=0.001, cnn_seed=0, limit=20000)
HEBBIAN = dict(seed=42, quick=False, run_name="default", n_images=50, hebb_eta=0.2, delta_eta=0.01,
               iters=30, eta_ratios=[0.1, 0.3, 0.5, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0],
               init_scales=[0.1, 0.01, 0.001])
HARDWARE = dict(seed=42, quick=False, run_name="default", n_images=50, eta=0.2, iters=30,
                clip_ranges=[None, [0.0, 2.0], [0.0, 1.0], [0.0, 0.5]], custom_clip=[0.0, 0.25],
                dataset="digits", size=16, grad_model="mlp", epochs=10, lr=0.003, batch_size=64,
                grad_seed=0, signed_clip=[-0.5, 0.5], limit=20000)


def _raises(setup, params, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        setup(**params)


def test_baseline_setup_coerces_records_and_shrinks_only_the_cnn():
    cfg = ex.baseline_setup(**BASELINE)
    assert cfg.params == BASELINE and list(cfg.params) == list(BASELINE)
    cfg = ex.baseline_setup(**BASELINE | {"lr": 1, "size": 16.0, "quick": 0})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.params["lr"] == 1.0
    assert cfg.size == 16 and isinstance(cfg.size, int) and cfg.quick is False
    q = ex.baseline_setup(**BASELINE | {"quick": True})
    assert (q.epochs, q.limit, q.n_images, q.seed) == (4, 4000, 50, 42) and q.params["epochs"] == 4
    small = ex.baseline_setup(**BASELINE | {"quick": True, "epochs": 2, "limit": 100})
    assert (small.epochs, small.limit) == (2, 100)          # quick never grows a run
    assert ex.baseline_setup(**BASELINE | {"size": None}).size is None


@pytest.mark.parametrize("key, value, message", [
    ("lr", -0.1, "lr=-0.1 is not allowed: must be > 0"),
    ("epochs", 2.5, "epochs=2.5 is not allowed: must be an integer"),
    ("seed", -1, "seed=-1 is not allowed: must be >= 0"),
    ("size", 0, "size=0 is not allowed: must be > 0"),
    ("dataset", "svhn", "dataset='svhn' is not allowed: must be one of 'digits', 'mnist', "
                        "'fashion_mnist', 'cifar10'"),
    ("quick", "yes", "quick='yes' is not allowed: must be one of True, False"),
])
def test_baseline_setup_errors(key, value, message):
    _raises(ex.baseline_setup, BASELINE | {key: value}, message)


def test_hebbian_setup_sorts_adds_reference_and_thins_the_sweep():
    cfg = ex.hebbian_setup(**HEBBIAN)
    assert cfg.params == HEBBIAN and cfg.init_scales == [0.1, 0.01, 0.001]
    cfg = ex.hebbian_setup(**HEBBIAN | {"eta_ratios": [2, 1, 3], "init_scales": 1, "hebb_eta": 1})
    assert cfg.eta_ratios == [1.0, 2.0, 3.0] and all(isinstance(r, float) for r in cfg.eta_ratios)
    assert cfg.init_scales == [1.0, ex.INIT_SCALE]            # the paper's init stays the reference
    assert cfg.hebb_eta == 1.0 and isinstance(cfg.hebb_eta, float)
    q = ex.hebbian_setup(**HEBBIAN | {"quick": True})
    assert q.eta_ratios == [0.1, 0.5, 0.9, 1.1, 1.5, 3.0] and q.params["eta_ratios"] == q.eta_ratios
    assert (q.iters, q.n_images) == (30, 50)


@pytest.mark.parametrize("key, value, message", [
    ("eta_ratios", [0.5, -1], "eta_ratios[1]=-1.0 is not allowed: must be > 0"),
    ("init_scales", [0.0], "init_scales[0]=0.0 is not allowed: must be > 0"),
    ("iters", 0, "iters=0 is not allowed: must be > 0"),
    ("delta_eta", "fast", "delta_eta='fast' is not allowed: must be a number"),
])
def test_hebbian_setup_errors(key, value, message):
    _raises(ex.hebbian_setup, HEBBIAN | {key: value}, message)


def test_hardware_setup_collects_ranges_and_shrinks_epochs():
    cfg = ex.hardware_setup(**HARDWARE)
    assert cfg.clips == [None, (0.0, 2.0), (0.0, 1.0), (0.0, 0.5), (0.0, 0.25)]
    assert cfg.grad_clips == cfg.clips + [(-0.5, 0.5)]
    assert cfg.params["clips"] == ["none", "[0, 2]", "[0, 1]", "[0, 0.5]", "[0, 0.25]"]
    assert cfg.params["signed_clip"] == (-0.5, 0.5) and "limit" not in cfg.params
    cfg = ex.hardware_setup(**HARDWARE | {"clip_ranges": [[0, 1], None, [0, 1]], "eta": 1,
                                          "custom_clip": [0, 2], "signed_clip": [0, 2]})
    assert cfg.clips == [None, (0.0, 1.0), (0.0, 2.0)]           # reference first, no repeats
    assert cfg.grad_clips == cfg.clips                            # signed range already present
    assert cfg.eta == 1.0 and isinstance(cfg.eta, float)
    assert ex.hardware_setup(**HARDWARE | {"quick": True}).epochs == 4
    assert ex.hardware_setup(**HARDWARE | {"quick": True, "epochs": 2}).epochs == 2


@pytest.mark.parametrize("key, value, message", [
    ("custom_clip", [1, 0], "custom_clip=[1, 0] is not allowed: g_min must be <= g_max, "
                            "got g_min=1.0 > g_max=0.0"),
    ("clip_ranges", [None, "wide"], "clip_ranges[1]='wide' is not allowed: must be None or a pair "
                                    "(g_min, g_max) of numbers"),
    ("grad_model", "resnet", "grad_model='resnet' is not allowed: must be one of 'cnn', 'mlp'"),
    ("batch_size", 0, "batch_size=0 is not allowed: must be > 0"),
    ("limit", -5, "limit=-5 is not allowed: must be > 0"),
])
def test_hardware_setup_errors(key, value, message):
    _raises(ex.hardware_setup, HARDWARE | {key: value}, message)
