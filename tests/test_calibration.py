"""calibration: temperature scaling recovers a known temperature, never raises the NLL; ECE."""
import numpy as np
import pytest

from rvlib import calibration, metrics


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _synthetic(t_true, n=20000, c=5, seed=0):
    """Logits z and labels drawn from softmax(z / t_true): the right temperature is t_true."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, c))
    p = _softmax(z / t_true)
    y = (rng.random(n)[:, None] > np.cumsum(p, 1)).sum(1)
    return z.astype(np.float32), y.astype(np.int32)


def _nll(z, y):
    p = _softmax(np.asarray(z, np.float64))
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


@pytest.mark.parametrize("t_true", [0.5, 2.0])
def test_recovers_a_known_temperature(t_true):
    z, y = _synthetic(t_true)
    t = calibration.fit_temperature(z, y)
    assert t == pytest.approx(t_true, rel=0.05)
    # the fitted T is a minimum of the NumPy NLL: nudging it either way does worse
    assert _nll(z / t, y) <= min(_nll(z / (t * 1.05), y), _nll(z / (t / 1.05), y))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_never_raises_validation_nll(seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, rng.uniform(0.1, 10), (300, 10)).astype(np.float32)
    y = rng.integers(0, 10, 300).astype(np.int32)
    t = calibration.fit_temperature(z, y)
    assert _nll(z / t, y) <= _nll(z, y) + 1e-6


def test_report_and_determinism():
    zv, yv = _synthetic(3.0, n=4000, seed=3)
    zt, yt = _synthetic(3.0, n=4000, seed=4)
    r = calibration.calibration_report((zv, yv), (zt, yt))
    assert r == calibration.calibration_report((zv, yv), (zt, yt))
    assert r["nll_after"] < r["nll_before"] and r["ece_after"] < r["ece_before"]


def _ece_loop(z, y, n_bins):
    p = _softmax(np.asarray(z, np.float64))
    conf, pred = p.max(1), p.argmax(1)
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        sel = [i for i in range(len(y)) if lo <= conf[i] < hi or (b == n_bins - 1 and conf[i] == 1)]
        if sel:
            acc = np.mean([pred[i] == y[i] for i in sel])
            total += len(sel) / len(y) * abs(acc - np.mean(conf[sel]))
    return total


def test_ece_and_reliability_match_a_loop():
    z, y = _synthetic(2.0, n=500, seed=5)
    assert float(metrics.ece(z, y)) == pytest.approx(_ece_loop(z, y, 15), abs=1e-5)
    r = calibration.reliability(z, y, n_bins=10)
    assert r["count"].sum() == 500
    filled = r["count"] > 0
    ece = np.sum(r["count"][filled] / 500 * np.abs(r["accuracy"][filled] - r["confidence"][filled]))
    assert ece == pytest.approx(_ece_loop(z, y, 10), abs=1e-5)


def test_bad_steps():
    with pytest.raises(ValueError, match=r"^steps=0 is not allowed: must be > 0$"):
        calibration.fit_temperature(np.zeros((3, 2)), np.zeros(3, np.int32), steps=0)
