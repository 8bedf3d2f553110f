"""paper.lambda_study: the λ rows of the paper protocol, one-image responses, the controlled λ grid."""
import numpy as np
import pytest

from rvlib import metrics, models, training
from rvlib.paper import lambda_study, protocol
from rvlib.paper.reference import METHODS


@pytest.fixture(scope="module")
def small_scenes():
    rng = np.random.default_rng(3)
    return (rng.uniform(0, 1, (3, 8, 8, 1)) * 0.7).astype(np.float32)


def test_paper_lambda_rows_match_run_mlp(small_scenes):
    x = small_scenes.reshape(3, -1)
    rows = lambda_study.paper_lambda_rows(x, [0, 10])
    res = protocol.run_mlp(x, [0.0, 10.0])
    for k, row in enumerate(rows):
        o = res["outputs"][k].astype(np.float64)
        assert row["lam"] == [0.0, 10.0][k] and isinstance(row["lam"], float)
        assert row["margin_median"] == pytest.approx(np.median(o[..., 0] - o[..., 1]), rel=1e-6)
        assert row["snr_median"] == pytest.approx(np.median(o[..., 0] / (o[..., 1] + 1e-9)),
                                                  rel=1e-6)
    # the margin term must widen the clean margin
    assert rows[1]["clean_margin_median"] > rows[0]["clean_margin_median"]


@pytest.mark.parametrize("name, update, bias", [("published", "published", False),
                                                ("gradient", "gradient", False),
                                                ("gradient_bias", "gradient", True)])
def test_paper_lambda_rows_by_update_name(small_scenes, name, update, bias):
    x = small_scenes.reshape(3, -1)
    row = lambda_study.paper_lambda_rows(x, [1.0], update=name)[0]
    o = protocol.run_mlp(x, [1.0], update=update, bias=bias)["outputs"][0].astype(np.float64)
    assert row["update"] == name
    assert row["frac_control_negative"] == np.mean(o[..., 1] < 0)
    assert row["margin_median"] == pytest.approx(np.median(o[..., 0] - o[..., 1]), rel=1e-6)


def test_paper_lambda_rows_rejects_unknown_update():
    with pytest.raises(ValueError, match=r"^update='sgd' is not allowed: must be one of "
                                         r"'published', 'gradient', 'gradient_bias'$"):
        lambda_study.paper_lambda_rows(np.zeros((1, 4), np.float32), [0.0], update="sgd")


def test_paper_lambda_rows_rejects_negative_lambda():
    with pytest.raises(ValueError, match=r"lams\[1\]=-1.0 is not allowed: must be >= 0"):
        lambda_study.paper_lambda_rows(np.zeros((1, 4), np.float32), [0.0, -1.0])


def test_paper_response_equals_protocol(small_scenes):
    x = small_scenes.reshape(3, -1)
    resp = lambda_study.paper_response(x[1], 1.0)
    res = protocol.run_mlp(x[1:2], [1.0])
    np.testing.assert_allclose(resp["out0"][0], res["clean"][0, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(resp["out1"][1:], res["outputs"][0, 0, :, 1], rtol=1e-6)
    assert resp["sigma"][0] == 0.0 and len(resp["sigma"]) == 1 + 7


def test_train_lambda_models_and_metrics():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (64, 4, 4, 1)).astype(np.float32)
    y = (x.reshape(64, -1).mean(1) > 0.5).astype(np.int32)
    fit = lambda_study.train_lambda_models(
        lambda s: models.make_model("mlp", seed=s, in_features=16, hidden=8, classes=2),
        (x, y), (x, y), lams=[0.0, 10.0], seeds=[0], epochs=2, batch_size=32, lr=1e-2,
        extra=[(10.0, 0), (1.0, 1)])
    assert fit["configs"] == [{"lam": 0.0, "seed": 0}, {"lam": 10.0, "seed": 0},
                              {"lam": 1.0, "seed": 1}]
    m = metrics.classifier_metrics(training.predict_model(fit["models"][1], x, batch_size=20), y)
    logits = np.asarray(fit["models"][1](x), np.float64)
    margin = np.where(y == 1, logits[:, 1] - logits[:, 0], logits[:, 0] - logits[:, 1])
    assert m["margin_median"] == pytest.approx(np.median(margin), rel=1e-4, abs=1e-6)
    assert m["snr_median"] == pytest.approx(np.median(np.exp(margin)), rel=1e-4)
    assert m["accuracy"] == pytest.approx(np.mean(margin > 0))
    assert len(fit["histories"][0]) == 2


def test_train_lambda_models_rejects_bad_input():
    with pytest.raises(ValueError, match=r"seeds=\[\] is not allowed"):
        lambda_study.train_lambda_models(None, None, None, lams=[0.0], seeds=[], epochs=1)
    with pytest.raises(ValueError, match=r"lams\[0\]=-0.5 is not allowed: must be >= 0"):
        lambda_study.train_lambda_models(None, None, None, lams=[-0.5], seeds=[0], epochs=1)


def test_train_lambda_models_is_cross_entropy_plus_margin():
    """The batched models equal train.fit with margin_loss(base="ce") (not the paper's MSE base)."""
    import optax

    from rvlib import losses

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (48, 4, 4, 1)).astype(np.float32)
    y = rng.integers(0, 3, 48).astype(np.int32)
    make = lambda s: models.make_model("mlp", seed=s, in_features=16, hidden=8, classes=3)  # noqa
    fit = lambda_study.train_lambda_models(make, (x, y), None, lams=[5.0], seeds=[2], epochs=2,
                                       batch_size=16, lr=1e-2)
    g, st, _ = training.fit(make(2), optax.adam(1e-2), losses.get_loss("margin_loss", lam=5.0,
                         base="ce"), (x, y), epochs=2, batch_size=16, seed=2, progress=False)
    np.testing.assert_allclose(fit["models"][0](x), training.predict(g, st, x), rtol=1e-4, atol=1e-5)


def test_half_noise_summary_checklist():
    def row(acc, deg):
        return {"accuracy": acc, "accuracy_std": 0.01, "degradation": deg, "margin_median": 2 * acc}

    half = lambda_study.half_noise_summary(row(0.6, 0.35), row(0.8, 0.1), lam_margin=10.0)
    assert half["baseline_accuracy"] == 0.6 and half["margin_degradation"] == 0.1
    assert half["margin_margin_median"] == 1.6 and half["lam_margin"] == 10.0
    assert half["paper_margin_accuracy"] == METHODS["mlp_margin10"].paper_accuracy_at_half
    assert half["checklist_baseline_below_70"] is True        # 0.6 < 0.70
    assert half["checklist_margin_keeps_85"] is False         # 0.8 is not > 0.85
    half = lambda_study.half_noise_summary(row(0.7, 0.2), row(0.9, 0.05), lam_margin=1.0)
    assert half["checklist_baseline_below_70"] is False
    assert half["checklist_margin_keeps_85"] is True
