"""Honest axes in the paper figures: bars start at zero, no bars on log axes, markers where
only a few λ values were measured, spread shown where a mean over seeds is drawn."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from rvlib.nb import paper_plots, plots  # noqa: E402


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _lam_row(update, lam, snr):
    return {"update": update, "lam": lam, "margin_median": 1 + lam, "out0_mean": 1 + lam,
            "frac_control_negative": 0.5, "snr_mean": snr, "snr_median": -snr}


def test_no_bars_on_log_axes_and_bars_from_zero():
    rows = [{"label": "a", "snr_mean": 5.0, "snr_median": -3.0, "paper_snr": 6.0},
            {"label": "b", "snr_mean": 500.0, "snr_median": 400.0, "paper_snr": None}]
    ax = paper_plots.plot_snr_comparison(rows).axes[0]
    assert ax.get_yscale() == "symlog" and not _bars(ax)
    clip = [{"clip": c, "snr_mean": m, "snr_median": m, "ceiling": 2 * m, "paper_snr": None,
             "penalty_mean_pct": p, "paper_penalty_pct": None}
            for c, m, p in (("none", 600.0, 0.0), ("[0, 1]", 170.0, -70.0))]
    left, right = paper_plots.plot_clip_sweep(clip).axes[:2]
    assert left.get_yscale() == "log" and not _bars(left)
    assert right.get_yscale() == "linear" and _bars(right)
    grad = [{"clip": c, "accuracy": a, "margin_median": 2.0, "w_frac_negative": 0.1,
             "w_frac_at_min": 0.0} for c, a in (("none", 0.97), ("[0, 1]", 0.95))]
    acc_ax = paper_plots.plot_gradient_clips(grad).axes[0]
    assert _bars(acc_ax) and acc_ax.get_ylim()[0] == 0.0
    plt.close("all")


def test_paper_lambda_draws_markers_only_one_colour_per_update():
    rows = [_lam_row(u, lam, s) for u in ("published", "gradient")
            for lam, s in ((0.0, -4.0), (1.0, 1800.0), (10.0, 600.0))]
    fig = paper_plots.plot_paper_lambda(rows, reference={0.0: 6.37, 10.0: 2399.01})
    lines = [ln for ax in fig.axes for ln in ax.get_lines() if len(ln.get_xdata()) > 1]
    data_lines = [ln for ln in lines if ln.get_marker() not in (None, "None", "")]
    assert data_lines and all(ln.get_linestyle() == "None" for ln in data_lines)
    labels = fig.axes[2].get_legend_handles_labels()[1]
    assert labels == ["published", "gradient", "paper (mean)"]
    plt.close("all")


def test_robustness_curves_show_the_spread_over_seeds():
    rows = [{"corruption": "gaussian", "severity": s, "model": "a", "accuracy": 1 - s,
             "accuracy_std": 0.05} for s in (0.0, 0.5)]
    ax = plots.robustness_curves(rows, metrics=("accuracy",)).axes[0]
    assert any(isinstance(c, PolyCollection) for c in ax.collections)        # the ± std band
    no_std = [{k: v for k, v in r.items() if k != "accuracy_std"} for r in rows]
    ax = plots.robustness_curves(no_std, metrics=("accuracy",)).axes[0]
    assert not any(isinstance(c, PolyCollection) for c in ax.collections)
    plt.close("all")


def test_snr_of_both_signs_is_not_joined_by_lines():
    rows = [{"corruption": "gaussian", "severity": s, "model": "a", "snr_median": v,
             "margin_median": v / 100} for s, v in ((0.0, 1e4), (0.5, -1e3), (0.7, 20.0))]
    snr_ax, margin_ax = plots.robustness_curves(rows, metrics=("snr_median", "margin_median")).axes
    assert snr_ax.get_yscale() == "symlog" and snr_ax.get_lines()[0].get_linestyle() == "None"
    assert margin_ax.get_lines()[0].get_linestyle() == "-"            # a margin may cross zero
    plt.close("all")
