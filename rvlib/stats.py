"""Host-side summaries in float64 NumPy: what a table or a report prints.

One convention each, stated here and nowhere else:

* **Non-finite values are left out and counted.** Every mean, median and
  quantile is over the finite values; the summary says how many it left out
  (``n_nonfinite``).  Accuracies are not summaries of this kind: a row whose
  outputs are NaN counts as wrong (``NaN > x`` is False), never as left out.
* **Spread over repeats (seeds, runs) is the sample standard deviation**
  (``ddof=1``): the error bar of a mean over a few seeds.  One value has no
  measured spread: its std is NaN, not 0.
* **Straight-line fits** are least squares with R² = 1 − SS_res / SS_tot.

``summarize`` and ``weight_stats`` scale before squaring, so the std of
weights near 1e21 is a number, not the ``inf`` a float32 std would give.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np

from rvlib import validate

__all__ = ["summarize", "weight_stats", "binary_summary", "mean_std", "group_table",
           "linear_fit", "order_key"]


def _as_f64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).ravel()


def _population_std(x: np.ndarray) -> float:
    # Scale first so that squares of values near 1e200 do not overflow.
    scale = np.max(np.abs(x)) if x.size else 0.0
    if scale == 0.0 or not np.isfinite(scale):
        return float(np.std(x)) if x.size else float("nan")
    return float(scale * np.std(x / scale))


def summarize(values, top: int = 5) -> dict:
    """Robust summary of per-example values (e.g. SNRs) -> dict of floats.

    ``n`` values, of which ``n_nonfinite`` (NaN, ±inf) are left out of every
    statistic: ``mean``, ``median``, ``std`` (of the values themselves,
    ddof=0), ``min``, ``max``, ``q05``, ``q25``, ``q75``, ``q95`` and
    ``top_share``, the share of ``Σ|v|`` carried by the ``top`` largest
    ``|v|`` (near 1: a handful of examples make the mean, read the median).
    Statistics of an empty finite set are NaN.
    """
    top = validate.positive("top", top, integer=True)
    v = _as_f64(values)
    x = v[np.isfinite(v)]
    out = {"n": int(v.size), "n_finite": int(x.size), "n_nonfinite": int(v.size - x.size)}
    if x.size == 0:
        nan = float("nan")
        out.update(mean=nan, median=nan, std=nan, min=nan, max=nan,
                   q05=nan, q25=nan, q75=nan, q95=nan, top_share=nan)
        return out
    q05, q25, median, q75, q95 = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
    mag = np.abs(x)
    total = float(np.sum(mag))
    top_sum = float(np.sum(np.sort(mag)[-top:]))
    out.update(
        mean=float(np.mean(x)), median=float(median), std=_population_std(x),
        min=float(np.min(x)), max=float(np.max(x)),
        q05=float(q05), q25=float(q25), q75=float(q75), q95=float(q95),
        top_share=top_sum / total if total > 0 else float("nan"),
    )
    return out


def weight_stats(w, clip=None) -> dict:
    """Mean, std, min, max of a weight array in float64, and how many sit on the clip bounds.

    ``finite`` is True when every entry is finite.  ``std`` (ddof=0, of the
    weights themselves) is ``inf`` only when some entry is ``inf``; NaN
    entries make the moments NaN.  ``frac_at_min`` / ``frac_at_max``: share
    of entries within 1e-6 (absolute or relative) of ``clip = (g_min,
    g_max)``; 0.0 when ``clip`` is None.
    """
    clip = validate.clip_range("clip", clip)
    v = _as_f64(w)
    if v.size == 0:
        validate.fail("w.size", 0, "must contain at least one weight")
    finite = bool(np.all(np.isfinite(v)))
    if finite or np.any(np.isnan(v)):
        std = _population_std(v) if finite else float("nan")
    else:
        std = float("inf")
    out = {"mean": float(np.mean(v)), "std": std, "min": float(np.min(v)),
           "max": float(np.max(v)), "finite": finite, "frac_at_min": 0.0, "frac_at_max": 0.0}
    if clip is not None:
        lo, hi = clip
        out["frac_at_min"] = float(np.mean(np.isclose(v, lo, rtol=1e-6, atol=1e-6)))
        out["frac_at_max"] = float(np.mean(np.isclose(v, hi, rtol=1e-6, atol=1e-6)))
    return out


def binary_summary(outputs, eps: float = 1e-9) -> dict:
    """The paper's binary read-out of ``outputs: f[..., 2]`` (out0 target, out1 control), float64.

    ``snr = out0 / (out1 + eps)`` summarised by :func:`summarize`: snr_mean,
    snr_median, snr_top5_share and snr_n_nonfinite (rows left out of them);
    ``margin = out0 − out1`` (margin_mean, margin_median); out0_mean,
    out0_median, out1_mean, out1_median; frac_control_negative; accuracy
    (``out0 > out1`` over all rows: a non-finite row counts as wrong).
    """
    out = np.asarray(outputs, np.float64)
    if out.ndim < 1 or out.shape[-1] != 2:
        validate.fail("outputs.shape", out.shape, "must end in 2 (target, control)")
    out = out.reshape(-1, 2)
    s = summarize(out[:, 0] / (out[:, 1] + eps))
    margin = out[:, 0] - out[:, 1]
    return {"snr_mean": s["mean"], "snr_median": s["median"], "snr_top5_share": s["top_share"],
            "snr_n_nonfinite": s["n_nonfinite"],
            "margin_median": float(np.median(margin)), "margin_mean": float(np.mean(margin)),
            "out0_mean": float(out[:, 0].mean()), "out0_median": float(np.median(out[:, 0])),
            "out1_mean": float(out[:, 1].mean()), "out1_median": float(np.median(out[:, 1])),
            "frac_control_negative": float(np.mean(out[:, 1] < 0)),
            "accuracy": float(np.mean(out[:, 0] > out[:, 1]))}


def mean_std(values) -> dict:
    """Mean ± sample std (ddof=1) of repeats, finite values only: ``{mean, std, n, n_nonfinite}``.

    ``n`` counts the finite values used; std is NaN below two of them.
    """
    v = _as_f64(values)
    x = v[np.isfinite(v)]
    return {"mean": float(x.mean()) if x.size else math.nan,
            "std": float(x.std(ddof=1)) if x.size > 1 else math.nan,
            "n": int(x.size), "n_nonfinite": int(v.size - x.size)}


def order_key(value) -> tuple:
    """Sort key for table cells of mixed types: numbers by value first, then anything else."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, json.dumps(value, sort_keys=True, default=str, ensure_ascii=False))


