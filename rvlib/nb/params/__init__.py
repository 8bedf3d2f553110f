"""One parameter dataclass per notebook: defaults, validation and quick mode in one place.

A notebook's ``parameters`` cell holds plain literals (papermill and the sweep
runner set them); the next cell turns them into its dataclass::

    cfg = nb.MarginParams.from_namespace(globals())   # every parameter checked, quick applied
    run = nb.start_run(cfg)

``base`` holds the machinery (fields with their checks, quick mode; see its
docstring); one module per topic holds its notebooks' dataclasses; ``PARAMS``
below is THE list of numbered notebooks (the sweep runner, ``make run`` and the
tests read it).
"""
from __future__ import annotations

from rvlib.nb.params.adversarial import AdversarialParams
from rvlib.nb.params.base import (DEFAULT_RUN, QUICK_ENV, QUICK_RUN, DigitsTrainingParams,
                                  NotebookParams, ProtocolParams, param, quick_from_env)
from rvlib.nb.params.analog import AnalogParams
from rvlib.nb.params.corruptions import CommonCorruptionParams
from rvlib.nb.params.ensembles import EnsembleParams
from rvlib.nb.params.paper import (BaselineParams, HardwareParams, HebbianParams, MarginParams,
                                   RobustnessParams)

__all__ = ["QUICK_ENV", "DEFAULT_RUN", "QUICK_RUN", "quick_from_env", "param", "NotebookParams",
           "ProtocolParams", "DigitsTrainingParams", "BaselineParams", "MarginParams",
           "HebbianParams", "HardwareParams", "RobustnessParams", "AdversarialParams",
           "AnalogParams", "CommonCorruptionParams", "EnsembleParams", "PARAMS"]

# The numbered notebooks in order, each with its parameters.
PARAMS: dict[str, type[NotebookParams]] = {p.notebook: p for p in (
    BaselineParams,
    MarginParams,
    HebbianParams,
    HardwareParams,
    RobustnessParams,
    AdversarialParams,
    AnalogParams,
    CommonCorruptionParams,
    EnsembleParams,
)}
