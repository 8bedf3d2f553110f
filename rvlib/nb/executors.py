"""Where the runs of a sweep execute: the local pool (default) or a Dask distributed cluster.

::

    python -m rvlib.nb.sweep 02_margin_ablation lam=0,1,10 seed=0,1 --executor dask --workers 4
    python -m rvlib.nb.sweep 02_margin_ablation lam=0,1,10 --executor dask --scheduler tcp://HOST:8786

* :class:`LocalExecutor`: ``jobs`` runs at a time in threads of this process,
  each executed in place by ``execute.execute`` (the runner's behaviour
  before executors existed, unchanged).
* :class:`DaskExecutor`: each run is one Dask task (``Client.submit``), on a
  ``LocalCluster`` of ``workers`` processes or on the cluster whose scheduler
  is at ``scheduler`` (all workers must see the same project folder, e.g. a
  shared file system, and have rvlib installed).  A task executes the
  notebook in its own staging project root ``results/.staging/<nb>/<run>.<random>/``
  and, when the notebook has finished (or failed), renames the run folder
  into ``results/<nb>/<run>/`` in one step: a worker killed mid-run leaves
  only its staging folder, never a run folder that looks finished, and the
  rerun redoes exactly that point.  Dask retries a task whose worker died
  (up to its ``allowed-failures``, 3 by default) on another worker.

Workers set ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` for their kernels, so
several JAX processes can share one GPU instead of each reserving 75% of it.
"""
from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from rvlib import validate
from rvlib.nb.execute import RunSpec, execute

__all__ = ["EXECUTORS", "LocalExecutor", "DaskExecutor", "make_executor", "run_staged",
           "STAGING", "WORKER_ENV"]

STAGING = ".staging"  # under results/: the staging project roots of running Dask tasks
WORKER_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
"""Set in every Dask task before its kernel starts (kernels inherit it)."""

Runner = Callable[[RunSpec, Path, str, "float | None"], "str | None"]


class LocalExecutor:
    """``jobs`` runs at a time on this machine, in place (the default)."""

    def __init__(self, jobs: int = 1):
        self.jobs = validate.positive("jobs", jobs, integer=True)

    def run(self, specs: Sequence[RunSpec], path: Path, kernel: str,
            timeout) -> Iterator[tuple[RunSpec, str | None]]:
        """Yield ``(spec, error or None)`` as runs finish."""
        if self.jobs == 1:
            for spec in specs:
                yield spec, execute(spec, path, kernel, timeout)
            return
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures = {pool.submit(execute, s, path, kernel, timeout): s for s in specs}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()

    def close(self):
        pass


def _results_root(spec: RunSpec) -> Path:
    return spec.folder.parent.parent  # <root>/results/<nb>/<run> -> <root>/results


def run_staged(spec: RunSpec, path, kernel: str, timeout) -> str | None:
    """Execute one run in a staging project root, then rename its folder into place.

    Runs on a worker.  ``None`` on success, else the error message (the
    failed run's folder, with ``<nb>.failed.ipynb``, is moved into place too,
    so the runner reports it exactly as a local failure).
    """
    for k, v in WORKER_ENV.items():
        os.environ.setdefault(k, v)
    path = Path(path)
    name = path.stem
    stage = (_results_root(spec) / STAGING / name /
             f"{spec.name}.{secrets.token_hex(4)}")
    (stage / "rvlib").mkdir(parents=True)   # project_root() looks for notebooks/ and rvlib/
    (stage / "notebooks").mkdir()
    staged_nb = stage / "notebooks" / path.name
    shutil.copy2(path, staged_nb)
    staged = RunSpec(spec.name, spec.params, stage / "results" / name / spec.name)
    error = execute(staged, staged_nb, kernel, timeout)
    if staged.folder.is_dir():
        if spec.folder.exists():   # a stale, unfinished or failed earlier run of this point
            shutil.rmtree(spec.folder)
        spec.folder.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged.folder, spec.folder)
    shutil.rmtree(stage, ignore_errors=True)
    return error


class DaskExecutor:
    """Each run a task on a Dask cluster: ``scheduler`` address, or a LocalCluster of ``workers``."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None):
        from dask.distributed import Client, LocalCluster

        if (scheduler is None) == (workers is None):
            validate.fail("executor", "dask", "give either scheduler='tcp://HOST:PORT' or "
                          "workers=N (a LocalCluster of N worker processes)")
        self.cluster = None
        if scheduler is None:
            workers = validate.positive("workers", workers, integer=True)
            # one thread per worker: a notebook run is one kernel, and JAX uses the cores
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                        processes=True, host="127.0.0.1",
                                        dashboard_address=None)
            self.client = Client(self.cluster)
        else:
            self.client = Client(scheduler)

    def run(self, specs: Sequence[RunSpec], path: Path, kernel: str,
            timeout) -> Iterator[tuple[RunSpec, str | None]]:
        from dask.distributed import as_completed as dask_completed

        # pure=False: a rerun of the same point is new work, never a cached result
        futures = {self.client.submit(run_staged, s, str(path), kernel, timeout, pure=False,
                                      key=f"run-{s.name}-{secrets.token_hex(4)}"): s
                   for s in specs}
        for fut in dask_completed(list(futures)):
            spec = futures[fut]
            try:
                yield spec, fut.result()
            except Exception as e:     # the task itself died, e.g. KilledWorker
                yield spec, f"{type(e).__name__}: {e}"

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


EXECUTORS = ("local", "dask")


def make_executor(name: str = "local", *, jobs: int = 1, scheduler: str | None = None,
                  workers: int | None = None):
    """``"local"`` -> :class:`LocalExecutor` (``jobs``); ``"dask"`` -> :class:`DaskExecutor`."""
    validate.choice("executor", name, EXECUTORS)
    if name == "local":
        if scheduler is not None or workers is not None:
            validate.fail("executor", name, "--scheduler and --workers need --executor dask")
        return LocalExecutor(jobs)
    return DaskExecutor(scheduler, workers)