def group_table(rows: Sequence[dict], by, keys: Sequence[str]) -> list[dict]:
    """Mean ± std of ``keys`` over rows sharing the values of ``by`` (e.g. the seeds of one λ).

    ``by``: one key or several (``("model", "corruption", "severity")``).
    Each output row: the ``by`` values, ``n`` (rows in the group), and per
    key ``<key>`` (mean), ``<key>_std`` and ``<key>_n_nonfinite`` as in
    :func:`mean_std`.  Rows come out sorted by ``by`` (numbers by value).
    """
    if not rows:
        validate.fail("rows", list(rows), "must contain at least one row")
    by = (by,) if isinstance(by, str) else tuple(by)
    groups: dict = {}
    for r in rows:
        values = tuple(r.get(k) for k in by)
        groups.setdefault(tuple(order_key(v) for v in values), (values, []))[1].append(r)
    out = []
    for _, (values, rs) in sorted(groups.items()):
        row = dict(zip(by, values)) | {"n": len(rs)}
        for k in keys:
            m = mean_std([r[k] for r in rs])
            row |= {k: m["mean"], f"{k}_std": m["std"], f"{k}_n_nonfinite": m["n_nonfinite"]}
        out.append(row)
    return out


def linear_fit(x, y) -> dict:
    """Least-squares line ``y ≈ slope·x + intercept`` and its R² (float64).

    R² = 1 − SS_res / SS_tot, NaN when ``y`` is constant.  ``top_point_share``:
    the share of SS_tot = Σ(y − ȳ)² carried by the single point farthest from
    ȳ; near 1 means one point makes the fit (values spanning decades), so a
    high R² says little about the shape.  Needs ≥ 2 finite points and two
    distinct x values.
    """
    x, y = _as_f64(x), _as_f64(y)
    if x.shape != y.shape:
        validate.fail("y.shape", y.shape, f"must match x.shape {x.shape}")
    if x.size < 2 or np.unique(x).size < 2:
        validate.fail("x", x.tolist(), "must hold at least two distinct values")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        validate.fail("y", y.tolist(), "must be finite")
    slope, intercept = np.polyfit(x, y, 1)
    ss_res = float(np.sum((y - (slope * x + intercept)) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
    top = float(np.max((y - y.mean()) ** 2)) / ss_tot if ss_tot > 0 else math.nan
    return {"slope": float(slope), "intercept": float(intercept), "r2": r2,
            "top_point_share": top, "n": int(x.size)}
