"""Generic plots: training curves, robustness curves, sweeps, weight histograms, image grids.

Plot functions take plain data (lists of dicts, arrays) and return the
``Figure``; notebooks show it inline and save it with ``run.savefig`` (one
``figures.savefig``).  Style: labelled axes with units, legends, log scales
where SNR spans decades, drawn inside ``figures.STYLE``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from rvlib.nb.figures import styled


def _log_if_spread(ax, values, axis="y"):
    v = np.abs(np.asarray(values, float))
    v = v[np.isfinite(v) & (v > 0)]
    if v.size and v.max() / max(v.min(), 1e-300) > 100:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("symlog" if np.any(
            np.asarray(values, float) < 0) else "log")


@styled
def training_curves(history: list[dict], *, title: str = "") -> plt.Figure:
    """Loss, accuracy and margin/SNR per epoch from ``fit``'s history (list of dicts)."""
    ep = [h["epoch"] for h in history]
    panels = [("loss", ["train_loss", "test_loss"]), ("accuracy", ["train_accuracy",
              "test_accuracy"]), ("margin / SNR", ["test_margin", "test_snr_median"])]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for ax, (ylabel, keys) in zip(axes, panels):
        for k in keys:
            if k in history[0]:
                ax.plot(ep, [h[k] for h in history], marker="o", ms=3, label=k.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _spread_band(ax, line, rows, metric):
    """Shade mean ± ``<metric>_std`` around ``line``; a log axis gets no band below zero."""
    sd = np.array([r.get(f"{metric}_std", np.nan) for r in rows], float)
    if not np.any(np.isfinite(sd) & (sd > 0)):
        return
    x, y = line.get_xdata(), np.asarray(line.get_ydata(), float)
    lo = y - sd
    if ax.get_yscale() == "log":
        lo = np.where(lo > 0, lo, y)
    ax.fill_between(x, lo, y + sd, color=line.get_color(), alpha=0.2, lw=0)


@styled
def robustness_curves(rows: list[dict], *, metrics=("accuracy", "snr_median"),
                      group: str = "model", title: str = "") -> plt.Figure:
    """Metric vs severity, one panel per (corruption, metric), one line per ``group`` value.

    rows: dicts with ``corruption``, ``severity``, ``group`` and the metric keys; where a row
    also has ``<metric>_std`` (``stats.group_table``: the spread over seeds) a band of
    mean ± std is drawn around the line (on a log axis, where mean − std ≤ 0, only the upper
    half).  An SNR panel on a symlog axis (ratios of both signs) gets points, not lines.
    """
    corrs = list(dict.fromkeys(r["corruption"] for r in rows))
    groups = list(dict.fromkeys(r[group] for r in rows))
    fig, axes = plt.subplots(len(metrics), len(corrs), figsize=(3.2 * len(corrs),
                             2.8 * len(metrics)), squeeze=False)
    for j, c in enumerate(corrs):
        for i, m in enumerate(metrics):
            ax = axes[i, j]
            allv, bands = [], []
            for g in groups:
                rs = sorted((r for r in rows if r["corruption"] == c and r[group] == g),
                            key=lambda r: r["severity"])
                ys = [r[m] for r in rs]
                allv += ys
                line, = ax.plot([r["severity"] for r in rs], ys, marker="o", ms=3, label=str(g))
                bands.append((line, rs))
            if m != "accuracy":
                _log_if_spread(ax, allv)
            for line, rs in bands:
                _spread_band(ax, line, rs, m)
            if m.startswith("snr") and ax.get_yscale() == "symlog":
                for line, _ in bands:  # a ratio changing sign passes through ±inf, not through 0
                    line.set_linestyle("none")
            ax.set_title(c if i == 0 else "")
            ax.set_xlabel("severity")
            ax.set_ylabel(m.replace("_", " "))
    axes[0, -1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def sweep_plot(rows: list[dict], x: str, ys, *, group: str | None = None, err: str | None = None,
               logx: bool = False, title: str = "") -> plt.Figure:
    """Line chart of metrics ``ys`` vs a swept parameter ``x`` (error bars from ``<y>_std`` or ``err``)."""
    ys = [ys] if isinstance(ys, str) else list(ys)
    fig, axes = plt.subplots(1, len(ys), figsize=(3.8 * len(ys), 3.2), squeeze=False)
    groups = [None] if group is None else list(dict.fromkeys(r[group] for r in rows))
    for ax, y in zip(axes[0], ys):
        allv = []
        for g in groups:
            rs = sorted((r for r in rows if g is None or r[group] == g), key=lambda r: r[x])
            xv, yv = [r[x] for r in rs], [r[y] for r in rs]
            allv += yv
            e = [r.get(err or f"{y}_std", 0.0) for r in rs]
            ax.errorbar(xv, yv, yerr=e, marker="o", ms=4, capsize=3,
                        label=None if g is None else f"{group}={g}")
        if logx:
            ax.set_xscale("symlog", linthresh=0.1)
        if not y.startswith("acc"):
            _log_if_spread(ax, allv)
        ax.set_xlabel(x)
        ax.set_ylabel(y.replace("_", " "))
        if group is not None:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def weight_histograms(weights: dict, *, clip_lines: dict | None = None, bins: int = 60,
                      title: str = "") -> plt.Figure:
    """One histogram per entry of ``{label: f32[...] weights}`` (log counts), clip bounds dashed."""
    fig, axes = plt.subplots(1, len(weights), figsize=(3.2 * len(weights), 2.8), squeeze=False)
    for ax, (label, w) in zip(axes[0], weights.items()):
        w = np.asarray(w, np.float64).ravel()
        w = w[np.isfinite(w)]
        ax.hist(w, bins=bins, color="C0", log=True)
        for b in (clip_lines or {}).get(label) or ():
            ax.axvline(b, color="C3", ls="--", lw=1)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("weight (conductance)")
    axes[0, 0].set_ylabel("count")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def image_grid(images, *, row_labels=None, col_labels=None, cmap="gray") -> plt.Figure:
    """``images: f32[rows, cols, h, w, c]`` in [0, 1] as a grid (e.g. corruption × severity)."""
    images = np.asarray(images)
    r, c = images.shape[:2]
    fig, axes = plt.subplots(r, c, figsize=(1.3 * c, 1.3 * r), squeeze=False)
    for i in range(r):
        for j in range(c):
            img = images[i, j]
            axes[i, j].imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap=cmap, vmin=0,
                              vmax=1)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            axes[i, j].grid(False)
            if col_labels is not None and i == 0:
                axes[i, j].set_title(str(col_labels[j]), fontsize=8)
            if row_labels is not None and j == 0:
                axes[i, j].set_ylabel(str(row_labels[i]), fontsize=8)
    fig.tight_layout()
    return fig
