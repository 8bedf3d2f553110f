"""Divergence recorded as data; labels checked against the class count; image files read strictly."""
import math

import numpy as np
import pytest
from PIL import Image

from rvlib import losses, metrics, models, training
from rvlib.data.folders import load_image_folder
from rvlib.nb import records
from rvlib.paper import lambda_study
from rvlib.training.divergence import divergence


# ------------------------------------------------------------------ divergence

def test_divergence_finds_the_first_epoch_that_ran_away():
    h = [dict(epoch=1, step=10, train_loss=2.3, test_loss=2.2),
         dict(epoch=2, step=20, train_loss=1.9, test_loss=float("nan")),
         dict(epoch=3, step=30, train_loss=float("inf"), test_loss=float("nan"))]
    assert divergence(h) == {"diverged": True, "epoch": 2, "step": 20, "what": "test_loss",
                             "value": pytest.approx(float("nan"), nan_ok=True)}
    big = [dict(epoch=1, step=5, train_loss=3e13, test_loss=1.0)]
    assert divergence(big)["what"] == "train_loss" and divergence(big)["value"] == 3e13
    assert not divergence(big, loss_limit=1e14)["diverged"]
    fine = h[:1]
    assert divergence(fine) == {"diverged": False, "epoch": None, "step": None, "what": None,
                                "value": None}
    w = {"kernel": np.array([[1.0, np.nan]]), "count": np.array([3])}
    assert divergence(fine, w) == {"diverged": True, "epoch": 1, "step": 10, "what": "weights",
                                   "value": None}


@pytest.fixture(scope="module")
def digits_small():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(192, 64)).astype(np.float32)
    y = (np.arange(192) % 10).astype(np.int32)
    return (x[:128], y[:128]), (x[128:], y[128:])


def test_huge_learning_rate_finishes_and_records_divergence(digits_small, tmp_path):
    train, test = digits_small
    make = lambda s: models.make_model("mlp", seed=s, in_features=64, hidden=8,  # noqa: E731
                                       classes=10)
    fit = lambda_study.train_lambda_models(make, train, test, lams=[0.0], seeds=[0], epochs=2,
                                           batch_size=32, lr=1e6, extra=[(1.0, 0)])
    div = fit["divergence"]
    assert [(d["lam"], d["seed"]) for d in div] == [(0.0, 0), (1.0, 0)]
    assert all(d["diverged"] and d["epoch"] == 1 and d["step"] == 4 for d in div), div
    assert all(not math.isfinite(d["value"]) or abs(d["value"]) > 1e6 for d in div)
    assert all(len(h) == 2 for h in fit["histories"])         # it finished every epoch
    records.save_run(tmp_path, params={"lr": 1e6}, metrics={"divergence": div})
    saved = records.read_json(tmp_path / "results.json")["metrics"]["divergence"]
    assert saved[0]["diverged"] is True and saved[0]["epoch"] == 1


def test_snr_linearity_leaves_out_non_finite_points():
    rows = [{"lam": 0.0, "snr_median": 1.0}, {"lam": 1.0, "snr_median": 3.0},
            {"lam": 2.0, "snr_median": 5.0}, {"lam": 5.0, "snr_median": float("nan")}]
    line, power = lambda_study.snr_linearity(rows)
    assert line["n"] == 3 and line["slope"] == pytest.approx(2.0) and line["r2"] == pytest.approx(1.0)
    assert power["n"] == 2 and power["slope"] == pytest.approx(math.log10(5 / 3) / math.log10(2))


# ------------------------------------------------------------------ labels

LOGITS = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]], np.float32)


@pytest.mark.parametrize("fn", [losses.cross_entropy, losses.mse, losses.margin_loss,
                                metrics.accuracy, metrics.nll, metrics.logit_margin,
                                metrics.classifier_metrics])
@pytest.mark.parametrize("labels, found", [([0, 3], "found 3"), ([-1, 0], "found -1")])
def test_labels_outside_the_classes_are_refused(fn, labels, found):
    with pytest.raises(ValueError, match=r"^labels='\[.*\]' is not allowed: must be class "
                                         r"indices in \[0, 3\) for 3 classes; " + found):
        fn(LOGITS, np.array(labels, np.int32))


def test_fractional_labels_are_refused():
    with pytest.raises(ValueError, match=r"^labels=\[0.5, 1.0\] is not allowed: must be integer"):
        metrics.classifier_metrics(LOGITS, np.array([0.5, 1.0]))


