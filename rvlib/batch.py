"""Parameter sweeps over the numbered notebooks with papermill, and their collection.

One command runs a notebook once per point of a grid, each run into its own
folder, and gathers the results into one table and one figure::

    python -m rvlib.batch 02_margin_ablation lam=0,1,10,20 seed=0,1,2 --set quick=True
    make sweep NB=02_margin_ablation GRID="lam=0,1,10 seed=0,1,2"

* Everything is checked BEFORE the first run: the notebook name, the parameter
  names (read from the notebook's ``parameters`` cell with
  ``papermill.inspect_notebook``) and every value, coerced to the type of the
  parameter's default (``lam=10`` for ``lam = 1.0`` becomes ``10.0``,
  ``quick=true`` becomes ``True``).
* Run ``lam=10.0_seed=1`` writes ``results/<nb>/lam=10.0_seed=1/``: the
  executed notebook ``<nb>.ipynb`` (written by the runner) and whatever the
  notebook saves through ``rvlib.nb.start_run`` (results.json/.csv, figures,
  the ``DONE`` marker of ``run.done()``).
* A run is finished only when ``DONE`` and the executed notebook both exist and
  the notebook was run with the same parameters.  A rerun skips finished runs;
  anything else (killed, failed, other ``--set`` values) is cleared and run
  again from scratch.  The executed notebook is written to a temporary file and
  renamed into place, so no file looks complete before the run is.
* A failed run is reported with the notebook's error (``ename: evalue``), its
  executed notebook kept as ``<nb>.failed.ipynb``; the other runs still run and
  the command exits non-zero.
* ``collect`` gathers every finished run into ``results/<nb>/sweep.csv`` and
  ``results/<nb>/sweep_summary.{pdf,png}`` (metric vs the swept parameter,
  seeds as mean ± std error bars).
"""
from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import itertools
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

from rvlib import nb as nbmod
from rvlib import results, validate

RESERVED = ("run_name",)
SEED = "seed"
_ANY = object()          # declared type unknown (default None or not a literal)
_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "list": list, "tuple": tuple,
          "dict": dict}


class Param(NamedTuple):
    """A parameter declared in a notebook's ``parameters`` cell."""
    name: str
    type: Any            # int, float, bool, str, list, tuple, dict or _ANY
    default: Any         # the default as a Python value (_ANY if not a literal)
    source: str          # the default as written in the cell


class RunSpec(NamedTuple):
    """One grid point: its run name, the full papermill parameters and its folder."""
    name: str
    params: dict
    folder: Path


@dataclass
class SweepReport:
    """What a sweep did: run names done, skipped (already finished) and failed (with error)."""
    notebook: str
    runs: list[RunSpec]
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def summary(self) -> str:
        lines = [f"{self.notebook}: {len(self.runs)} runs: {len(self.done)} done, "
                 f"{len(self.skipped)} skipped (already finished), {len(self.failed)} failed"]
        lines += [f"  FAILED {name}: {err}" for name, err in self.failed.items()]
        return "\n".join(lines)


# --------------------------------------------------------------------------- notebooks

def notebook_name(notebook) -> str:
    """``02_margin_ablation``, ``02_margin_ablation.ipynb`` or ``notebooks/...`` -> the name."""
    p = Path(str(notebook))
    name = p.name[:-len(".ipynb")] if p.name.endswith(".ipynb") else p.name
    if str(p.parent) not in (".", "notebooks"):
        name = str(notebook)
    return validate.choice("notebook", name, nbmod.NOTEBOOKS)


def notebook_path(notebook, root=None) -> Path:
    name = notebook_name(notebook)
    path = _root(root) / "notebooks" / f"{name}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"notebook={name!r} is not allowed: {path} does not exist")
    return path


def _root(root) -> Path:
    return Path(root).resolve() if root is not None else nbmod.project_root()


