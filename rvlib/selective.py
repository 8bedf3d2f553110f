"""Selective prediction: accept the examples whose uncertainty score is low, abstain on the rest.

A score ``s: f[n]`` (higher = less sure, as every :mod:`rvlib.uncertainty`
score) and a threshold ``τ`` define the **core** ``{i: s_i <= τ}``; its
**coverage** is ``|core| / n`` and its **core accuracy** the accuracy on it
(the seed paper's names; the selective-prediction literature calls
``1 - core accuracy`` the selective risk).

* :func:`risk_coverage`: the whole curve, one point per distinct score value
  (tied examples are accepted or refused together, so a threshold never splits
  them), with coverage and risk at each;
* :func:`aurc`: the area under it, ``AURC = Σ_j Δcoverage_j · risk_j`` (a step
  function through the curve's points), which without ties is the mean over
  ``j = 1..n`` of the risk of the ``j`` most confident examples (Geifman et
  al., 2019); ``excess_aurc`` subtracts the oracle's (a score that ranks every
  error last), the E-AURC; both are reported, named as such;
* :func:`threshold_for_coverage` / :func:`threshold_for_risk`: ``τ`` chosen on a
  validation split; :func:`selective_metrics`: coverage and core accuracy at ``τ``.

Host-side NumPy (sorting and ties), float64.
"""
from __future__ import annotations

import numpy as np

from rvlib import validate

__all__ = ["check_scores", "risk_coverage", "aurc", "oracle_aurc", "excess_aurc",
           "threshold_for_coverage", "threshold_for_risk", "core_mask", "selective_metrics"]


def check_scores(scores, correct=None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(f64[n], bool[n] | None)``: 1-D, same length, n >= 1, no NaN."""
    s = np.asarray(scores, np.float64)
    if s.ndim != 1 or s.shape[0] == 0:
        validate.fail("scores.shape", s.shape, "must be [n] with n >= 1")
    if np.isnan(s).any():
        validate.fail("scores", f"{int(np.isnan(s).sum())} NaN value(s)", "must not contain NaN")
    if correct is None:
        return s, None
    c = np.asarray(correct)
    if c.shape != s.shape:
        validate.fail("correct.shape", c.shape, f"must be {s.shape} to match scores")
    return s, c.astype(bool)


def _check_coverage(coverage) -> float:
    return validate.number("coverage", coverage, min=0.0, min_inclusive=False, max=1.0)


def risk_coverage(scores, correct) -> dict[str, np.ndarray]:
    """The risk-coverage curve: ``{threshold, coverage, risk, accuracy}``, each ``f64[m]``.

    One point per distinct score (``m <= n``), thresholds ascending: point
    ``j`` accepts every example with ``score <= threshold[j]``.  Coverage is
    strictly increasing and reaches 1 at the last point.
    """
    s, c = check_scores(scores, correct)
    order = np.argsort(s, kind="stable")
    s, err = s[order], (~c[order]).astype(np.float64)
    n = s.shape[0]
    last = np.r_[np.nonzero(np.diff(s))[0], n - 1]  # last index of each group of equal scores
    accepted = last + 1.0
    risk = np.cumsum(err)[last] / accepted
    return {"threshold": s[last], "coverage": accepted / n, "risk": risk, "accuracy": 1.0 - risk}


def aurc(scores, correct) -> float:
    """Area under the risk-coverage step curve, ``Σ_j (coverage_j - coverage_{j-1}) risk_j``."""
    curve = risk_coverage(scores, correct)
    dcov = np.diff(np.r_[0.0, curve["coverage"]])
    return float(np.sum(dcov * curve["risk"]))


def oracle_aurc(correct) -> float:
    """The AURC of a score that accepts every correct example before any error."""
    _, c = check_scores(np.zeros(np.shape(correct)), correct)
    n, n_ok = c.shape[0], int(c.sum())
    j = np.arange(1, n + 1, dtype=np.float64)  # accept j examples: errors only past the n_ok first
    return float(np.mean(np.maximum(j - n_ok, 0.0) / j))


def excess_aurc(scores, correct) -> float:
    """E-AURC: ``aurc - oracle_aurc`` (>= 0; 0 for a score that ranks every error last)."""
    return aurc(scores, correct) - oracle_aurc(correct)


def threshold_for_coverage(scores, coverage: float) -> float:
    """The smallest score ``τ`` whose core ``{s <= τ}`` covers at least ``coverage`` of them.

    With ties the coverage reached can exceed the target (ties are never split).
    """
    coverage = _check_coverage(coverage)
    s, _ = check_scores(scores)
    k = int(np.ceil(coverage * s.shape[0] - 1e-9))
    return float(np.sort(s)[max(k, 1) - 1])


def threshold_for_risk(scores, correct, risk: float) -> float:
    """The largest threshold whose core has risk ``<= risk``; ``-inf`` (empty core) if none."""
    risk = validate.probability("risk", risk)
    curve = risk_coverage(scores, correct)
    ok = np.nonzero(curve["risk"] <= risk + 1e-12)[0]
    return float(curve["threshold"][ok[-1]]) if ok.size else float("-inf")


def core_mask(scores, threshold: float) -> np.ndarray:
    """``bool[n]``: the core, ``scores <= threshold``."""
    s, _ = check_scores(scores)
    return s <= float(threshold)


def selective_metrics(scores, correct, threshold: float) -> dict[str, float]:
    """Coverage, core accuracy (NaN if the core is empty), overall accuracy, n_core at ``τ``."""
    s, c = check_scores(scores, correct)
    core = s <= float(threshold)
    n_core = int(core.sum())
    return {"coverage": n_core / s.shape[0],
            "core_accuracy": float(c[core].mean()) if n_core else float("nan"),
            "overall_accuracy": float(c.mean()), "n_core": n_core, "threshold": float(threshold)}
