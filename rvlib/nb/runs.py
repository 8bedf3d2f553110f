"""Where a notebook run writes, and how: ``start_run(params)`` -> a :class:`Run`.

* ``run_name == "default"`` (``make run``): figures go to ``figures/<notebook>/``,
  results to ``results/<notebook>/default/``.
* any other run name (sweeps, quick runs): everything goes to
  ``results/<notebook>/<run_name>/`` with figures in its ``figures/`` folder,
  so a sweep or a quick run never overwrites the main figures.

Paths are relative to the project root (the folder holding ``notebooks/`` and
``rvlib/``), found from the working directory, so a notebook works when
started from ``notebooks/`` (JupyterLab, papermill) or from the root.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from rvlib.nb import records
from rvlib.nb.figures import savefig
from rvlib.nb.params import DEFAULT_RUN, NotebookParams

__all__ = ["Run", "start_run", "project_root", "environment"]


def project_root(start=None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) with ``notebooks/`` and ``rvlib/``."""
    here = Path(start or os.getcwd()).resolve()
    for p in (here, *here.parents):
        if (p / "notebooks").is_dir() and (p / "rvlib").is_dir():
            return p
    return here


@dataclass
class Run:
    """Where one notebook run writes: ``results_dir`` (results files) and ``fig_dir`` (figures)."""
    notebook: str
    run_name: str
    params: dict
    root: Path
    results_dir: Path
    fig_dir: Path
    saved: list = field(default_factory=list)

    def savefig(self, name: str, fig=None):
        """Save through ``figures.savefig`` into this run's figure folder (PDF + PNG)."""
        paths = savefig(name, fig, folder=self.fig_dir)
        self.saved += paths
        return paths

    def save(self, metrics, rows: list[dict] | None = None, name: str = "results"):
        """Atomically write ``results.json`` (params, rvlib version, metrics) and ``results.csv``."""
        return records.save_run(self.results_dir, params=self.params, metrics=metrics,
                                rows=rows, name=name)

    def checkpoint_dir(self, name: str) -> Path:
        """Where this run keeps the Orbax checkpoints of its training ``name``.

        ``results/<notebook>/.checkpoints/<run_name>/<name>/``: beside the run
        folder, not in it, so a rerun of an unfinished run (which starts its
        folder afresh) still finds them, and hidden, so collection ignores them.
        """
        return self.root / "results" / self.notebook / ".checkpoints" / self.run_name / name

    def done(self):
        """Mark the run complete (sweeps skip finished runs)."""
        return records.mark_done(self.results_dir)


def start_run(params: NotebookParams, *, root=None) -> Run:
    """Create the run's folders for the checked ``params`` of a notebook; returns a :class:`Run`."""
    root = Path(root) if root is not None else project_root()
    res = root / "results" / params.notebook / params.run_name
    fig = root / "figures" / params.notebook if params.run_name == DEFAULT_RUN else res / "figures"
    res.mkdir(parents=True, exist_ok=True)
    fig.mkdir(parents=True, exist_ok=True)
    return Run(params.notebook, params.run_name, params.record(), root, res, fig)


def environment() -> dict:
    """What a results file should say about where it ran."""
    import jax
    d = jax.devices()[0]
    return {"python": platform.python_version(), "jax": jax.__version__,
            "device": f"{d.platform}:{getattr(d, 'device_kind', '')}",
            "devices": jax.local_device_count()}
