"""Glue for the numbered notebooks: where a run writes, and how.

A notebook's ``parameters`` cell holds plain literals, among them
``run_name`` (default ``"default"``).  The next cell calls ``start_run``:

* ``run_name == "default"`` (``make run``): figures go to ``figures/<notebook>/``,
  results to ``results/<notebook>/default/``.
* any other run name (papermill sweeps, CI's ``quick`` run): everything goes to
  ``results/<notebook>/<run_name>/`` with figures in its ``figures/`` folder,
  so a sweep never overwrites the main figures.

Paths are relative to the project root (the folder holding ``pyproject.toml``
and ``notebooks/``), found from the working directory, so a notebook works when
started from ``notebooks/`` (JupyterLab, papermill) or from the root.
"""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rvlib import plots, results, validate

NOTEBOOKS = ("01_train_baselines", "02_margin_ablation", "03_hebbian_vs_sgd",
             "04_hardware_constraints", "05_noise_robustness")


def on_colab() -> bool:
    return "google.colab" in sys.modules


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
        """Save through ``plots.savefig`` into this run's figure folder (PDF + PNG)."""
        paths = plots.savefig(name, fig, folder=self.fig_dir)
        self.saved += paths
        return paths

    def save(self, metrics, rows: list[dict] | None = None, name: str = "results"):
        """Atomically write ``results.json`` (params, rvlib version, metrics) and ``results.csv``."""
        return results.save_run(self.results_dir, params=self.params, metrics=metrics, rows=rows,
                                name=name)

    def done(self):
        """Mark the run complete (sweeps skip finished runs)."""
        return results.mark_done(self.results_dir)


def start_run(notebook: str, params: dict, *, root=None) -> Run:
    """Validate the common parameters and create the run's folders.

    ``params`` is the dict of the notebook's parameters (``run_name``, ``seed``,
    ``quick``, ...). Returns a ``Run``.
    """
    validate.choice("notebook", notebook, NOTEBOOKS)
    run_name = str(params.get("run_name", "default"))
    if not run_name or any(c in run_name for c in "/\\") or run_name.startswith("."):
        raise ValueError(f"run_name={run_name!r} is not allowed: must be a non-empty folder "
                         "name without '/' or a leading '.'")
    root = Path(root) if root is not None else project_root()
    res = root / "results" / notebook / run_name
    fig = root / "figures" / notebook if run_name == "default" else res / "figures"
    res.mkdir(parents=True, exist_ok=True)
    fig.mkdir(parents=True, exist_ok=True)
    return Run(notebook, run_name, dict(params), root, res, fig)


def environment() -> dict:
    """What a results file should say about where it ran."""
    import jax
    d = jax.devices()[0]
    return {"python": platform.python_version(), "jax": jax.__version__,
            "device": f"{d.platform}:{getattr(d, 'device_kind', '')}",
            "devices": jax.local_device_count()}
