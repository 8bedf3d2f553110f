"""Figures of the paper's studies: the master table against the paper, the clip and η
sweeps of the crossbar studies, gradient training under a clip, and the λ study.

Each function takes the rows of a ``paper`` study and returns the ``Figure``
(drawn inside ``figures.STYLE``); notebooks save it with ``run.savefig``.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from rvlib.nb.figures import styled
from rvlib.paper.crossbar_studies import INIT_MEAN

__all__ = ["plot_snr_comparison", "plot_clip_sweep", "plot_eta_sweep", "plot_gradient_clips",
           "plot_paper_lambda", "plot_paper_response"]


@styled
def plot_snr_comparison(rows: list[dict], *, title: str = "") -> plt.Figure:
    """Mean and median SNR per method (points) with the paper's mean SNR (diamonds), symlog y.

    rows: ``protocol.table_rows`` rows (label, snr_mean, snr_median, paper_snr).  Points,
    not bars: a bar's length means nothing on a symlog axis.
    """
    fig, ax = plt.subplots(figsize=(max(6.0, 0.95 * len(rows)), 3.8))
    xs = np.arange(len(rows))
    ax.plot(xs - 0.15, [r["snr_mean"] for r in rows], "o", ms=7, label="measured mean")
    ax.plot(xs + 0.15, [r["snr_median"] for r in rows], "s", ms=7, label="measured median")
    ax.plot(xs, [r.get("paper_snr") or np.nan for r in rows], "D", color="C3", ms=7,
            label="paper (mean)")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_yscale("symlog", linthresh=1.0)
    vals = np.array([[r["snr_mean"], r["snr_median"], r.get("paper_snr") or 0.0] for r in rows])
    vals = vals[np.isfinite(vals)]
    # headroom above the largest value for the legend, symmetric decades below zero
    ax.set_ylim(-10 * max(1.0, -vals.min()), 30 * max(1.0, vals.max()))
    ax.set_xticks(xs, [r["label"] for r in rows], rotation=30, ha="right")
    ax.grid(axis="x", color="0.9", lw=0.6)
    ax.set_ylabel("SNR = out0 / (out1 + 1e-9)\n(symlog: linear in [-1, 1])")
    ax.legend(fontsize=8, ncols=3, loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


@styled
def plot_clip_sweep(rows: list[dict], *, title: str = "") -> plt.Figure:
    """Left: SNR mean/median per clip range (points: log axis) with ceilings and the paper;
    right: penalty vs paper (bars from zero, linear axis)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    xs = np.arange(len(rows))
    labels = [r["clip"] for r in rows]
    a.plot(xs - 0.15, [r["snr_mean"] for r in rows], "o", ms=7, label="measured mean")
    a.plot(xs + 0.15, [r["snr_median"] for r in rows], "s", ms=7, label="measured median")
    a.plot(xs, [r["ceiling"] for r in rows], "_", color="k", ms=28, mew=2,
           label=f"ceiling g_max / {INIT_MEAN:g}")
    a.plot(xs, [np.nan if r["paper_snr"] is None else r["paper_snr"] for r in rows], "D",
           color="C3", label="paper")
    a.set_yscale("log")
    a.set_xticks(xs, labels)
    a.set_xlabel("conductance range [g_min, g_max]")
    a.set_ylabel("SNR (log scale)")
    a.legend(fontsize=8)
    b.bar(xs - 0.2, [r["penalty_mean_pct"] for r in rows], 0.4, label="measured (mean SNR)")
    b.bar(xs + 0.2, [np.nan if r["paper_penalty_pct"] is None else r["paper_penalty_pct"]
                     for r in rows], 0.4, color="C3", label="paper")
    b.set_xticks(xs, labels)
    b.set_xlabel("conductance range [g_min, g_max]")
    b.set_ylabel("SNR change vs unconstrained (%)")
    b.axhline(0, color="k", lw=0.8)
    b.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def plot_eta_sweep(rows: list[dict], *, paper_eta: float | None = None,
                   title: str = "") -> plt.Figure:
    """Delta rule vs η / (median 2/‖x‖²): accuracy and share of stable images, SNR, weight scale."""
    rows = sorted(rows, key=lambda r: r["eta_over_limit"])
    r_ = [r["eta_over_limit"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    axes[0].plot(r_, [r["accuracy"] for r in rows], "o-", label="accuracy (noisy inputs)")
    axes[0].plot(r_, [r["fraction_stable"] for r in rows], "s--", label="share with η‖x‖² < 2")
    axes[0].set_ylabel("fraction")
    axes[0].legend(fontsize=8)
    axes[1].plot(r_, [r["snr_median"] for r in rows], "o-", label="median")
    axes[1].plot(r_, [r["snr_mean"] for r in rows], "s--", label="mean")
    axes[1].set_ylabel("SNR")
    axes[1].legend(fontsize=8)
    axes[2].plot(r_, [r["w_absmax"] for r in rows], "o-")
    axes[2].set_yscale("log")
    axes[2].set_ylabel("max |w| after 30 updates")
    for ax in axes:
        ax.set_xscale("log")
        ax.axvline(1.0, color="k", ls=":", lw=1)
        if paper_eta is not None:
            ax.axvline(paper_eta, color="C3", ls="--", lw=1)
        ax.set_xlabel("η / median(2/‖x‖²)")
    axes[0].text(1.0, 0.5, " limit", fontsize=8, transform=axes[0].get_xaxis_transform())
    if paper_eta is not None:
        axes[0].text(paper_eta, 0.3, " paper η", color="C3", fontsize=8,
                     transform=axes[0].get_xaxis_transform())
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def plot_gradient_clips(rows: list[dict], *, title: str = "") -> plt.Figure:
    """Held-out accuracy, median margin, and where the kernel weights sit, per clip range."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    xs = np.arange(len(rows))
    colors = [f"C{i}" for i in range(len(rows))]
    for ax, key, label in [(axes[0], "accuracy", "test accuracy"),
                           (axes[1], "margin_median", "median test margin z_y − max z_j")]:
        ax.bar(xs, [r[key] for r in rows], color=colors)
        ax.set_ylabel(label)
    axes[0].set_ylim(0.0, 1.0)  # bars start at zero
    axes[2].bar(xs - 0.2, [r["w_frac_negative"] for r in rows], 0.4, color="C7", label="w < 0")
    axes[2].bar(xs + 0.2, [r["w_frac_at_min"] for r in rows], 0.4, color="C3",
                label="pinned at g_min")
    axes[2].set_ylabel("share of kernel weights")
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.set_xticks(xs, [r["clip"] for r in rows], rotation=30, ha="right")
        ax.set_xlabel("weight range during training")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def plot_paper_lambda(rows: Sequence[dict], *, reference: dict | None = None,
                      title: str = "paper protocol: per-image MLP, images × Gaussian noise levels"
                      ) -> plt.Figure:
    """Four panels for ``lambda_study.paper_lambda_rows`` vs λ (symlog x), one colour per
    ``update`` in the rows: what the loss moves (median margin, mean out0), the share of
    negative control outputs, and the SNR mean and median (symlog y) with ``reference``
    ``{λ: paper's mean SNR}`` as diamonds.  Markers only: the rows are a few λ values, and
    a line would draw an SNR between them (across zero) where nothing was measured.
    """
    rows = sorted(rows, key=lambda r: r["lam"])
    updates = list(dict.fromkeys(r.get("update", "") for r in rows))
    lam_max = max(r["lam"] for r in rows)
    fig, axes = plt.subplots(1, 4, figsize=(14.5, 3.4))
    a, b, c, d = axes
    marks = "osD^v"
    for i, u in enumerate(updates):
        rs = [r for r in rows if r.get("update", "") == u]
        lam = np.array([r["lam"] for r in rs]) * (1 + 0.04 * (i - (len(updates) - 1) / 2))
        # later updates drawn smaller on top: equal values show as rings, none is hidden
        kw = {"color": f"C{i}", "ls": "none", "ms": max(3, 9 - 2.5 * i), "label": u or None}
        a.plot(lam, [r["margin_median"] for r in rs], marker=marks[0], **kw)
        a.plot(lam, [r["out0_mean"] for r in rs], marker="x", mew=1.5, **kw | {"label": None})
        b.plot(lam, [r["frac_control_negative"] for r in rs], marker=marks[0], **kw)
        c.plot(lam, [r["snr_mean"] for r in rs], marker=marks[0], **kw)
        d.plot(lam, [r["snr_median"] for r in rs], marker=marks[1], **kw)
    a.set_ylabel("margin out0 − out1 (median: ●)\nout0 (mean: ×)")
    b.set_ylim(-0.05, 1.05)
    b.set_ylabel("share of rows with out1 < 0")
    if reference:
        ref = sorted(reference.items())
        c.plot([k for k, _ in ref], [v for _, v in ref], "D", mfc="none", color="C3", ms=8,
               label="paper (mean)")
    for ax, what in ((c, "mean"), (d, "median")):
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylabel(f"SNR {what} (symlog)")
        ax.margins(y=0.1)
    for ax in axes:
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlim(-0.02, 1.5 * lam_max if lam_max > 0 else 1.0)
        ax.set_xlabel("λ (symlog axis)")
    c.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@styled
def plot_paper_response(resp: dict) -> plt.Figure:
    """Two panels for ``lambda_study.paper_response``: outputs and margin vs σ, and SNR vs σ (symlog)."""
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.0))
    a, b = axes
    a.plot(resp["sigma"], resp["out0"], "o-", ms=3, label="out0 (target)")
    a.plot(resp["sigma"], resp["out1"], "s-", ms=3, label="out1 (control)")
    a.plot(resp["sigma"], resp["margin"], "^--", ms=3, label="margin out0 − out1")
    a.axhline(0.0, color="k", lw=0.8)
    a.set_xlabel("Gaussian noise σ (0 = training image)")
    a.set_ylabel("output")
    a.legend(fontsize=8)
    b.plot(resp["sigma"], resp["snr"], "o-", ms=3, color="C3")
    b.axhline(0.0, color="k", lw=0.8)
    if np.max(np.abs(resp["snr"])) > 50:  # near-zero control outputs: decades of SNR
        b.set_yscale("symlog", linthresh=1.0)
    b.set_xlabel("Gaussian noise σ")
    b.set_ylabel("SNR = out0 / (out1 + 1e-9)")
    upd = f", {resp['update']} update" if resp.get("update") else ""
    fig.suptitle(f"paper protocol, one image, λ = {resp['lam']:g}{upd}")
    fig.tight_layout()
    return fig
