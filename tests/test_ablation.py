"""λ ablation helpers: hand-computed summaries, the protocol under corruptions, seed tables."""
import re

import numpy as np
import pytest

from rvlib import ablation, models, paper
from rvlib.paper import protocol


@pytest.fixture(scope="module")
def small_scenes():
    rng = np.random.default_rng(3)
    return (rng.uniform(0, 1, (3, 8, 8, 1)) * 0.7).astype(np.float32)


def test_binary_summary_hand_computed():
    out = np.array([[2.0, 1.0], [1.0, -0.5], [0.5, 1.0], [3.0, 0.5]])
    s = ablation.binary_summary(out)
    snr = np.array([2.0, -2.0, 0.5, 6.0])  # out0 / out1 (eps negligible)
    assert s["snr_mean"] == pytest.approx(snr.mean(), rel=1e-6)
    assert s["snr_median"] == pytest.approx(1.25, rel=1e-6)
    assert s["margin_median"] == pytest.approx(np.median([1.0, 1.5, -0.5, 2.5]))
    assert s["out0_mean"] == pytest.approx(1.625)
    assert s["frac_control_negative"] == 0.25
    assert s["accuracy"] == 0.75
    assert s["snr_top5_share"] == pytest.approx(1.0)  # 4 values: the top 5 are all of them


def test_binary_summary_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"outputs.shape=\(2, 3\) is not allowed: must end in 2"):
        ablation.binary_summary(np.zeros((2, 3)))


def test_paper_lambda_rows_match_run_mlp(small_scenes):
    x = small_scenes.reshape(3, -1)
    rows = ablation.paper_lambda_rows(x, [0, 10])
    res = protocol.run_mlp(x, [0.0, 10.0])
    for k, row in enumerate(rows):
        o = res["outputs"][k].astype(np.float64)
        assert row["lam"] == [0.0, 10.0][k] and isinstance(row["lam"], float)
        assert row["margin_median"] == pytest.approx(np.median(o[..., 0] - o[..., 1]), rel=1e-6)
        assert row["snr_median"] == pytest.approx(np.median(o[..., 0] / (o[..., 1] + 1e-9)),
                                                  rel=1e-6)
    # the margin term must widen the clean margin
    assert rows[1]["clean_margin_median"] > rows[0]["clean_margin_median"]


def test_paper_lambda_rows_rejects_negative_lambda():
    with pytest.raises(ValueError, match=r"lams\[1\]=-1.0 is not allowed: must be >= 0"):
        ablation.paper_lambda_rows(np.zeros((1, 4), np.float32), [0.0, -1.0])


