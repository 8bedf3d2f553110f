"""rvlib.metrics: hand cases for the per-example metrics, ECE, host summaries."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rvlib import metrics as M

Z = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 1.0, 0.0]], np.float32)
Y = np.array([0, 2, 1], np.int32)


def test_logit_margin():
    np.testing.assert_array_equal(M.logit_margin(Z, Y), [1.0, -2.0, 0.0])
    # k = 2: the masked max is the other class, no NaN from the -inf mask
    z2 = np.array([[1.0, 1.0], [5.0, -3.0], [-1e30, 1e30]], np.float32)
    np.testing.assert_allclose(M.logit_margin(z2, np.array([1, 0, 0])), [0.0, 8.0, -2e30], rtol=1e-6)
    g = jax.grad(lambda z: M.logit_margin(z, np.array([1, 0, 0])).sum())(jnp.asarray(z2))
    np.testing.assert_array_equal(g, [[-1.0, 1.0], [1.0, -1.0], [1.0, -1.0]])


def test_snr_binary_protocol_and_its_weak_points():
    out = np.array([[2.0, 1.0], [1.0, -0.5], [3.0, 0.0]], np.float32)
    s = np.asarray(M.snr(out))
    np.testing.assert_allclose(s, [2.0, -2.0, 3e9], rtol=1e-6)  # sign flip, blow-up
    # adding a constant changes the ratio but not the decision
    assert float(M.snr(out + 1.0)[0]) == pytest.approx(1.5)
    np.testing.assert_array_equal(M.correct(out + 1.0), M.correct(out))


def test_snr_with_labels_on_probabilities():
    p = jax.nn.softmax(jnp.asarray(Z), axis=-1)
    s = M.snr(p, Y, eps=0.0)
    np.testing.assert_allclose(s, np.exp([1.0, -2.0, 0.0]), rtol=1e-5)
    assert bool(jnp.all(s > 0))


def test_correct_ties_are_wrong():
    np.testing.assert_array_equal(M.correct(np.array([[1.0, 1.0], [2.0, 1.0], [0.0, 1.0]])),
                                  [False, True, False])
    np.testing.assert_array_equal(M.correct(Z, Y), [True, False, False])
    assert float(M.accuracy(Z, Y)) == pytest.approx(1 / 3)
    assert float(M.accuracy(Z, np.array([0, 1, 0]))) == pytest.approx(2 / 3)


def test_confidence_and_nll():
    z = np.array([[np.log(3.0), 0.0], [0.0, 0.0]], np.float32)
    np.testing.assert_allclose(M.confidence(z), [0.75, 0.5], rtol=1e-6)
    assert float(M.nll(z, np.array([0, 1]))) == pytest.approx(-(np.log(0.75) + np.log(0.5)) / 2, rel=1e-6)
    assert float(M.nll(z, np.array([1, 1]))) == pytest.approx(-(np.log(0.25) + np.log(0.5)) / 2, rel=1e-6)


def np_ece(conf, hit, n_bins):
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    return sum(abs(np.sum(hit[bins == b] - conf[bins == b])) for b in range(n_bins)) / len(conf)


def test_ece():
    # calibrated: confidence 0.75 everywhere and 3 of 4 right
    z = np.tile(np.array([[np.log(3.0), 0.0]], np.float32), (4, 1))
    assert float(M.ece(z, np.array([0, 0, 0, 1]))) == pytest.approx(0.0, abs=1e-6)
    # overconfident: confidence ~1 and half right
    z = np.tile(np.array([[10.0, 0.0]], np.float32), (4, 1))
    conf = 1 / (1 + np.exp(-10.0))
    assert float(M.ece(z, np.array([0, 1, 0, 1]))) == pytest.approx(conf - 0.5, rel=1e-5)
    # mixed bins against a NumPy loop, jitted
    z = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32) * 3
    y = np.random.default_rng(1).integers(0, 4, 64).astype(np.int32)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    hit = (np.argmax(z, -1) == y).astype(float)
    for n_bins in (1, 10):
        got = jax.jit(M.ece, static_argnames="n_bins")(z, y, n_bins=n_bins)
        assert float(got) == pytest.approx(np_ece(p.max(-1), hit, n_bins), rel=1e-5)
    with pytest.raises(ValueError, match=r"n_bins=0 is not allowed: must be > 0"):
        M.ece(z, y, n_bins=0)


def test_shape_errors():
    with pytest.raises(ValueError, match=r"outputs\.shape=\(2, 1\) is not allowed: must have at least 2 classes"):
        M.snr(np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"labels\.shape=\(2,\) is not allowed: must be \(3,\) to match logits"):
        M.logit_margin(Z, np.zeros(2, np.int32))


def test_classifier_metrics_hand_case():
    logits = jnp.array([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0]])
    labels = jnp.array([0, 1])
    m = M.classifier_metrics(logits, labels)
    assert m["accuracy"] == 0.5
    np.testing.assert_allclose(m["margin_median"], (2.0 - 2.0) / 2)
    p0 = np.exp(2) / (np.exp(2) + 2)
    p1 = np.exp(1) / (1 + np.exp(1) + np.exp(3))
    np.testing.assert_allclose(m["nll"], -(np.log(p0) + np.log(p1)) / 2, rtol=1e-5)


def test_calibration_gaps_add_up_over_chunks_and_ignore_zero_weights():
    rng = np.random.default_rng(5)
    z = jnp.asarray(rng.normal(0, 2, (40, 4)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 4, 40), jnp.int32)
    whole = M.ece(z, y)
    chunks = M.calibration_gaps(z[:25], y[:25]) + M.calibration_gaps(z[25:], y[25:])
    np.testing.assert_allclose(jnp.sum(jnp.abs(chunks)) / 40, whole, rtol=1e-5)
    padded = jnp.concatenate([z, jnp.zeros((8, 4))]), jnp.concatenate([y, jnp.zeros(8, jnp.int32)])
    w = (jnp.arange(48) < 40).astype(jnp.float32)
    np.testing.assert_allclose(M.calibration_gaps(*padded, weights=w), M.calibration_gaps(z, y),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(M.nll_per_example(z, y).mean(), M.nll(z, y), rtol=1e-6)


def _reference_softmax_snr(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """p_y / max_{j≠y} p_j from an explicit float64 softmax (exp(z − max z) / Σ)."""
    z = z.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    rest = p.copy()
    rest[np.arange(len(y)), y] = -np.inf
    return p[np.arange(len(y)), y] / rest.max(axis=1)


@pytest.mark.parametrize("margin", [20.0, 30.0, 40.0, 50.0])
def test_softmax_snr_does_not_saturate_at_large_margins(margin):
    # 4 examples, 5 classes; the true class leads the runner-up by `margin`
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 5)).astype(np.float32) - 3.0
    y = np.array([0, 2, 4, 1])
    z[np.arange(4), y] = z.max(axis=1) + margin
    ref = _reference_softmax_snr(z, y)
    assert np.all(ref > np.exp(margin - 1e-3))                  # the reference itself is not capped
    np.testing.assert_allclose(M.softmax_snr(jnp.asarray(z), jnp.asarray(y)), ref, rtol=1e-4)
    got = M.classifier_metrics(z, y)["snr_median"]
    np.testing.assert_allclose(got, np.median(ref), rtol=1e-4)
    # the eps-capped ratio on probabilities is what this replaces: it reads low already at margin 20
    capped = np.median(np.asarray(M.snr(jax.nn.softmax(jnp.asarray(z), -1), jnp.asarray(y))))
    assert capped < 0.9 * np.median(ref)
