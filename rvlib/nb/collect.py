"""Gather a sweep's finished runs into one table and one figure.

``collect`` reads every finished run folder of a notebook (not ``make run``'s
``default`` nor CI's ``quick``) into ``results/<nb>/sweep.csv`` and
``results/<nb>/sweep_summary.{pdf,png}``: each metric against the swept
parameter with the most values, seeds as mean ± sample std (``stats.group_table``).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from rvlib import stats, validate
from rvlib.nb import records
from rvlib.nb.execute import executed_path
from rvlib.nb.figures import savefig
from rvlib.nb.lock import hold
from rvlib.nb.params import DEFAULT_RUN, QUICK_RUN
from rvlib.nb.plots import sweep_plot

__all__ = ["collect", "summary_figure", "NOT_SWEEP_RUNS"]

SEED = "seed"
NOT_SWEEP_RUNS = (DEFAULT_RUN, QUICK_RUN)   # make run's and CI's own runs of the notebook


def _number(v):
    """Scalar metric value as float/int, or ``None`` if it is not a number."""
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str) and v.lower() in ("inf", "-inf", "nan"):
        return float(v)
    return None


def _flat_metrics(metrics, prefix="") -> dict:
    """Scalar entries of a (nested) metrics dict; nested keys joined with '.'."""
    out = {}
    if not isinstance(metrics, dict):
        return out
    for k, v in metrics.items():
        if isinstance(v, dict):
            out.update(_flat_metrics(v, f"{prefix}{k}."))
        elif _number(v) is not None:
            out[f"{prefix}{k}"] = _number(v)
    return out


def _sort_key(row: dict, keys) -> tuple:
    return tuple(stats.order_key(row.get(k)) for k in keys)


def collect(notebook: str, root: Path, *, metric_keys=None, log: Callable = print,
            wait: float = 0.0) -> list[dict]:
    """Every finished run of ``notebook`` as one row: run name, parameters, scalar metrics.

    Writes ``results/<nb>/sweep.csv`` and ``results/<nb>/sweep_summary.{pdf,png}``
    (both atomically): each metric in ``metric_keys`` (default: every numeric
    metric that varies across runs) vs the swept parameter with the most values
    other than ``seed``, seeds as mean ± std.  Returns the rows (sorted by the
    parameters).  Holds the results folder's lock (``nb.lock``; ``wait``
    seconds for a running sweep); hidden folders (temporary, ``.name``) are
    never runs, and stale ``.sweep_summary.*`` ones are removed.
    """
    base = Path(root) / "results" / notebook
    if not base.is_dir():
        log(f"collect {notebook}: no finished runs in {base}")
        return []
    with hold(base, wait=wait, what=f"collect of {notebook}"):
        for tmp in base.glob(".sweep_summary.*"):   # left by a collection killed mid-save
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
        return _collect(notebook, root, metric_keys, log)


def _collect(notebook: str, root: Path, metric_keys, log: Callable) -> list[dict]:
    name = notebook
    base = Path(root) / "results" / name
    rows, params_keys, metric_cols, unfinished = [], [], [], 0
    folders = sorted(p for p in base.glob("*") if p.is_dir() and not p.name.startswith(".")) \
        if base.is_dir() else []
    for folder in folders:
        if folder.name in NOT_SWEEP_RUNS:
            continue
        res = folder / "results.json"
        if not (records.is_done(folder) and executed_path(folder, name).is_file() and res.is_file()):
            unfinished += 1
            continue
        ran = json.loads(executed_path(folder, name).read_text(encoding="utf-8"))
        params = dict(ran.get("metadata", {}).get("papermill", {}).get("parameters", {}))
        saved = records.read_json(res)
        for k, v in (saved.get("params") or {}).items():
            params.setdefault(k, v)
        params.pop("run_name", None)
        row = {"run": folder.name, **params}
        for k, v in _flat_metrics(saved.get("metrics")).items():
            row[k if k not in row else f"metrics.{k}"] = v
        params_keys += [k for k in params if k not in params_keys]
        metric_cols += [k for k in row if k not in params and k != "run" and k not in metric_cols]
        rows.append(row)
    if unfinished:
        log(f"collect {name}: left out {unfinished} unfinished run folder(s)")
    if not rows:
        log(f"collect {name}: no finished runs in {base}")
        return []
    if metric_keys is not None:
        metric_keys = [metric_keys] if isinstance(metric_keys, str) else list(metric_keys)
        for k in metric_keys:
            if k not in metric_cols:
                validate.fail("metric_keys", k,
                              f"the runs' numeric metrics are: {', '.join(metric_cols)}")
    rows.sort(key=lambda r: _sort_key(r, params_keys))
    records.write_csv(base / "sweep.csv", rows)
    log(f"collect {name}: {len(rows)} runs -> {base / 'sweep.csv'}")

    swept = [k for k in params_keys if _distinct(rows, k) > 1]
    others = [k for k in swept if k != SEED]
    x = max(others, key=lambda k: _distinct(rows, k)) if others else (swept[0] if swept else None)
    echoes = {f"metrics.{k}" for k in params_keys
              if all(r.get(f"metrics.{k}") == r.get(k) for r in rows)}   # a notebook echoing its params
    ys = metric_keys or [k for k in metric_cols if _distinct(rows, k) > 1 and k not in echoes] \
        or metric_cols
    if x is None or not ys:
        log(f"collect {name}: no summary figure (nothing swept or no numeric metric)")
        return rows
    group = [k for k in others if k != x]
    fig = summary_figure(rows, x, ys, group=group or None,
                         title=f"{name}: sweep over {x}")
    paths = _savefig_atomic(fig, base, "sweep_summary")
    import matplotlib.pyplot as plt
    plt.close(fig)
    log(f"collect {name}: summary figure -> {paths[0]}")
    return rows


def _distinct(rows, key) -> int:
    return len({json.dumps(r.get(key), sort_keys=True, default=str) for r in rows})


def _savefig_atomic(fig, folder: Path, name: str) -> list[Path]:
    """``savefig`` into a temp folder next to the targets, then rename into place."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=folder))
    try:
        out = []
        for p in savefig(name, fig, folder=tmp):
            os.replace(p, folder / p.name)
            out.append(folder / p.name)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def summary_figure(rows: list[dict], x: str, y, *, group=None, title: str = ""):
    """Metric(s) ``y`` vs parameter ``x``; runs that share ``x`` (and ``group``) as mean ± std.

    rows: one dict per run (as from ``collect``); ``group``: parameter key(s)
    drawn as separate lines.  Spread is ``stats.group_table``'s sample std over
    the runs of a point (their seeds).  Returns the ``Figure``.
    """
    import numpy as np

    ys = [y] if isinstance(y, str) else list(y)
    gkeys = [] if group is None else [group] if isinstance(group, str) else list(group)
    table = stats.group_table(rows, gkeys + [x], ys)
    for r in table:
        r["group"] = ", ".join(f"{k}={r[k]}" for k in gkeys) if gkeys else None
    xv = [r[x] for r in table if isinstance(r[x], (int, float)) and not isinstance(r[x], bool)]
    pos = np.array([v for v in xv if v > 0], float)
    logx = len(xv) == len(table) and pos.size > 1 and pos.max() / pos.min() >= 100
    n = max(r["n"] for r in table)
    note = f" (mean ± std over {n} {SEED}s)" if n > 1 else ""
    fig = sweep_plot(table, x, ys, group="group" if gkeys else None, logx=logx,
                     title=(title or f"sweep over {x}") + note)
    if x in _SYMBOLS:
        for ax in fig.axes:
            ax.set_xlabel(f"{_SYMBOLS[x]} ({x})")
    return fig


_SYMBOLS = {"lam": "λ", "eta": "η", "sigma": "σ"}


