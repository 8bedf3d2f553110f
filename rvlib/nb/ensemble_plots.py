"""Figures of notebook 09: ensemble vs members, score histograms, risk-coverage, reliability, core.

Plot functions take plain data (dicts of arrays, lists of dicts) and return the ``Figure``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from rvlib.nb.figures import styled

__all__ = ["members_vs_ensemble", "score_histograms", "accuracy_coverage", "reliability_diagram",
           "two_generation_bars"]


@styled
def members_vs_ensemble(members: list[dict], ensemble: dict,
                        keys=("accuracy", "nll", "ece")) -> plt.Figure:
    """One panel per metric: every member (dots) and the ensemble (a line across)."""
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8))
    for ax, key in zip(axes, keys):
        vals = [m[key] for m in members]
        ax.plot(range(len(vals)), vals, "o", label="members")
        ax.axhline(ensemble[key], color="C3", label="ensemble (mean probs)")
        ax.axhline(float(np.mean(vals)), color="C0", ls=":", label="member mean")
        ax.set(xlabel="member", ylabel=key, xticks=range(len(vals)))
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


@styled
def score_histograms(scores: dict[str, np.ndarray], *, xlabel: str, bins: int = 30,
                     title: str = "") -> plt.Figure:
    """Density histograms of one score on several test sets (shared bins, step outlines)."""
    allv = np.concatenate([np.asarray(v, float) for v in scores.values()])
    edges = np.linspace(0.0, max(float(allv.max()), 1e-6), bins + 1)
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    for name, v in scores.items():
        ax.hist(v, bins=edges, density=True, histtype="step", lw=1.6, label=name)
    ax.set(xlabel=xlabel, ylabel="density", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@styled
def accuracy_coverage(curves: dict[str, dict], *, marks: dict[str, tuple] | None = None,
                      title: str = "") -> plt.Figure:
    """Core accuracy against coverage (``selective.risk_coverage`` curves, as steps).

    ``marks``: ``{label: (coverage, core_accuracy)}`` points to highlight
    (e.g. the chosen threshold, or a paper's number).
    """
    fig, ax = plt.subplots(figsize=(5.4, 3.6))
    for name, c in curves.items():
        ax.step(np.r_[0.0, c["coverage"]], np.r_[c["accuracy"][0], c["accuracy"]], where="pre",
                label=name)
    for name, (cov, acc) in (marks or {}).items():
        ax.plot([cov], [acc], marker="*", ms=11, ls="none", label=name)
    ax.set(xlabel="coverage (share of inputs in the core)", ylabel="core accuracy",
           xlim=(0, 1.02), title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


@styled
def reliability_diagram(bins: dict[str, dict], *, title: str = "") -> plt.Figure:
    """Accuracy per confidence bin (``calibration.reliability``), one panel per entry."""
    fig, axes = plt.subplots(1, len(bins), figsize=(3.4 * len(bins), 3.2), squeeze=False)
    for ax, (name, r) in zip(axes[0], bins.items()):
        filled = r["count"] > 0
        ax.bar(r["lo"][filled], r["accuracy"][filled], width=r["hi"][0] - r["lo"][0],
               align="edge", alpha=0.7, label="accuracy")
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
        ax.plot(r["confidence"][filled], r["accuracy"][filled], "o", ms=3, color="C3",
                label="(confidence, accuracy)")
        ax.set(xlabel="confidence (max probability)", ylabel="accuracy", xlim=(0, 1),
               ylim=(0, 1.02), title=name)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def two_generation_bars(rows: list[dict], keys=("gen1_accuracy", "core_accuracy", "coverage",
                                                 "gated_accuracy"),
                        labels=("gen 1 overall", "gen 1 core acc.", "core coverage",
                                "gated (gen 1 + specialists)"), *, title: str = "") -> plt.Figure:
    """Grouped bars per test set (``row["set"]``): the two-generation scheme's numbers."""
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    width = 0.8 / len(keys)
    x = np.arange(len(rows))
    for i, (key, lab) in enumerate(zip(keys, labels)):
        ax.bar(x + (i - (len(keys) - 1) / 2) * width,
               [np.nan_to_num(r[key]) for r in rows], width, label=lab)
    ax.set_xticks(x, [r["set"] for r in rows])
    ax.set(ylabel="share", ylim=(0, 1.05), title=title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # outside: no bar hidden
    fig.tight_layout()
    return fig