def declared_parameters(path) -> dict[str, Param]:
    """The notebook's parameters (name -> ``Param``), in the order of its ``parameters`` cell.

    Parsed from the cell with ``ast`` (exact for multi-line literals and ``=`` in
    comments, which papermill's line regex drops), completed by
    ``papermill.inspect_notebook`` for cells that are not plain Python.  The
    type is the annotation if any (``lam: float = 1``), else the type of the
    literal default; ``None`` defaults accept any literal.
    """
    import papermill

    found = _ast_parameters(path)
    pm_log = logging.getLogger("papermill")
    level, pm_log.level = pm_log.level, logging.ERROR   # its "Unable to parse line" noise
    try:
        inspected = papermill.inspect_notebook(str(path))
    finally:
        pm_log.setLevel(level)
    for name, p in inspected.items():
        found.setdefault(name, (str(p["default"]), str(p.get("inferred_type_name") or "None")))
    out = {}
    for name, (src, ann) in found.items():
        try:
            default = ast.literal_eval(src)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            default = _ANY
        ann = re.match(r"\w*", ann).group(0).lower()
        if ann in _TYPES:
            typ = _TYPES[ann]
        elif default is _ANY or default is None:
            typ = _ANY
        else:
            typ = type(default) if type(default) in _TYPES.values() else _ANY
        out[name] = Param(name, typ, default, src)
    return out


def _ast_parameters(path) -> dict[str, tuple[str, str]]:
    """``{name: (default source, annotation)}`` of the top-level assignments of the cell."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        return {}
    src = cells[0].source
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return {}
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name):
            out[node.targets[0].id] = (ast.get_source_segment(src, node.value), "None")
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            out[node.target.id] = (ast.get_source_segment(src, node.value),
                                   ast.get_source_segment(src, node.annotation))
    return out


# --------------------------------------------------------------------------- values

def split_values(text: str) -> list[str]:
    """``"0,1,10"`` -> ``["0", "1", "10"]``; commas inside brackets or quotes do not split."""
    parts, buf, depth, quote = [], [], 0, None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(buf).strip())
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf).strip())
    return parts


def _name_value(arg: str, what: str) -> tuple[str, str]:
    name, eq, value = str(arg).partition("=")
    if not eq or not name.strip() or not value.strip():
        raise ValueError(f"{what}={arg!r} is not allowed: must look like "
                         f"{'name=v1,v2,...' if what == 'grid' else 'name=value'}")
    return name.strip(), value.strip()


def parse_grid(args) -> dict[str, list[str]]:
    """CLI words ``["lam=0,1,10", "seed=0,1"]`` -> ``{"lam": ["0", "1", "10"], "seed": [...]}``."""
    grid = {}
    for arg in args:
        name, value = _name_value(arg, "grid")
        if name in grid:
            raise ValueError(f"grid={arg!r} is not allowed: {name} is given twice")
        values = split_values(value)
        if any(v == "" for v in values):
            raise ValueError(f"grid={arg!r} is not allowed: empty value in the list")
        grid[name] = values
    return grid


def parse_fixed(args) -> dict[str, str]:
    """CLI ``--set`` words ``["quick=True", "clip=[0,1]"]`` -> ``{"quick": "True", ...}``.

    Values are not split at commas: ``--set clip=0,1`` is one value.
    """
    fixed = {}
    for arg in args:
        name, value = _name_value(arg, "--set")
        if name in fixed:
            raise ValueError(f"--set={arg!r} is not allowed: {name} is given twice")
        fixed[name] = value
    return fixed


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def coerce(param: Param, value):
    """``value`` (a CLI string or a Python value) as the declared type of ``param``.

    Raises ``ValueError`` naming the parameter, the value and the expected type.
    Tuples become lists (papermill injects lists, not tuples).
    """
    t, given = param.type, value

    def fail():
        tname = "a literal" if t is _ANY else f"{'an' if t is int else 'a'} {t.__name__}"
        raise ValueError(f"{param.name}={given!r} is not allowed: must be {tname} "
                         f"(its default is {param.source})")

    if t is _ANY:
        return _listify(_literal(value) if isinstance(value, str) else value)
    if t is str:
        if not isinstance(value, str):
            fail()
        v = value.strip()
        return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'" else value
    if isinstance(value, str):
        if t is bool:
            low = value.strip().lower()
            if low in _TRUE + _FALSE:
                return low in _TRUE
            fail()
        if t in (int, float):
            try:
                value = float(value.strip())
            except ValueError:
                fail()
        else:
            value = _literal(value)
    if t is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        fail()
    if t in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail()
        if t is int:
            if not math.isfinite(value) or value != int(value):
                fail()
            return int(value)
        return float(value)
    if t in (list, tuple):
        if not isinstance(value, (list, tuple)):
            fail()
        return [_like(param.default, i, v) for i, v in enumerate(value)]
    if t is dict and not isinstance(value, dict):
        fail()
    return value


def _literal(text: str):
    """A Python literal if ``text`` is one (``[0, 1]``, ``None``, ``2``), else the string itself."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _listify(v):
    return [_listify(x) for x in v] if isinstance(v, (list, tuple)) else v