def test_paper_response_equals_protocol(small_scenes):
    x = small_scenes.reshape(3, -1)
    resp = ablation.paper_response(x[1], 1.0)
    res = protocol.run_mlp(x[1:2], [1.0])
    np.testing.assert_allclose(resp["out0"][0], res["clean"][0, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(resp["out1"][1:], res["outputs"][0, 0, :, 1], rtol=1e-6)
    assert resp["sigma"][0] == 0.0 and len(resp["sigma"]) == 1 + 7


def test_protocol_under_corruptions_at_zero_is_clean(small_scenes):
    rows = ablation.paper_protocol_under_corruptions(
        small_scenes, methods=["hebbian_0_1", "mlp_margin10"],
        corruption_names=["gaussian", "occlusion"], severities=[0.0, 0.5])
    assert len(rows) == 2 * 2 * 2
    x = small_scenes.reshape(3, -1)
    heb = protocol.run_crossbar(x, rule="hebbian", eta=0.2, iters=30, clip=(0.0, 1.0))["clean"]
    mlp = protocol.run_mlp(x, [10.0])["clean"][0]
    for r in rows:
        if r["severity"] == 0.0:
            ref = ablation.binary_summary(heb if r["method"] == "hebbian_0_1" else mlp)
            assert r["margin_median"] == pytest.approx(ref["margin_median"], rel=1e-5)
            assert r["degradation"] == 0.0
    noisy = [r for r in rows if r["severity"] == 0.5 and r["corruption"] == "gaussian"]
    clean = [r for r in rows if r["severity"] == 0.0 and r["corruption"] == "gaussian"]
    assert all(a["margin_median"] != b["margin_median"] for a, b in zip(noisy, clean))


def test_protocol_under_corruptions_rejects_unknown_method(small_scenes):
    with pytest.raises(ValueError, match=r"methods\[0\]='sgd' is not allowed: must be one of"):
        ablation.paper_protocol_under_corruptions(small_scenes, methods=["sgd"])


def test_seed_table_and_linear_fit():
    rows = [{"lam": 1.0, "a": 1.0}, {"lam": 0.0, "a": 2.0}, {"lam": 1.0, "a": 3.0}]
    t = ablation.seed_table(rows, "lam", ["a"])
    assert [r["lam"] for r in t] == [0.0, 1.0]
    assert t[1]["a"] == 2.0 and t[1]["a_std"] == 1.0 and t[1]["n"] == 2
    t2 = ablation.seed_table(rows + [{"lam": 1.0, "a": 5.0}], ("lam",), ["a"])
    assert t2[1]["a"] == 3.0 and t2[1]["n"] == 3
    wide = ablation.pivot([{"m": "x", "s": 0.0, "v": 1}, {"m": "x", "s": 0.5, "v": 2},
                           {"m": "y", "s": 0.0, "v": 3}], ["m"], "s", "v")
    assert wide == [{"m": "x", "0": 1, "0.5": 2}, {"m": "y", "0": 3}]
    fit = ablation.linear_fit([0, 1, 2], [1, 3, 5])
    assert fit["slope"] == pytest.approx(2.0) and fit["r2"] == pytest.approx(1.0)
    assert fit["top_point_share"] == pytest.approx(0.5)  # deviations 4, 0, 4 of SS_tot 8
    fit = ablation.linear_fit([0, 1, 2, 3], [0, 1, 0, 1])  # hand: slope 0.2, R² = 0.2
    assert fit["slope"] == pytest.approx(0.2) and fit["r2"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match=r"x=\[1.0, 1.0\] is not allowed: must hold at least two"):
        ablation.linear_fit([1, 1], [0, 1])


def test_train_lambda_models_and_metrics():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (64, 4, 4, 1)).astype(np.float32)
    y = (x.reshape(64, -1).mean(1) > 0.5).astype(np.int32)
    fit = ablation.train_lambda_models(
        lambda s: models.make_model("mlp", seed=s, in_features=16, hidden=8, classes=2),
        (x, y), (x, y), lams=[0.0, 10.0], seeds=[0], epochs=2, batch_size=32, lr=1e-2,
        extra=[(10.0, 0), (1.0, 1)])
    assert fit["configs"] == [{"lam": 0.0, "seed": 0}, {"lam": 10.0, "seed": 0},
                              {"lam": 1.0, "seed": 1}]
    m = ablation.classifier_metrics(fit["models"][1], x, y, batch_size=20)
    logits = np.asarray(fit["models"][1](x), np.float64)
    margin = np.where(y == 1, logits[:, 1] - logits[:, 0], logits[:, 0] - logits[:, 1])
    assert m["margin_median"] == pytest.approx(np.median(margin), rel=1e-4, abs=1e-6)
    assert m["snr_median"] == pytest.approx(np.median(np.exp(margin)), rel=1e-4)
    assert m["accuracy"] == pytest.approx(np.mean(margin > 0))
    assert len(fit["histories"][0]) == 2


def test_train_lambda_models_rejects_bad_input():
    with pytest.raises(ValueError, match=r"seeds=\[\] is not allowed"):
        ablation.train_lambda_models(None, None, None, lams=[0.0], seeds=[], epochs=1)
    with pytest.raises(ValueError, match=r"lams\[0\]=-0.5 is not allowed: must be >= 0"):
        ablation.train_lambda_models(None, None, None, lams=[-0.5], seeds=[0], epochs=1)


def test_lambda_explorer_builds_and_redraws(small_scenes):
    pytest.importorskip("ipywidgets")
    import matplotlib
    matplotlib.use("Agg")
    box = ablation.lambda_explorer(small_scenes[0].ravel(), lams=[0.0, 1.0], value=10.0)
    slider = box.children[0]
    assert [v for _, v in slider.options] == [0.0, 1.0, 10.0] and slider.value == 10.0
    slider.value = 0.0  # runs the callback: retrains and redraws without error


def test_train_lambda_models_is_cross_entropy_plus_margin():
    """The batched models equal train.fit with margin_loss(base="ce") (not the paper's MSE base)."""
    import optax

    from rvlib import losses, train

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (48, 4, 4, 1)).astype(np.float32)
    y = rng.integers(0, 3, 48).astype(np.int32)
    make = lambda s: models.make_model("mlp", seed=s, in_features=16, hidden=8, classes=3)  # noqa
    fit = ablation.train_lambda_models(make, (x, y), None, lams=[5.0], seeds=[2], epochs=2,
                                       batch_size=16, lr=1e-2)
    g, st, _ = train.fit(make(2), optax.adam(1e-2), losses.get_loss("margin_loss", lam=5.0,
                         base="ce"), (x, y), epochs=2, batch_size=16, seed=2, progress=False)
    np.testing.assert_allclose(fit["models"][0](x), train.predict(g, st, x), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- notebook setup
# The notebooks' own defaults: each setup must accept them and record them unchanged.
MARGIN = dict(seed=0, quick=False, run_name="default", lam=1.0, lams_paper=[0.0, 1.0, 10.0],
              lams_controlled=[0.0, 0.1, 1.0, 10.0, 20.0], seeds=[0, 1, 2], epochs=30, lr=0.003,
              batch_size=64, hidden=128, n_images=50)
ROBUST = dict(seed=0, quick=False, run_name="default", lams=[0.0, 1.0, 10.0], lam_margin=10.0,
              seeds=[0, 1, 2], epochs=30, lr=0.003, batch_size=64, hidden=128,
              severities=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], n_scenes=50)


