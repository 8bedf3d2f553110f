"""rvlib.stats: summaries that say what they drop, one std convention, fits, weight statistics."""
import jax.numpy as jnp
import numpy as np
import pytest

from rvlib import stats as S


def test_summarize_near_zero_denominator():
    control = np.ones(100)
    control[7] = 1e-7  # one near-zero control output
    values = 1.0 / (control + 1e-9)
    s = S.summarize(values)
    assert s["n"] == s["n_finite"] == 100
    assert s["median"] == pytest.approx(1.0)
    assert s["mean"] > 1e4  # the mean is made by one example
    assert s["top_share"] == pytest.approx((values.max() + 4) / values.sum())
    assert s["top_share"] > 0.99
    for key, q in [("q05", 0.05), ("q25", 0.25), ("q75", 0.75), ("q95", 0.95)]:
        assert s[key] == pytest.approx(np.quantile(values, q))


def test_summarize_non_finite_and_jax_input():
    s = S.summarize(jnp.array([1.0, -2.0, 3.0, jnp.inf, jnp.nan, 4.0, 5.0, 6.0]))
    assert (s["n"], s["n_finite"], s["n_nonfinite"]) == (8, 6, 2)
    assert s["mean"] == pytest.approx(17 / 6)
    assert (s["min"], s["max"]) == (-2.0, 6.0)
    assert s["std"] == pytest.approx(np.std([1, -2, 3, 4, 5, 6]))
    assert s["top_share"] == pytest.approx((6 + 5 + 4 + 3 + 2) / 21)
    empty = S.summarize([np.nan, np.inf])
    assert empty["n_finite"] == 0 and np.isnan(empty["mean"]) and np.isnan(empty["top_share"])


def test_weight_stats_clip_bounds():
    w = np.array([0.0, 1e-7, 0.5, 1.0, 0.25, 0.9], np.float32)
    s = S.weight_stats(w, clip=(0, 1))
    assert s["frac_at_min"] == pytest.approx(2 / 6) and s["frac_at_max"] == pytest.approx(1 / 6)
    assert s["mean"] == pytest.approx(np.mean(w.astype(np.float64)))
    assert s["finite"] is True
    s = S.weight_stats(w)
    assert s["frac_at_min"] == 0.0 and s["frac_at_max"] == 0.0
    with pytest.raises(ValueError, match=r"clip=\(1, 0\) is not allowed: g_min must be <= g_max"):
        S.weight_stats(w, clip=(1, 0))


def test_weight_stats_huge_and_infinite():
    w = jnp.array([1e21, -1e21, 3e21, 0.0], jnp.float32)
    assert not np.isfinite(float(jnp.std(w)))  # what float32 would report
    s = S.weight_stats(w)
    assert s["finite"] is True
    assert s["std"] == pytest.approx(np.std(np.asarray(w, np.float64)), rel=1e-6)
    assert np.isfinite(s["std"]) and s["max"] == pytest.approx(3e21, rel=1e-6)
    s = S.weight_stats(np.array([1.0, np.inf, 2.0]))
    assert s["finite"] is False and s["std"] == np.inf and s["max"] == np.inf


def test_binary_summary_hand_computed_and_counts_what_it_drops():
    out = np.array([[2.0, 1.0], [1.0, -0.5], [0.5, 1.0], [3.0, 0.5], [np.nan, 1.0]])
    s = S.binary_summary(out)
    snr = np.array([2.0, -2.0, 0.5, 6.0])  # out0 / out1 (eps negligible); the NaN row left out
    assert s["snr_n_nonfinite"] == 1
    assert s["snr_mean"] == pytest.approx(snr.mean(), rel=1e-6)
    assert s["snr_median"] == pytest.approx(1.25, rel=1e-6)
    assert s["snr_top5_share"] == pytest.approx(1.0)  # 4 values: the top 5 are all of them
    assert s["accuracy"] == 0.6                        # the NaN row counts as wrong: 3 of 5
    assert s["frac_control_negative"] == 0.2
    s = S.binary_summary(out[:4])
    assert s["margin_median"] == pytest.approx(np.median([1.0, 1.5, -0.5, 2.5]))
    assert s["out0_mean"] == pytest.approx(1.625) and s["out1_mean"] == pytest.approx(0.5)
    assert s["snr_n_nonfinite"] == 0 and s["accuracy"] == 0.75


def test_binary_summary_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"outputs.shape=\(2, 3\) is not allowed: must end in 2"):
        S.binary_summary(np.zeros((2, 3)))


def test_mean_std_is_the_sample_std_of_finite_values():
    m = S.mean_std([1.0, 3.0, np.inf, 5.0])
    assert m == {"mean": 3.0, "std": pytest.approx(2.0), "n": 3, "n_nonfinite": 1}
    one = S.mean_std([4.0])
    assert one["mean"] == 4.0 and np.isnan(one["std"]) and one["n"] == 1


def test_group_table_and_linear_fit():
    rows = [{"lam": 1.0, "a": 1.0}, {"lam": 0.0, "a": 2.0}, {"lam": 1.0, "a": 3.0}]
    t = S.group_table(rows, "lam", ["a"])
    assert [r["lam"] for r in t] == [0.0, 1.0]
    assert t[1]["a"] == 2.0 and t[1]["a_std"] == pytest.approx(np.sqrt(2.0)) and t[1]["n"] == 2
    assert np.isnan(t[0]["a_std"]) and t[1]["a_n_nonfinite"] == 0
    t2 = S.group_table(rows + [{"lam": 1.0, "a": 5.0}, {"lam": 1.0, "a": np.nan}], ("lam",), ["a"])
    assert t2[1]["a"] == 3.0 and t2[1]["n"] == 4 and t2[1]["a_n_nonfinite"] == 1
    mixed = S.group_table([{"k": "b", "v": 1.0}, {"k": 10, "v": 2.0}, {"k": 2, "v": 3.0},
                           {"k": "a", "v": 4.0}], "k", ["v"])
    assert [r["k"] for r in mixed] == [2, 10, "a", "b"]       # numbers by value, then text
    fit = S.linear_fit([0, 1, 2], [1, 3, 5])
    assert fit["slope"] == pytest.approx(2.0) and fit["r2"] == pytest.approx(1.0)
    assert fit["top_point_share"] == pytest.approx(0.5)  # deviations 4, 0, 4 of SS_tot 8
    fit = S.linear_fit([0, 1, 2, 3], [0, 1, 0, 1])  # hand: slope 0.2, R² = 0.2
    assert fit["slope"] == pytest.approx(0.2) and fit["r2"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match=r"x=\[1.0, 1.0\] is not allowed: must hold at least two"):
        S.linear_fit([1, 1], [0, 1])
