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


def test_summarize_near_zero_denominator():
    control = np.ones(100)
    control[7] = 1e-7  # one near-zero control output
    values = 1.0 / (control + 1e-9)
    s = M.summarize(values)
    assert s["n"] == s["n_finite"] == 100
    assert s["median"] == pytest.approx(1.0)
    assert s["mean"] > 1e4  # the mean is made by one example
    assert s["top_share"] == pytest.approx((values.max() + 4) / values.sum())
    assert s["top_share"] > 0.99
    for key, q in [("q05", 0.05), ("q25", 0.25), ("q75", 0.75), ("q95", 0.95)]:
        assert s[key] == pytest.approx(np.quantile(values, q))


def test_summarize_non_finite_and_jax_input():
    s = M.summarize(jnp.array([1.0, -2.0, 3.0, jnp.inf, jnp.nan, 4.0, 5.0, 6.0]))
    assert (s["n"], s["n_finite"]) == (8, 6)
    assert s["mean"] == pytest.approx(17 / 6)
    assert (s["min"], s["max"]) == (-2.0, 6.0)
    assert s["std"] == pytest.approx(np.std([1, -2, 3, 4, 5, 6]))
    assert s["top_share"] == pytest.approx((6 + 5 + 4 + 3 + 2) / 21)
    empty = M.summarize([np.nan, np.inf])
    assert empty["n_finite"] == 0 and np.isnan(empty["mean"]) and np.isnan(empty["top_share"])


def test_weight_stats_clip_bounds():
    w = np.array([0.0, 1e-7, 0.5, 1.0, 0.25, 0.9], np.float32)
    s = M.weight_stats(w, clip=(0, 1))
    assert s["frac_at_min"] == pytest.approx(2 / 6) and s["frac_at_max"] == pytest.approx(1 / 6)
    assert s["mean"] == pytest.approx(np.mean(w.astype(np.float64)))
    assert s["finite"] is True
    s = M.weight_stats(w)
    assert s["frac_at_min"] == 0.0 and s["frac_at_max"] == 0.0
    with pytest.raises(ValueError, match=r"clip=\(1, 0\) is not allowed: g_min must be <= g_max"):
        M.weight_stats(w, clip=(1, 0))


def test_weight_stats_huge_and_infinite():
    w = jnp.array([1e21, -1e21, 3e21, 0.0], jnp.float32)
    assert not np.isfinite(float(jnp.std(w)))  # what float32 would report
    s = M.weight_stats(w)
    assert s["finite"] is True
    assert s["std"] == pytest.approx(np.std(np.asarray(w, np.float64)), rel=1e-6)
    assert np.isfinite(s["std"]) and s["max"] == pytest.approx(3e21, rel=1e-6)
    s = M.weight_stats(np.array([1.0, np.inf, 2.0]))
    assert s["finite"] is False and s["std"] == np.inf and s["max"] == np.inf
