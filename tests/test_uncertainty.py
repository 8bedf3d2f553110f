"""uncertainty: every score against a NumPy loop written from its equation, and hand values."""
import math
import re

import numpy as np
import pytest

from rvlib import uncertainty


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _reference(z):
    """Per example, loops over members and classes (float64)."""
    p = _softmax(np.asarray(z, np.float64))
    k, n, c = p.shape
    out = {name: np.zeros(n) for name in uncertainty.SCORES}
    for i in range(n):
        pbar = [sum(p[m, i, j] for m in range(k)) / k for j in range(c)]
        h = -sum(q * math.log(q) for q in pbar)
        hm = [-sum(p[m, i, j] * math.log(p[m, i, j]) for j in range(c)) for m in range(k)]
        votes = [0] * c
        for m in range(k):
            votes[int(np.argmax(p[m, i]))] += 1
        out["predictive_entropy"][i] = h
        out["expected_entropy"][i] = sum(hm) / k
        out["mutual_information"][i] = h - sum(hm) / k
        out["variation_ratio"][i] = 1 - max(votes) / k
        out["committee_variance"][i] = sum(
            sum((p[m, i, j] - pbar[j]) ** 2 for m in range(k)) / k for j in range(c))
        out["committee_cross_entropy"][i] = -sum(
            p[a, i, j] * math.log(p[b, i, j]) for a in range(k) for b in range(k) for j in range(c))
        out["least_confidence"][i] = 1 - max(pbar)
    return out


def test_every_score_matches_the_numpy_reference():
    z = np.random.default_rng(0).normal(0, 2, (5, 40, 4)).astype(np.float32)
    ref = _reference(z)
    got = uncertainty.all_scores(z)
    assert set(got) == set(ref)
    for name in ref:
        np.testing.assert_allclose(got[name], ref[name], rtol=2e-5, atol=2e-6, err_msg=name)


def test_hand_values_two_members_two_classes():
    # member 1 is sure of class 0 (p = 0.9), member 2 of class 1 (p = 0.9): p̄ = (0.5, 0.5)
    lg = math.log(9.0)
    z = np.array([[[lg, 0.0]], [[0.0, lg]]], np.float32)
    h9 = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    s = uncertainty.all_scores(z)
    assert s["predictive_entropy"][0] == pytest.approx(math.log(2), abs=1e-6)
    assert s["expected_entropy"][0] == pytest.approx(h9, abs=1e-6)
    assert s["mutual_information"][0] == pytest.approx(math.log(2) - h9, abs=1e-6)
    assert s["variation_ratio"][0] == pytest.approx(0.5)
    assert s["committee_variance"][0] == pytest.approx(2 * 0.4 ** 2, abs=1e-6)
    # pairs (1,1),(2,2): H(0.9) each; (1,2),(2,1): -(0.9 log 0.1 + 0.1 log 0.9) each
    cross = -(0.9 * math.log(0.1) + 0.1 * math.log(0.9))
    assert s["committee_cross_entropy"][0] == pytest.approx(2 * h9 + 2 * cross, abs=1e-5)
    assert s["least_confidence"][0] == pytest.approx(0.5, abs=1e-6)


def test_entropy_decomposition_and_mi_nonnegative():
    z = np.random.default_rng(1).normal(0, 4, (7, 200, 10)).astype(np.float32)
    pe, ee = uncertainty.predictive_entropy(z), uncertainty.expected_entropy(z)
    mi = uncertainty.mutual_information(z)
    np.testing.assert_allclose(np.asarray(pe), np.asarray(ee) + np.asarray(mi), atol=1e-5)
    assert float(np.min(mi)) >= 0.0
    assert float(np.max(pe)) <= math.log(10) + 1e-5


def test_agreeing_members_have_zero_disagreement():
    one = np.random.default_rng(2).normal(0, 3, (30, 6)).astype(np.float32)
    z = np.stack([one] * 4)
    np.testing.assert_allclose(np.asarray(uncertainty.mutual_information(z)), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(uncertainty.variation_ratio(z)), 0.0)
    np.testing.assert_allclose(np.asarray(uncertainty.committee_variance(z)), 0.0, atol=1e-12)
    # with identical members the committee cross-entropy is K² times the entropy
    np.testing.assert_allclose(np.asarray(uncertainty.committee_cross_entropy(z)),
                               16 * np.asarray(uncertainty.predictive_entropy(z)), rtol=1e-5)


def test_ensemble_probs_is_the_mean_of_member_probabilities():
    z = np.random.default_rng(3).normal(0, 5, (3, 20, 5)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(uncertainty.ensemble_probs(z)),
                               _softmax(z.astype(np.float64)).mean(0), atol=1e-6)


@pytest.mark.parametrize("value, message", [
    (np.zeros((1, 4, 3)), "member_logits.shape=(1, 4, 3) is not allowed: an ensemble needs at "
                          "least 2 members (K >= 2 in [K, batch, classes])"),
    (np.zeros((4, 3)), "member_logits.shape=(4, 3) is not allowed: must be [members, batch, "
                       "classes]"),
    (np.zeros((2, 4, 1)), "member_logits.shape=(2, 4, 1) is not allowed: must have at least 2 "
                          "classes"),
    ([np.zeros((4, 3)), np.zeros((5, 3))], "member_logits[1].shape=(5, 3) is not allowed: every "
                                           "member must have the shape of member_logits[0], (4, 3)"),
])
def test_bad_members(value, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        uncertainty.predictive_entropy(value)


def test_unknown_score_name():
    with pytest.raises(ValueError, match=re.escape("score='entropy' is not allowed: must be one of "
                                                   "'predictive_entropy'")):
        uncertainty.score("entropy", np.zeros((2, 3, 4)))
