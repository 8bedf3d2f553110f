"""selective: risk-coverage curve, AURC / E-AURC on hand examples and a NumPy loop, thresholds."""
import re

import numpy as np
import pytest

from rvlib import selective


def _curve_loop(s, c):
    """One point per distinct score t: accept every example with s <= t."""
    pts = []
    for t in sorted(set(s.tolist())):
        acc = s <= t
        pts.append((t, acc.mean(), 1.0 - c[acc].mean()))
    return np.array(pts)


def test_aurc_hand_example():
    s, c = np.array([0.1, 0.2, 0.3, 0.4]), np.array([True, False, True, True])
    # risks of the 1..4 most confident: 0, 1/2, 1/3, 1/4
    assert selective.aurc(s, c) == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    # the oracle accepts the 3 correct first: risks 0, 0, 0, 1/4
    assert selective.oracle_aurc(c) == pytest.approx(1 / 16)
    assert selective.excess_aurc(s, c) == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 4 - 1 / 16)


def test_ties_are_never_split():
    s, c = np.array([0.1, 0.1, 0.3]), np.array([True, False, True])
    curve = selective.risk_coverage(s, c)
    np.testing.assert_allclose(curve["coverage"], [2 / 3, 1.0])
    np.testing.assert_allclose(curve["risk"], [1 / 2, 1 / 3])
    assert selective.aurc(s, c) == pytest.approx(2 / 3 * 1 / 2 + 1 / 3 * 1 / 3)


def test_curve_matches_loop_and_is_monotone_in_threshold():
    rng = np.random.default_rng(0)
    s = np.round(rng.random(300), 2)               # many ties
    c = rng.random(300) < 0.7
    curve = selective.risk_coverage(s, c)
    ref = _curve_loop(s, c)
    np.testing.assert_allclose(curve["threshold"], ref[:, 0])
    np.testing.assert_allclose(curve["coverage"], ref[:, 1])
    np.testing.assert_allclose(curve["risk"], ref[:, 2], atol=1e-12)
    assert np.all(np.diff(curve["threshold"]) > 0) and np.all(np.diff(curve["coverage"]) > 0)
    assert curve["coverage"][-1] == 1.0
    assert curve["risk"][-1] == pytest.approx(1 - c.mean())


def test_perfect_score_reaches_full_accuracy_and_the_oracle():
    rng = np.random.default_rng(1)
    c = rng.random(200) < 0.8
    s = np.where(c, rng.random(200), 2.0 + rng.random(200))   # every error ranked last
    curve = selective.risk_coverage(s, c)
    assert curve["accuracy"][0] == 1.0
    assert np.all(curve["risk"][curve["coverage"] <= c.mean()] == 0.0)
    assert selective.excess_aurc(s, c) == pytest.approx(0.0, abs=1e-12)
    worst = selective.aurc(-s, c)                           # errors first
    assert worst > selective.aurc(rng.random(200), c) > selective.aurc(s, c)


def test_thresholds_and_core_metrics():
    s = np.array([0.5, 0.1, 0.3, 0.9])
    c = np.array([True, True, False, True])
    assert selective.threshold_for_coverage(s, 0.5) == 0.3
    assert selective.threshold_for_coverage(s, 0.75) == 0.5
    assert selective.threshold_for_coverage(s, 1.0) == 0.9
    assert selective.threshold_for_coverage(s, 0.01) == 0.1
    m = selective.selective_metrics(s, c, 0.3)
    assert (m["coverage"], m["core_accuracy"], m["overall_accuracy"], m["n_core"]) == (
        0.5, 0.5, 0.75, 2)
    # risk of the 1..4 most confident: 0, 1/2, 1/3, 1/4 -> risk <= 0.3 last holds at s = 0.9
    assert selective.threshold_for_risk(s, c, 0.3) == 0.9
    assert selective.threshold_for_risk(s, c, 0.0) == 0.1
    assert selective.threshold_for_risk(s, ~c, 0.0) == float("-inf")
    assert np.isnan(selective.selective_metrics(s, c, 0.0)["core_accuracy"])
    np.testing.assert_array_equal(selective.core_mask(s, 0.3), [False, True, True, False])


@pytest.mark.parametrize("call, message", [
    (lambda: selective.threshold_for_coverage([0.1, 0.2], 0.0),
     "coverage=0.0 is not allowed: must be > 0.0"),
    (lambda: selective.threshold_for_coverage([0.1, 0.2], 1.5),
     "coverage=1.5 is not allowed: must be <= 1.0"),
    (lambda: selective.aurc([0.1, 0.2], [True]),
     "correct.shape=(1,) is not allowed: must be (2,) to match scores"),
    (lambda: selective.aurc([], []), "scores.shape=(0,) is not allowed: must be [n] with n >= 1"),
    (lambda: selective.aurc([0.1, np.nan], [True, True]),
     "scores='1 NaN value(s)' is not allowed: must not contain NaN"),
    (lambda: selective.threshold_for_risk([0.1], [True], 2.0),
     "risk=2.0 is not allowed: must be <= 1.0"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        call()