def _raises(setup, params, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        setup(**params)


def test_margin_setup_adds_lam_coerces_and_shrinks():
    cfg = ablation.margin_setup(**MARGIN)
    assert cfg.params == MARGIN and list(cfg.params) == list(MARGIN)
    cfg = ablation.margin_setup(**MARGIN | {"lam": 5, "lams_paper": [10, 0, 10],
                                            "lams_controlled": 20})
    assert cfg.lam == 5.0 and isinstance(cfg.lam, float)
    assert cfg.lams_paper == [0.0, 5.0, 10.0]       # sorted, no repeats, lam added
    assert cfg.lams_controlled == [5.0, 20.0]       # a bare number is a list of one
    assert all(isinstance(v, float) for v in cfg.lams_paper + cfg.lams_controlled)
    q = ablation.margin_setup(**MARGIN | {"quick": True, "seed": 2})
    assert (q.seeds, q.epochs, q.n_images) == ([2], 20, 50) and q.params["seeds"] == [2]
    assert ablation.margin_setup(**MARGIN | {"quick": True, "epochs": 5}).epochs == 5


@pytest.mark.parametrize("key, value, message", [
    ("lam", -1, "lam=-1.0 is not allowed: must be >= 0"),
    ("lams_controlled", [0, -1], "lams_controlled[1]=-1.0 is not allowed: must be >= 0"),
    ("seeds", [0, 1.5], "seeds[1]=1.5 is not allowed: must be an integer"),
    ("seeds", [0, 0], "seeds=[0, 0] is not allowed: must not repeat a seed"),
    ("hidden", 0, "hidden=0 is not allowed: must be > 0"),
    ("quick", "no", "quick='no' is not allowed: must be one of True, False"),
])
def test_margin_setup_errors(key, value, message):
    _raises(ablation.margin_setup, MARGIN | {key: value}, message)


def test_robustness_setup_coerces_and_shrinks():
    cfg = ablation.robustness_setup(**ROBUST)
    assert cfg.params == ROBUST and list(cfg.params) == list(ROBUST)
    cfg = ablation.robustness_setup(**ROBUST | {"lams": [10, 0, 1, 0], "lam_margin": 10,
                                                "severities": [0, 0.5, 1]})
    assert cfg.lams == [0.0, 1.0, 10.0] and cfg.lam_margin == 10.0
    assert isinstance(cfg.lam_margin, float) and all(isinstance(v, float) for v in cfg.lams)
    assert cfg.severities == [0.0, 0.5, 1.0] and all(isinstance(s, float) for s in cfg.severities)
    q = ablation.robustness_setup(**ROBUST | {"quick": True, "seeds": [3, 1]})
    assert (q.seeds, q.epochs, q.n_scenes) == ([3], 15, 10) and q.params["n_scenes"] == 10
    small = ablation.robustness_setup(**ROBUST | {"quick": True, "epochs": 5, "n_scenes": 3})
    assert (small.epochs, small.n_scenes) == (5, 3)


@pytest.mark.parametrize("key, value, message", [
    ("lams", [1.0, 10.0], "lams=[1.0, 10.0] is not allowed: must contain 0 (the baseline) and "
                          "lam_margin=10.0 > 0"),
    ("lam_margin", 5, "lams=[0.0, 1.0, 10.0] is not allowed: must contain 0 (the baseline) and "
                      "lam_margin=5.0 > 0"),
    ("lam_margin", 0, "lams=[0.0, 1.0, 10.0] is not allowed: must contain 0 (the baseline) and "
                      "lam_margin=0.0 > 0"),
    ("severities", [0.0, 0.3],
     "severities=[0.0, 0.3] is not allowed: must contain 0.0 (clean) and 0.5"),
    ("severities", [0.0, 0.5, 1.5], "severities[2]=1.5 is not allowed: must be <= 1.0"),
    ("seeds", [], "seeds=[] is not allowed: must contain at least one seed"),
    ("n_scenes", 0, "n_scenes=0 is not allowed: must be > 0"),
])
def test_robustness_setup_errors(key, value, message):
    _raises(ablation.robustness_setup, ROBUST | {key: value}, message)


def test_half_noise_summary_checklist():
    def row(acc, deg):
        return {"accuracy": acc, "accuracy_std": 0.01, "degradation": deg, "margin_median": 2 * acc}

    half = ablation.half_noise_summary(row(0.6, 0.35), row(0.8, 0.1), lam_margin=10.0)
    assert half["baseline_accuracy"] == 0.6 and half["margin_degradation"] == 0.1
    assert half["margin_margin_median"] == 1.6 and half["lam_margin"] == 10.0
    assert half["paper_margin_accuracy"] == paper.ACCURACY_AT_HALF["mlp_margin10"]
    assert half["checklist_baseline_below_70"] is True        # 0.6 < 0.70
    assert half["checklist_margin_keeps_85"] is False         # 0.8 is not > 0.85
    half = ablation.half_noise_summary(row(0.7, 0.2), row(0.9, 0.05), lam_margin=1.0)
    assert half["checklist_baseline_below_70"] is False
    assert half["checklist_margin_keeps_85"] is True
