"""Parameter sweeps over the numbered notebooks with papermill, and their collection.

One command runs a notebook once per point of a grid, each run into its own
folder, and gathers the results into one table and one figure::

    python -m rvlib.nb.sweep 02_margin_ablation lam=0,1,10,20 seed=0,1,2 --set quick=True
    make sweep NB=02_margin_ablation GRID="lam=0,1,10 seed=0,1,2"

It is the only runner: ``make run`` runs every numbered notebook (``params.PARAMS``)
once with its own defaults into ``results/<nb>/default/`` (``--defaults``), and
``make notebook NB=... ARGS="lam=10"`` runs one notebook once (a one-point grid).

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
* ``collect`` (``nb.collect``) gathers every finished run into
  ``results/<nb>/sweep.csv`` and a summary figure.
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import itertools
import logging
import os
import re
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from rvlib import validate
from rvlib.nb.collect import collect
from rvlib.nb.declared import coerce, declared_parameters, parse_fixed, parse_grid, split_values
from rvlib.nb.execute import RunSpec, check_kernel, execute, finished
from rvlib.nb.executors import EXECUTORS, make_executor
from rvlib.nb.lock import hold
from rvlib.nb.params import DEFAULT_RUN, PARAMS, QUICK_ENV, quick_from_env
from rvlib.nb.runs import project_root

__all__ = ["NOTEBOOKS", "SweepReport", "notebook_name", "notebook_path", "run_name", "plan",
           "run_sweep", "run_defaults", "main"]

NOTEBOOKS = tuple(PARAMS)   # the numbered notebooks, in order (params.PARAMS is the one list)
RESERVED = ("run_name",)


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
    return validate.choice("notebook", name, NOTEBOOKS)


def notebook_path(notebook, root=None) -> Path:
    name = notebook_name(notebook)
    path = _root(root) / "notebooks" / f"{name}.ipynb"
    if not path.is_file():
        validate.fail("notebook", name, f"{path} does not exist")
    return path


def _root(root) -> Path:
    return Path(root).resolve() if root is not None else project_root()


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
        validate.fail("grid", {}, "give at least one name=v1,v2,... (a single value is fine)")
    if "run_name" not in declared:
        validate.fail("notebook", name, "its parameters cell declares no run_name, so runs "
                      "cannot get their own folders")
    given = {**grid, **fixed}
    for key in [*grid, *fixed]:
        if key in RESERVED:
            validate.fail(key, given[key], "the runner sets it from the grid values")
        if key not in declared:
            close = difflib.get_close_matches(key, list(declared), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            allowed = ", ".join(k for k in declared if k not in RESERVED)
            validate.fail(key, given[key], f"{name} declares no parameter {key!r}{hint}; "
                          f"its parameters are: {allowed}")
    both = sorted(set(grid) & set(fixed))
    if both:
        validate.fail(both[0], grid[both[0]], "it is given both in the grid and in --set")

    axes = {}
    for key, values in grid.items():
        vals = [coerce(declared[key], v) for v in _as_values(values)]
        if not vals:
            validate.fail(key, [], "give at least one value")
        seen = []
        for v in vals:
            if v in seen:
                validate.fail(key, values, f"{v!r} is given twice")
            seen.append(v)
        axes[key] = vals
    fixed = {k: coerce(declared[k], v) for k, v in fixed.items()}

    out_root = _root(root) / "results" / name
    runs, names = [], set()
    for combo in itertools.product(*axes.values()):
        point = dict(zip(axes, combo))
        rn = run_name(point)
        if rn in names:
            validate.fail("grid", grid, f"two grid points share the run name {rn!r}")
        names.add(rn)
        runs.append(RunSpec(rn, {**point, **fixed, "run_name": rn}, out_root / rn))
    check_points(name, declared, runs)
    return runs


def check_points(name: str, declared: dict, runs: list[RunSpec]) -> None:
    """Build the notebook's parameter dataclass for every grid point: any bad value fails now.

    Each point is the notebook's declared defaults updated with the point's
    values, so ranges, cross-parameter rules and memory limits are checked for
    every run before the first one starts.
    """
    from rvlib.nb.params import PARAMS

    cls = PARAMS[name]
    fields_ = set(cls.defaults())
    base = {k: p.default for k, p in declared.items() if k in fields_}
    for spec in runs:
        values = {**base, **{k: v for k, v in spec.params.items() if k in fields_}}
        try:
            cls(**values)
        except ValueError as e:
            raise ValueError(f"{e} (run {spec.name}; nothing was run)") from None


# --------------------------------------------------------------------------- running

def run_sweep(notebook, grid: dict, *, fixed: dict | None = None, root=None,
              kernel: str = "python3", progress: bool = True, log: Callable = print,
              jobs: int = 1, timeout: float | None = None, executor=None,
              wait: float = 0.0) -> SweepReport:
    """Run ``notebook`` once per point of the cartesian product of ``grid``.

    grid: ``{"lam": [0, 1, 10], "seed": [0, 1, 2]}`` (values may be CLI strings);
    fixed: parameters set for every run (``{"quick": True}``).  All names and
    values are checked before the first run.  Finished runs are skipped; the
    others run from scratch (``jobs`` at a time); failures are collected in the
    report, never raised.  ``timeout``: seconds per cell (papermill).
    ``executor``: where runs execute (``nb.executors``; default: here, ``jobs`` at a time).
    The results folder is locked for the sweep (``nb.lock``): another sweep there
    makes this one wait up to ``wait`` seconds, then refuse naming the holder.
    """
    runs = plan(notebook, grid, fixed=fixed, root=root)
    jobs = validate.positive("jobs", jobs, integer=True)
    wait = validate.non_negative("wait", wait)
    check_kernel(kernel)
    name = notebook_name(notebook)
    with hold(_root(root) / "results" / name, wait=wait, what=f"sweep of {name}"):
        return _run_locked(name, runs, root, kernel, progress, log, jobs, timeout, executor)


def _run_locked(name, runs, root, kernel, progress, log, jobs, timeout,
                executor) -> SweepReport:
    from tqdm.auto import tqdm

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
        if executor is not None:
            for spec, error in executor.run(todo, path, kernel, timeout):
                record(spec, error)
        elif jobs == 1:
            for spec in todo:
                bar.set_postfix_str(spec.name)
                record(spec, execute(spec, path, kernel, timeout))
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(execute, s, path, kernel, timeout): s for s in todo}
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


def run_defaults(notebooks=None, *, root=None, kernel: str = "python3", log: Callable = print,
                 timeout: float | None = None) -> SweepReport:
    """``make run``: each notebook once with the defaults of its parameters cell.

    Writes ``results/<nb>/default/`` (and, through the notebook, ``figures/<nb>/``);
    always reruns (the code may have changed since).  Refused while
    ``RVLIB_QUICK=1``: those runs would go to ``quick``, not ``default``.
    Stops at the first failure (the report reads every notebook's results).
    """
    if quick_from_env():
        validate.fail(QUICK_ENV, os.environ[QUICK_ENV], "make run writes the default runs; "
                      "unset it (quick runs go to run_name='quick')")
    names = [notebook_name(nb) for nb in (notebooks or NOTEBOOKS)]
    check_kernel(kernel)
    base = _root(root) / "results"
    runs = [RunSpec(DEFAULT_RUN, {}, base / nb / DEFAULT_RUN) for nb in names]
    report = SweepReport("make run", runs)
    pm_log = logging.getLogger("papermill")
    level, pm_log.level = pm_log.level, logging.ERROR
    try:
        for nb, spec in zip(names, runs):
            log(f"== {nb}")
            with hold(base / nb, what=f"make run of {nb}"):
                error = execute(spec, notebook_path(nb, root), kernel, timeout)
            if error is not None:
                report.failed[nb] = error
                log(f"FAILED {nb}: {error}")
                break
            report.done.append(nb)
    finally:
        pm_log.setLevel(level)
    return report


# --------------------------------------------------------------------------- CLI

def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m rvlib.nb.sweep",
        description="Run a numbered notebook once per grid point with papermill, then collect "
                    "results/<nb>/sweep.csv and sweep_summary.{pdf,png}.",
        epilog="example: python -m rvlib.nb.sweep 02_margin_ablation lam=0,1,10,20 seed=0,1,2 "
               "--set quick=True")
    ap.add_argument("notebook", nargs="?", help="one of: " + ", ".join(NOTEBOOKS))
    ap.add_argument("grid", nargs="*", metavar="name=v1,v2,...",
                    help="swept parameters (cartesian product)")
    ap.add_argument("--set", dest="fixed", action="append", default=[], metavar="name=value",
                    help="parameter for every run (repeatable)")
    ap.add_argument("--root", default=None, help="project root (default: found from the cwd)")
    ap.add_argument("--defaults", action="store_true",
                    help="make run: every notebook (or the one given) once with its defaults "
                         "into results/<nb>/default/")
    ap.add_argument("--collect-only", action="store_true",
                    help="only gather finished runs into sweep.csv and the summary figure")
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    ap.add_argument("--executor", default="local", choices=EXECUTORS,
                    help="where runs execute: local (default) or a Dask cluster")
    ap.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                    help="with --executor dask: the scheduler of a running cluster")
    ap.add_argument("--workers", type=int, default=None, metavar="N",
                    help="with --executor dask: start a LocalCluster of N worker processes")
    ap.add_argument("--metric", action="append", default=None, metavar="KEY",
                    help="metric(s) to plot (default: every numeric metric that varies)")
    ap.add_argument("--kernel", default="python3", help="Jupyter kernel (default python3)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per cell")
    ap.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    ap.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                    help="wait this long for another sweep of the notebook to finish "
                         "(default: refuse at once, naming it)")
    a = ap.parse_intermixed_args(argv)   # grid words may follow --set
    if threading.current_thread() is threading.main_thread():
        # `kill` (SIGTERM) unwinds like Ctrl-C: temp files removed, kernels shut down
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        if a.defaults:
            if a.grid or a.fixed or a.collect_only:
                validate.fail("--defaults", True, "takes no grid, --set or --collect-only")
            report = run_defaults([a.notebook] if a.notebook else None, root=a.root,
                                  kernel=a.kernel, timeout=a.timeout)
            return report.exit_code
        if a.notebook is None:
            validate.fail("notebook", None, "give one of " + ", ".join(NOTEBOOKS))
        if a.collect_only:
            if a.grid or a.fixed:
                validate.fail("--collect-only", True, "takes no grid or --set values")
            collect(notebook_name(a.notebook), _root(a.root), metric_keys=a.metric, wait=a.wait)
            return 0
        name, grid, fixed = notebook_name(a.notebook), parse_grid(a.grid), parse_fixed(a.fixed)
        plan(name, grid, fixed=fixed, root=a.root)  # refuse bad points before locking or a cluster
        executor = None
        if a.executor != "local" or a.scheduler or a.workers:
            executor = make_executor(a.executor, scheduler=a.scheduler, workers=a.workers)
        try:
            with hold(_root(a.root) / "results" / name, wait=a.wait, what=f"sweep of {name}"):
                report = run_sweep(a.notebook, grid, fixed=fixed, root=a.root, kernel=a.kernel,
                                   progress=not a.no_progress, jobs=a.jobs, timeout=a.timeout,
                                   executor=executor)
                collect(name, _root(a.root), metric_keys=a.metric)
        finally:
            if executor is not None:
                executor.close()
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