def _like(default, i, v):
    """Element ``v`` of a list given for a list default: ints become floats if the default's are."""
    if isinstance(default, (list, tuple)) and default:
        ref = default[min(i, len(default) - 1)]
        if isinstance(ref, float) and isinstance(v, int) and not isinstance(v, bool):
            return float(v)
    return _listify(v)


# --------------------------------------------------------------------------- planning

def run_name(point: dict) -> str:
    """Deterministic, filesystem-safe folder name of a grid point: ``lam=10.0_seed=1``."""
    def fmt(v):
        if isinstance(v, float):
            return repr(v)
        if isinstance(v, (list, tuple)):
            return ",".join(fmt(x) for x in v) or "empty"
        return str(v)

    name = "_".join(f"{k}={fmt(v)}" for k, v in point.items())
    name = re.sub(r"[^A-Za-z0-9._=+,-]+", "-", name).strip("-")
    if len(name) > 120:     # keep within path limits; the hash keeps it unique
        name = f"{name[:100]}_{hashlib.sha1(name.encode()).hexdigest()[:12]}"
    return name


def _as_values(values) -> list:
    if isinstance(values, str):
        return split_values(values)
    if isinstance(values, (list, tuple)):
        return list(values)
    return [values]


def plan(notebook, grid: dict, *, fixed: dict | None = None, root=None) -> list[RunSpec]:
    """Check names and values and list the runs of the sweep; nothing is run or written.

    grid: ``{name: [values]}`` (a string value is split at commas);
    fixed: ``{name: value}`` for every run.  Raises ``ValueError`` on unknown
    notebooks or parameters and on values that do not fit the declared type.
    """
    name = notebook_name(notebook)
    path = notebook_path(name, root)
    declared = declared_parameters(path)
    fixed = dict(fixed or {})
    if not grid:
        raise ValueError("grid={} is not allowed: give at least one name=v1,v2,... "
                         "(a single value is fine)")
    if "run_name" not in declared:
        raise ValueError(f"notebook={name!r} is not allowed: its parameters cell declares no "
                         "run_name, so runs cannot get their own folders")
    for key in [*grid, *fixed]:
        if key in RESERVED:
            raise ValueError(f"{key} is not allowed as a parameter: the runner sets it "
                             "from the grid values")
        if key not in declared:
            close = difflib.get_close_matches(key, list(declared), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            allowed = ", ".join(k for k in declared if k not in RESERVED)
            raise ValueError(f"{key} is not allowed: {name} declares no parameter {key!r}{hint}; "
                             f"its parameters are: {allowed}")
    both = sorted(set(grid) & set(fixed))
    if both:
        raise ValueError(f"{both[0]} is not allowed both in the grid and in --set")

    axes = {}
    for key, values in grid.items():
        vals = [coerce(declared[key], v) for v in _as_values(values)]
        if not vals:
            raise ValueError(f"{key}=[] is not allowed: give at least one value")
        seen = []
        for v in vals:
            if v in seen:
                raise ValueError(f"{key}={values!r} is not allowed: {v!r} is given twice")
            seen.append(v)
        axes[key] = vals
    fixed = {k: coerce(declared[k], v) for k, v in fixed.items()}

    out_root = _root(root) / "results" / name
    runs, names = [], set()
    for combo in itertools.product(*axes.values()):
        point = dict(zip(axes, combo))
        rn = run_name(point)
        if rn in names:
            raise ValueError(f"grid={grid!r} is not allowed: two grid points share the "
                             f"run name {rn!r}")
        names.add(rn)
        runs.append(RunSpec(rn, {**point, **fixed, "run_name": rn}, out_root / rn))
    return runs


# --------------------------------------------------------------------------- running

def _executed(folder: Path, name: str) -> Path:
    return folder / f"{name}.ipynb"


def _normal(params: dict) -> dict:
    return json.loads(json.dumps(params, sort_keys=True, default=str))


def finished(spec: RunSpec, notebook: str) -> tuple[bool, str]:
    """``(True, "")`` if the run is finished with these parameters, else ``(False, why)``."""
    out = _executed(spec.folder, notebook)
    if not spec.folder.exists():
        return False, "new"
    if not (results.is_done(spec.folder) and out.is_file()):
        return False, "unfinished (no DONE marker or executed notebook)"
    try:
        ran = json.loads(out.read_text(encoding="utf-8"))["metadata"]["papermill"]["parameters"]
    except (OSError, ValueError, KeyError, TypeError):
        return False, "executed notebook unreadable"
    want, ran = _normal(spec.params), _normal(ran)
    if ran != want:
        def show(d, k):
            return repr(d[k]) if k in d else "default"
        diff = ", ".join(f"{k}: {show(ran, k)} -> {show(want, k)}"
                         for k in sorted(set(want) | set(ran)) if show(ran, k) != show(want, k))
        return False, f"parameters changed ({diff})"
    return True, ""


def _execute(spec: RunSpec, path: Path, kernel: str, timeout) -> str | None:
    """Run one grid point from scratch; ``None`` on success, else the error message."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    name = path.stem
    if spec.folder.exists():           # stale partial files of a killed/failed/changed run
        shutil.rmtree(spec.folder)
    spec.folder.mkdir(parents=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".ipynb", dir=spec.folder)
    os.close(fd)
    error = None
    try:
        try:
            papermill.execute_notebook(str(path), tmp, parameters=spec.params, kernel_name=kernel,
                                       cwd=str(path.parent), progress_bar=False, log_output=False,
                                       execution_timeout=timeout)
        except PapermillExecutionError as e:
            error = f"{e.ename}: {e.evalue}"
        except Exception as e:         # kernel died, timeout, unreadable notebook ...
            error = f"{type(e).__name__}: {e}"
        if error is None and not results.is_done(spec.folder):
            error = (f"the notebook finished without a DONE marker in {spec.folder}: it must "
                     f"call nb.start_run({name!r}, dict(run_name=run_name, ...)) and run.done()")
        os.chmod(tmp, 0o666 & ~_UMASK)   # mkstemp makes it private
        if error is None:
            os.replace(tmp, _executed(spec.folder, name))
        else:
            # a failed run must never look finished: keep its notebook under another name
            (spec.folder / results.DONE).unlink(missing_ok=True)
            if os.path.getsize(tmp):
                os.replace(tmp, spec.folder / f"{name}.failed.ipynb")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return error


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _check_kernel(kernel: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        raise ValueError(f"kernel={kernel!r} is not allowed: no such Jupyter kernel; install it "
                         f"with `{sys.executable} -m ipykernel install --sys-prefix --name "
                         f"{kernel}`") from None


def run_sweep(notebook, grid: dict, *, fixed: dict | None = None, root=None,
              kernel: str = "python3", progress: bool = True, log: Callable = print,
              jobs: int = 1, timeout: float | None = None) -> SweepReport:
    """Run ``notebook`` once per point of the cartesian product of ``grid``.

    grid: ``{"lam": [0, 1, 10], "seed": [0, 1, 2]}`` (values may be CLI strings);
    fixed: parameters set for every run (``{"quick": True}``).  All names and
    values are checked before the first run.  Finished runs are skipped; the
    others run from scratch (``jobs`` at a time); failures are collected in the
    report, never raised.  ``timeout``: seconds per cell (papermill).
    """
    from tqdm.auto import tqdm

    runs = plan(notebook, grid, fixed=fixed, root=root)
    jobs = validate.positive("jobs", jobs, integer=True)
    _check_kernel(kernel)
    name = notebook_name(notebook)
    path = notebook_path(name, root)
    report = SweepReport(name, runs)
    say = tqdm.write if (progress and log is print) else log

    todo = []
    for spec in runs:
        ok, why = finished(spec, name)
        if ok:
            report.skipped.append(spec.name)
            say(f"skip {spec.name} (finished)")
        else:
            if (spec.folder / f"{name}.failed.ipynb").exists():
                why = "failed before"
            if why != "new":
                say(f"rerun {spec.name}: {why}")
            todo.append(spec)

    bar = tqdm(total=len(runs), initial=len(report.skipped), desc=name, unit="run",
               disable=not progress)

    def record(spec, error):
        if error is None:
            report.done.append(spec.name)
            say(f"done {spec.name}")
        else:
            report.failed[spec.name] = error
            say(f"FAILED {spec.name}: {error}")
        bar.update(1)

    pm_log = logging.getLogger("papermill")   # we validated the parameters ourselves
    level, pm_log.level = pm_log.level, logging.ERROR
    try:
        if jobs == 1:
            for spec in todo:
                bar.set_postfix_str(spec.name)
                record(spec, _execute(spec, path, kernel, timeout))
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(_execute, s, path, kernel, timeout): s for s in todo}
                for fut in as_completed(futures):
                    record(futures[fut], fut.result())
    finally:
        bar.close()
        pm_log.setLevel(level)
    order = [s.name for s in runs]
    report.done.sort(key=order.index)
    report.failed = {k: report.failed[k] for k in order if k in report.failed}
    say(report.summary())
    return report


# --------------------------------------------------------------------------- collecting

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
    return tuple((0, float(row[k]), "") if isinstance(row.get(k), (int, float))
                 else (1, 0.0, json.dumps(row.get(k), sort_keys=True, default=str)) for k in keys)


NOT_SWEEP_RUNS = ("default", "quick")   # make run's and CI's own runs of the notebook


def collect(notebook, *, root=None, metric_keys=None, log: Callable = print) -> list[dict]:
    """Every finished run of ``notebook`` as one row: run name, parameters, scalar metrics.

    Writes ``results/<nb>/sweep.csv`` and ``results/<nb>/sweep_summary.{pdf,png}``
    (both atomically): each metric in ``metric_keys`` (default: every numeric
    metric that varies across runs) vs the swept parameter with the most values
    other than ``seed``, seeds as mean ± std.  Returns the rows (sorted by the
    parameters).
    """
    name = notebook_name(notebook)
    base = _root(root) / "results" / name
    rows, params_keys, metric_cols, unfinished = [], [], [], 0
    folders = sorted(p for p in base.glob("*") if p.is_dir()) if base.is_dir() else []
    for folder in folders:
        if folder.name in NOT_SWEEP_RUNS:
            continue
        res = folder / "results.json"
        if not (results.is_done(folder) and _executed(folder, name).is_file() and res.is_file()):
            unfinished += 1
            continue
        ran = json.loads(_executed(folder, name).read_text(encoding="utf-8"))
        params = dict(ran.get("metadata", {}).get("papermill", {}).get("parameters", {}))
        saved = results.read_json(res)
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
                raise ValueError(f"metric_keys={k!r} is not allowed: the runs' numeric metrics "
                                 f"are: {', '.join(metric_cols)}")
    rows.sort(key=lambda r: _sort_key(r, params_keys))
    results.write_csv(base / "sweep.csv", rows)
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
    """``plots.savefig`` into a temp folder next to the targets, then rename into place."""
    from rvlib import plots

    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=folder))
    try:
        out = []
        for p in plots.savefig(name, fig, folder=tmp):
            os.replace(p, folder / p.name)
            out.append(folder / p.name)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def aggregate(rows: list[dict], x: str, ys, *, group=None, over: str = SEED) -> list[dict]:
    """Mean and std of each metric in ``ys`` over runs sharing ``x`` (and ``group``).

    Returns rows ``{x, [group], y, y_std, y_n}`` sorted by ``x``; std is the
    sample std (ddof=1) over the ``over`` values (seeds), 0 for a single run.
    ``group``: one key or a list of keys (joined into a ``"k=v, ..."`` label).
    """
    import numpy as np

    ys = [ys] if isinstance(ys, str) else list(ys)
    gkeys = [] if group is None else [group] if isinstance(group, str) else list(group)
    buckets: dict = {}
    for r in rows:
        label = ", ".join(f"{k}={r.get(k)}" for k in gkeys) if gkeys else None
        key = (label, json.dumps(r.get(x), sort_keys=True, default=str))
        buckets.setdefault(key, []).append(r)
    out = []
    for (label, _), rs in buckets.items():
        agg = {x: rs[0].get(x)}
        if gkeys:
            agg["group"] = label
        for y in ys:
            v = np.array([float(r[y]) for r in rs if _number(r.get(y)) is not None], float)
            v = v[np.isfinite(v)]
            agg[y] = float(v.mean()) if v.size else float("nan")
            agg[f"{y}_std"] = float(v.std(ddof=1)) if v.size > 1 else 0.0
            agg[f"{y}_n"] = int(v.size)
        out.append(agg)
    out.sort(key=lambda r: (str(r.get("group")), _sort_key(r, [x])))
    return out


def summary_figure(rows: list[dict], x: str, y, *, group=None, over: str = SEED,
                   title: str = ""):
    """Metric(s) ``y`` vs parameter ``x``, runs differing only in ``over`` (seed) as mean ± std.

    rows: one dict per run (as from ``collect``).  ``group``: parameter key(s)
    drawn as separate lines.  Returns the ``Figure``.
    """
    import numpy as np

    from rvlib import plots

    ys = [y] if isinstance(y, str) else list(y)
    agg = aggregate(rows, x, ys, group=group, over=over)
    xv = [r[x] for r in agg if isinstance(r[x], (int, float)) and not isinstance(r[x], bool)]
    pos = np.array([v for v in xv if v > 0], float)
    logx = len(xv) == len(agg) and pos.size > 1 and pos.max() / pos.min() >= 100
    n = max((r[f"{ys[0]}_n"] for r in agg), default=1)
    note = f" (mean ± std over {n} {over}s)" if n > 1 else ""
    fig = plots.sweep_plot(agg, x, ys, group="group" if group else None, logx=logx,
                           title=(title or f"sweep over {x}") + note)
    if x in _SYMBOLS:
        for ax in fig.axes:
            ax.set_xlabel(f"{_SYMBOLS[x]} ({x})")
    return fig


_SYMBOLS = {"lam": "λ", "eta": "η", "sigma": "σ"}


# --------------------------------------------------------------------------- CLI

def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m rvlib.batch",
        description="Run a numbered notebook once per grid point with papermill, then collect "
                    "results/<nb>/sweep.csv and sweep_summary.{pdf,png}.",
        epilog="example: python -m rvlib.batch 02_margin_ablation lam=0,1,10,20 seed=0,1,2 "
               "--set quick=True")
    ap.add_argument("notebook", help="one of: " + ", ".join(nbmod.NOTEBOOKS))
    ap.add_argument("grid", nargs="*", metavar="name=v1,v2,...",
                    help="swept parameters (cartesian product)")
    ap.add_argument("--set", dest="fixed", action="append", default=[], metavar="name=value",
                    help="parameter for every run (repeatable)")
    ap.add_argument("--root", default=None, help="project root (default: found from the cwd)")
    ap.add_argument("--collect-only", action="store_true",
                    help="only gather finished runs into sweep.csv and the summary figure")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    ap.add_argument("--metric", action="append", default=None, metavar="KEY",
                    help="metric(s) to plot (default: every numeric metric that varies)")
    ap.add_argument("--kernel", default="python3", help="Jupyter kernel (default python3)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per cell")
    ap.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    a = ap.parse_intermixed_args(argv)   # grid words may follow --set
    if threading.current_thread() is threading.main_thread():
        # `kill` (SIGTERM) unwinds like Ctrl-C: temp files removed, kernels shut down
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        if a.collect_only:
            if a.grid or a.fixed:
                raise ValueError("--collect-only takes no grid or --set values")
            notebook_name(a.notebook)
            collect(a.notebook, root=a.root, metric_keys=a.metric)
            return 0
        report = run_sweep(a.notebook, parse_grid(a.grid), fixed=parse_fixed(a.fixed),
                           root=a.root, kernel=a.kernel, progress=not a.no_progress,
                           jobs=a.jobs, timeout=a.timeout)
        collect(a.notebook, root=a.root, metric_keys=a.metric)
        return report.exit_code
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished runs are kept; rerun the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
