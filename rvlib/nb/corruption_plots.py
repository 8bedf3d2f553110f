"""Figures and tables of the common-corruption notebook (08): accuracy per corruption, families."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from rvlib.corruptions import SUITE

__all__ = ["suite_accuracy_figure", "family_accuracy"]


def suite_accuracy_figure(rows: Sequence[dict], *, group: str = "model", clean: dict | None = None,
                          cols: int = 5, title: str = "") -> plt.Figure:
    """Accuracy at severities 1..5, one panel per corruption, one marker series per ``group``.

    rows: seed-averaged rows with ``accuracy`` and (optional) ``accuracy_std``
    (error bars: the spread over seeds).  The levels are discrete, so markers
    without lines; ``clean``: ``{group value: clean accuracy}`` as dashed lines.
    """
    corrs = list(dict.fromkeys(r["corruption"] for r in rows))
    groups = list(dict.fromkeys(r[group] for r in rows))
    nrows = -(-len(corrs) // cols)
    fig, axes = plt.subplots(nrows, min(cols, len(corrs)), figsize=(2.6 * min(cols, len(corrs)),
                             2.3 * nrows), squeeze=False, sharey=True)
    for ax in axes.flat[len(corrs):]:
        ax.set_visible(False)
    for ax, c in zip(axes.flat, corrs):
        for k, g in enumerate(groups):
            rs = sorted((r for r in rows if r["corruption"] == c and r[group] == g),
                        key=lambda r: r["severity"])
            x = np.array([r["severity"] for r in rs]) + 0.12 * (k - (len(groups) - 1) / 2)
            ax.errorbar(x, [r["accuracy"] for r in rs], yerr=[r.get("accuracy_std", 0) for r in rs],
                        fmt="o", ms=4, capsize=2, color=f"C{k}", label=str(g))
            if clean is not None:
                ax.axhline(clean[g], color=f"C{k}", ls="--", lw=0.8)
        ax.set_title(f"{c} ({SUITE[c].family})", fontsize=9)
        ax.set_ylim(0, 1.02)
        ax.set_xticks([1, 2, 3, 4, 5])
        ax.set_xlabel("severity")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def family_accuracy(rows: Sequence[dict], *, group: str = "model") -> list[dict]:
    """Mean accuracy over each family's corruptions and severities: one row per (group, family)."""
    out = []
    for g in dict.fromkeys(r[group] for r in rows):
        for fam in dict.fromkeys(SUITE[r["corruption"]].family for r in rows):
            accs = [r["accuracy"] for r in rows
                    if r[group] == g and SUITE[r["corruption"]].family == fam]
            out.append({group: g, "family": fam, "accuracy": float(np.mean(accs)), "n": len(accs)})
    return out
