"""Notebook plumbing: parameters, run records, the sweep runner, figures, tables, widgets.

* ``params``: one dataclass per numbered notebook (defaults, checks, quick mode,
  ``RVLIB_QUICK``) and ``PARAMS``, the list of notebooks;
* ``runs``: ``start_run(params)`` -> where a run writes; ``records``: atomic
  results files and the ``DONE`` marker;
* ``sweep``: the papermill runner (sweeps, ``make run``), ``declared``: a
  notebook's declared parameters, ``collect``: a sweep's table and figure;
* ``figures``: ``savefig`` (byte-stable PDF + PNG) and the style; ``plots``:
  generic plots; ``paper_plots``: the paper studies' figures;
* ``tables``: text tables; ``widgets``: the λ explorer.
"""
from rvlib.nb.figures import savefig, use_style
from rvlib.nb.params import (PARAMS, QUICK_ENV, AdversarialParams, AnalogParams, BaselineParams,
                             CommonCorruptionParams, EnsembleParams, HardwareParams,
                             HebbianParams, MarginParams, NotebookParams, RobustnessParams,
                             quick_from_env)
from rvlib.nb.runs import Run, environment, project_root, start_run
from rvlib.nb.tables import fmt, format_rows, pivot, print_rows
from rvlib.nb.widgets import lambda_explorer

__all__ = ["savefig", "use_style", "PARAMS", "QUICK_ENV", "NotebookParams", "BaselineParams",
           "MarginParams", "HebbianParams", "HardwareParams", "RobustnessParams",
           "AdversarialParams", "AnalogParams", "CommonCorruptionParams", "EnsembleParams",
           "quick_from_env", "Run", "start_run", "project_root", "environment", "fmt",
           "format_rows", "print_rows", "pivot", "lambda_explorer"]
