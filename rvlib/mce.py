"""Corruption error (CE), mCE and relative mCE (Hendrycks & Dietterich, ICLR 2019) from rows.

With ``E[f, c, s]`` the top-1 error of model ``f`` on corruption ``c`` at
severity ``s`` (1..5) and ``E[f, clean]`` its clean error, against a baseline
model ``b`` chosen by the user (CIFAR style: no AlexNet)::

    CE[f, c]          = sum_s E[f, c, s] / sum_s E[b, c, s]
    mCE[f]            = mean_c CE[f, c]
    relative CE[f, c] = sum_s (E[f, c, s] - E[f, clean]) / sum_s (E[b, c, s] - E[b, clean])
    relative mCE[f]   = mean_c relative CE[f, c]

plus the unnormalised ``mean_corruption_error`` (mean of ``E[f, c, s]`` over c
and s, what CIFAR-10-C papers usually report) and its complement
``mean_corruption_accuracy``.  Everything is a fraction (1.0 = the baseline's
mCE); multiply by 100 for the paper's percentages.

Rows are those of :func:`rvlib.robustness.evaluate_suite` (or any list of
dicts with ``model``, ``corruption``, ``severity``, ``accuracy`` and
``degradation`` = clean accuracy - accuracy), e.g. averaged over seeds by
:func:`rvlib.stats.group_table`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rvlib import validate

__all__ = ["error_table", "mce_table"]


def error_table(rows: Sequence[dict], *, corruptions: Sequence[str] | None = None,
                severities: Sequence[float] = (1, 2, 3, 4, 5)):
    """``(errors, clean)``: ``errors[model][corruption]: f64[len(severities)]``, ``clean[model]``.

    ``corruptions``: default every corruption in ``rows`` (first-seen order).
    Missing (model, corruption, severity) rows are an error.
    """
    rows = list(rows)
    if not rows:
        validate.fail("rows", rows, "must hold at least one robustness row")
    models = list(dict.fromkeys(r["model"] for r in rows))
    names = list(dict.fromkeys(r["corruption"] for r in rows)) if corruptions is None \
        else list(corruptions)
    index = {(r["model"], r["corruption"], float(r["severity"])): r for r in rows}
    errors, clean = {}, {}
    for m in models:
        errors[m] = {}
        for c in names:
            found = []
            for s in severities:
                r = index.get((m, c, float(s)))
                if r is None:
                    raise ValueError(f"rows has no row for model={m!r}, corruption={c!r}, "
                                     f"severity={s:g}: it must cover every model x corruption "
                                     "x severity asked for")
                found.append(r)
                clean.setdefault(m, []).append(1.0 - (r["accuracy"] + r["degradation"]))
            errors[m][c] = np.asarray([1.0 - r["accuracy"] for r in found], np.float64)
        clean[m] = float(np.mean(clean[m]))  # the same number on every row of a model
    return errors, clean


def mce_table(rows: Sequence[dict], baseline: str, *, corruptions: Sequence[str] | None = None,
              severities: Sequence[float] = (1, 2, 3, 4, 5)) -> list[dict]:
    """One dict per model: clean_error, mean_corruption_error/accuracy, mCE, relative_mCE,
    and ``CE[c]`` / ``relative_CE[c]`` per corruption (dicts), normalised by ``baseline``.
    """
    errors, clean = error_table(rows, corruptions=corruptions, severities=severities)
    validate.choice("baseline", baseline, errors)
    names = list(errors[baseline])
    base = {c: errors[baseline][c].sum() for c in names}
    base_rel = {c: (errors[baseline][c] - clean[baseline]).sum() for c in names}
    for c in names:
        if base[c] <= 0:
            validate.fail("baseline", baseline, f"has zero error on {c!r}: CE is undefined")
        if base_rel[c] == 0:
            validate.fail("baseline", baseline,
                          f"loses no accuracy on {c!r}: relative CE is undefined")
    out = []
    for m, per_c in errors.items():
        ce = {c: float(per_c[c].sum() / base[c]) for c in names}
        rel = {c: float((per_c[c] - clean[m]).sum() / base_rel[c]) for c in names}
        out.append(dict(model=m, clean_error=clean[m],
                        mean_corruption_error=float(np.mean([per_c[c] for c in names])),
                        mean_corruption_accuracy=float(1 - np.mean([per_c[c] for c in names])),
                        mCE=float(np.mean(list(ce.values()))),
                        relative_mCE=float(np.mean(list(rel.values()))), CE=ce, relative_CE=rel))
    return out