@pytest.mark.parametrize("which", ["train", "test"])
def test_fit_refuses_labels_beyond_the_models_classes(digits_small, which, monkeypatch):
    import optax
    train, test = digits_small
    bad = (train[0], train[1] + 5) if which == "train" else (test[0], test[1] + 5)
    pair = (bad, test) if which == "train" else (train, bad)
    model = models.make_model("mlp", seed=0, in_features=64, hidden=8, classes=10)
    with pytest.raises(ValueError, match=rf"^{which} labels='\[\d+\.\.14\]' is not allowed: "
                                         r"must be class indices in \[0, 10\) for 10 classes"):
        training.fit(model, optax.sgd(0.1), losses.get_loss("cross_entropy"), *pair,
                     epochs=1, batch_size=32, progress=False)
    with pytest.raises(ValueError, match=rf"^{which} labels="):
        training.fit_many(lambda s: models.make_model("mlp", seed=s, in_features=64, hidden=8,
                                                      classes=10),
                          [{"seed": 0}], *pair, loss="cross_entropy", epochs=1, batch_size=32)


# ------------------------------------------------------------------ images

def _png(path, mode, size=(4, 4), color=None):
    Image.new(mode, size, color).save(path)
    return path


def test_image_size_is_parsed_strictly(tmp_path):
    _png(tmp_path / "a.png", "L", color=128)
    for bad in ("64", "(64, 64)", b"64"):
        with pytest.raises(ValueError, match=r"^size=.* is not allowed: must be None, an int or "
                                             r"a pair \(h, w\) of ints, not a string"):
            load_image_folder(tmp_path, size=bad)
    with pytest.raises(ValueError, match=r"^size\[0\]=True is not allowed: must be a number"):
        load_image_folder(tmp_path, size=(True, 4))
    assert load_image_folder(tmp_path, size=(6, 4))[0].shape == (1, 6, 4, 1)


def test_transparent_pixels_are_refused_or_composited(tmp_path):
    im = Image.new("RGBA", (2, 1), (255, 0, 0, 0))            # transparent red ...
    im.putpixel((1, 0), (0, 0, 255, 255))                     # ... beside opaque blue
    im.save(tmp_path / "t.png")
    with pytest.raises(ValueError, match=r"^file='.*t\.png' is not allowed: has transparent "
                                         r"pixels \(mode RGBA\): pass background="):
        load_image_folder(tmp_path, size=None)
    x, _ = load_image_folder(tmp_path, size=None, grayscale=False, background=1.0)
    np.testing.assert_allclose(x[0, 0], [[1, 1, 1], [0, 0, 1]])   # white shows, not red
    x, _ = load_image_folder(tmp_path, size=None, grayscale=False, background=(0, 1, 0))
    np.testing.assert_allclose(x[0, 0], [[0, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"^background=2.0 is not allowed: must be <= 1.0"):
        load_image_folder(tmp_path, background=2)
    (tmp_path / "t.png").unlink()
    _png(tmp_path / "la.png", "LA", color=(200, 100))
    with pytest.raises(ValueError, match=r"mode LA"):
        load_image_folder(tmp_path)
    x, _ = load_image_folder(tmp_path, size=None, background=0.0)
    # 200 * 100/255 over black, then RGB -> L: one gray level
    np.testing.assert_allclose(x[0, 0, 0, 0], round(200 * 100 / 255) / 255, atol=1 / 255)


def test_opaque_alpha_is_read_as_is(tmp_path):
    _png(tmp_path / "o.png", "RGBA", color=(10, 20, 30, 255))
    x, _ = load_image_folder(tmp_path, size=None, grayscale=False)
    np.testing.assert_allclose(x[0, 0, 0], np.array([10, 20, 30]) / 255)


def test_pillow_errors_name_the_file(tmp_path, monkeypatch):
    _png(tmp_path / "big.png", "L", size=(64, 64), color=1)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)       # 4096 px > 2 x 100: a "bomb"
    with pytest.raises(ValueError, match=r"^file='.*big\.png' is not allowed: too many pixels "
                                         r"to decode safely \(DecompressionBombError: "):
        load_image_folder(tmp_path)
    monkeypatch.undo()
    data = (tmp_path / "big.png").read_bytes()
    (tmp_path / "big.png").write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(ValueError, match=r"^file='.*big\.png' is not allowed: not a readable "
                                         r"image \(OSError: "):
        load_image_folder(tmp_path)
