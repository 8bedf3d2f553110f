"""Notebook 07's figures: accuracy vs weight noise, vs time since programming, vs levels.

Each takes rows from ``stats.group_table`` (``accuracy`` mean and
``accuracy_std`` over seeds) and draws one line per (model, training) with
error bars; the x quantities are continuous (alpha, seconds, bits).
"""
from __future__ import annotations

import matplotlib.pyplot as plt

from rvlib.nb.figures import styled

__all__ = ["noise_curves", "drift_curves", "levels_curves"]

_STYLE = {"clean": "-", "noise": "--"}


def _lines(ax, rows, x, *, extra=None, label_extra=""):
    keys = list(dict.fromkeys((r["model"], r["training"]) for r in rows))
    for i, (m, t) in enumerate(keys):
        rs = sorted((r for r in rows if r["model"] == m and r["training"] == t), key=lambda r: r[x])
        ax.errorbar([r[x] for r in rs], [r["accuracy"] for r in rs],
                    yerr=[0.0 if r["accuracy_std"] != r["accuracy_std"] else r["accuracy_std"]
                          for r in rs],
                    ls=extra or _STYLE.get(t, "-"), marker="o", ms=3, capsize=3,
                    color=f"C{i}", label=f"{m}, {t}-trained{label_extra}")


@styled
def noise_curves(rows, *, title: str = "") -> plt.Figure:
    """Accuracy vs alpha (symlog x: alpha = 0 is on the axis)."""
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    _lines(ax, rows, "alpha")
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("α (weight noise std / layer weight std)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


@styled
def drift_curves(with_gdc, without_gdc, *, title: str = "") -> plt.Figure:
    """Accuracy vs time since programming (log x), with (solid) and without (dotted) compensation."""
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.6), sharey=True)
    for ax, rows, name in ((axes[0], with_gdc, "with"), (axes[1], without_gdc, "without")):
        _lines(ax, rows, "t")
        ax.set_xscale("log")
        ax.set_xlabel("time since programming (s)")
        ax.set_title(f"{name} global drift compensation", fontsize=9)
    axes[0].set_ylabel("test accuracy")
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


@styled
def levels_curves(ideal_rows, device_rows, *, device: str = "device", title: str = "") -> plt.Figure:
    """Accuracy vs bits per conductance: an ideal device on levels (left), the noisy device (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.6), sharey=True)
    for ax, rows, name in ((axes[0], ideal_rows, "ideal device"), (axes[1], device_rows, device)):
        _lines(ax, rows, "bits")
        ax.set_xlabel("bits per conductance (2^bits levels)")
        ax.set_title(name, fontsize=9)
    axes[0].set_ylabel("test accuracy")
    axes[0].set_ylim(0, 1.02)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
