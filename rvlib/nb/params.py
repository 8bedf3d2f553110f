"""One parameter dataclass per notebook: defaults, validation and quick mode in one place.

A notebook's ``parameters`` cell holds plain literals (papermill and the sweep
runner set them); the next cell turns them into its dataclass::

    cfg = nb.MarginParams.from_namespace(globals())   # every parameter checked, quick applied
    run = nb.start_run(cfg)

Each field is declared once, with its default (the same literal as the
notebook's parameters cell; a test keeps the two equal) and its check (an
``rvlib.validate`` helper, so a bad value stops the run with ``name=value is
not allowed: ...`` before anything is computed).  ``quick_values`` says what a
quick run shrinks; ``normalize`` derives values that depend on several fields.

Quick mode
----------
* ``quick=True`` in the cell (or ``-p quick True``) asks for a quick run; it
  must come with its own ``run_name``: ``run_name="default"`` is refused,
  because that run writes ``figures/`` and ``results/<nb>/default/``, which
  ``make run`` and the report own.
* The environment variable ``RVLIB_QUICK=1`` (set by ``make test`` for CI)
  turns a run into a quick run without touching the notebook; a run that
  would write ``default`` then writes ``quick`` instead.  ``RVLIB_QUICK=0``
  or unset: the parameters cell decides.
"""
from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from rvlib import validate
from rvlib.data.splits import MULTICLASS
from rvlib.paper.reference import INIT_SCALE, PAPER_SEED
from rvlib.training.classifier import CLASSIFIERS

__all__ = ["QUICK_ENV", "DEFAULT_RUN", "QUICK_RUN", "quick_from_env", "param", "NotebookParams",
           "ProtocolParams", "DigitsTrainingParams", "BaselineParams", "MarginParams", "HebbianParams", "HardwareParams",
           "RobustnessParams", "PARAMS"]

QUICK_ENV = "RVLIB_QUICK"
DEFAULT_RUN = "default"   # make run: figures/<nb>/ and results/<nb>/default/
QUICK_RUN = "quick"       # where a RVLIB_QUICK=1 run of the default parameters writes


def quick_from_env() -> bool:
    """Whether ``RVLIB_QUICK`` asks for quick runs (``"1"``; ``"0"`` or unset: no)."""
    value = os.environ.get(QUICK_ENV, "")
    if value not in ("", "0", "1"):
        validate.fail(QUICK_ENV, value, "must be '1' (quick runs), '0' or unset")
    return value == "1"


def param(default, check=None):
    """A dataclass field with its ``check(name, value) -> value`` (list defaults are copied)."""
    meta = {"check": check}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


# ------------------------------------------------------------------ checks of one field
def _count(name, value):
    return validate.non_negative(name, value, integer=True)


def _positive_int(name, value):
    return validate.positive(name, value, integer=True)


def _size(name, value):
    return None if value is None else _positive_int(name, value)


def _run_name(name, value):
    value = str(value)
    if not value or any(c in value for c in "/\\") or value.startswith("."):
        validate.fail(name, value, "must be a non-empty folder name without '/' or a leading '.'")
    return value


def _seeds(name, values):
    return validate.each(name, values, _count, nonempty="seed", distinct="seed")


def _lams(name, values):
    return sorted(set(validate.each(name, values, validate.non_negative)))


def _positives(name, values):
    return validate.each(name, values, validate.positive)


def _clips(name, values):
    return [validate.clip_range(f"{name}[{i}]", c) for i, c in enumerate(values)]


def _choice(allowed):
    return lambda name, value: validate.choice(name, value, allowed)


@dataclass(frozen=True)
class NotebookParams:
    """The fields every notebook has; subclasses add theirs and set ``notebook``."""
    notebook: ClassVar[str] = ""
    seed: int = param(0, _count)
    quick: bool = param(False, validate.flag)
    run_name: str = param(DEFAULT_RUN, _run_name)

    def __post_init__(self):
        for f in fields(self):
            if f.metadata.get("check") is not None:
                self._set(f.name, f.metadata["check"](f.name, getattr(self, f.name)))
        if self.quick and self.run_name == DEFAULT_RUN:
            validate.fail("run_name", self.run_name,
                          f"a quick run must not write into {DEFAULT_RUN!r} (make run's figures/ "
                          f"and results/{self.notebook}/{DEFAULT_RUN}/): give it its own run_name, "
                          f"e.g. {QUICK_RUN!r}")
        if not self.quick and quick_from_env():
            self._set("quick", True)
            if self.run_name == DEFAULT_RUN:
                self._set("run_name", QUICK_RUN)
        self.normalize()
        if self.quick:
            for name, value in self.quick_values().items():
                self._set(name, value)

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)

    def normalize(self) -> None:
        """Derive or cross-check fields after each is valid (subclasses)."""

    def quick_values(self) -> dict:
        """The values a quick run replaces (subclasses); the same code path, smaller sizes."""
        return {}

    @classmethod
    def from_namespace(cls, namespace: Mapping):
        """Build from a notebook's globals: every field must be defined there (its parameters cell)."""
        missing = [f.name for f in fields(cls) if f.name not in namespace]
        if missing:
            validate.fail("parameters", missing,
                          f"{cls.notebook}'s parameters cell must define every field of "
                          f"{cls.__name__}")
        return cls(**{f.name: namespace[f.name] for f in fields(cls)})

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The fields' defaults as written in the notebook's parameters cell."""
        return {f.name: (f.default if f.default is not dataclasses.MISSING
                         else f.default_factory()) for f in fields(cls)}

    def record(self) -> dict[str, Any]:
        """The checked values (quick applied), for results.json."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ProtocolParams(NotebookParams):
    """Notebooks that run the paper's per-image protocol on ``n_images`` depth scenes."""
    seed: int = param(PAPER_SEED, _count)
    n_images: int = param(50, _positive_int)


@dataclass(frozen=True)
class BaselineParams(ProtocolParams):
    """01_train_baselines: the paper's master table, then a CNN on held-out data.

    Quick: the paper protocol stays (closed-form updates, cheap); the CNN
    trains at most 4 epochs on at most 4000 TFDS examples.
    """
    notebook: ClassVar[str] = "01_train_baselines"
    dataset: str = param("digits", _choice(MULTICLASS))
    size: int | None = param(16, _size)
    epochs: int = param(15, _positive_int)
    batch_size: int = param(64, _positive_int)
    lr: float = param(0.001, validate.positive)
    cnn_seed: int = param(0, _count)
    limit: int = param(20000, _positive_int)

    def quick_values(self) -> dict:
        return {"epochs": min(self.epochs, 4), "limit": min(self.limit, 4000)}


@dataclass(frozen=True)
class DigitsTrainingParams(NotebookParams):
    """The controlled experiments' training: a digits MLP (``hidden`` units), Adam, per seed."""
    seeds: list = param([0, 1, 2], _seeds)
    epochs: int = param(30, _positive_int)
    lr: float = param(0.003, validate.positive)
    batch_size: int = param(64, _positive_int)
    hidden: int = param(128, _positive_int)


@dataclass(frozen=True)
class MarginParams(DigitsTrainingParams):
    """02_margin_ablation: what λ does, on the paper protocol and on held-out digits.

    ``lam`` is added to both λ lists (sorted, no repeats), so its model is
    always part of the sweeps.  Quick: one seed (``seed``), at most 20 epochs.
    """
    notebook: ClassVar[str] = "02_margin_ablation"
    lam: float = param(1.0, validate.non_negative)
    lams_paper: list = param([0.0, 1.0, 10.0], _lams)
    lams_controlled: list = param([0.0, 0.1, 1.0, 10.0, 20.0], _lams)
    n_images: int = param(50, _positive_int)

    def normalize(self) -> None:
        self._set("lams_paper", sorted(set(self.lams_paper) | {self.lam}))
        self._set("lams_controlled", sorted(set(self.lams_controlled) | {self.lam}))

    def quick_values(self) -> dict:
        return {"seeds": [self.seed], "epochs": min(self.epochs, 20)}


@dataclass(frozen=True)
class HebbianParams(ProtocolParams):
    """03_hebbian_vs_sgd: where the Hebbian SNR comes from, and the delta rule's limit.

    ``eta_ratios`` come back sorted; ``init_scales`` always include the
    paper's init scale (the reference row).  Quick: every other η ratio.
    """
    notebook: ClassVar[str] = "03_hebbian_vs_sgd"
    hebb_eta: float = param(0.2, validate.positive)
    delta_eta: float = param(0.01, validate.positive)
    iters: int = param(30, _positive_int)
    eta_ratios: list = param([0.1, 0.3, 0.5, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0],
                             lambda n, v: sorted(_positives(n, v)))
    init_scales: list = param([0.1, 0.01, 0.001], _positives)

    def normalize(self) -> None:
        if INIT_SCALE not in self.init_scales:
            self._set("init_scales", self.init_scales + [INIT_SCALE])

    def quick_values(self) -> dict:
        return {"eta_ratios": self.eta_ratios[::2]}


@dataclass(frozen=True)
class HardwareParams(ProtocolParams):
    """04_hardware_constraints: conductance ranges on Hebbian crossbars and in gradient training.

    ``clips``: the crossbar ranges, unconstrained (the reference) first, then
    ``clip_ranges`` and ``custom_clip`` without repeats; ``grad_clips``:
    ``clips`` plus ``signed_clip``.  Quick: at most 4 training epochs.
    """
    notebook: ClassVar[str] = "04_hardware_constraints"
    eta: float = param(0.2, validate.positive)
    iters: int = param(30, _positive_int)
    clip_ranges: list = param([None, [0.0, 2.0], [0.0, 1.0], [0.0, 0.5]], _clips)
    custom_clip: Any = param([0.0, 0.25], validate.clip_range)
    dataset: str = param("digits", _choice(MULTICLASS))
    size: int | None = param(16, _size)
    grad_model: str = param("mlp", _choice(CLASSIFIERS))
    epochs: int = param(10, _positive_int)
    lr: float = param(0.003, validate.positive)
    batch_size: int = param(64, _positive_int)
    grad_seed: int = param(0, _count)
    signed_clip: Any = param([-0.5, 0.5], validate.clip_range)
    limit: int = param(20000, _positive_int)

    @property
    def clips(self) -> list:
        return list(dict.fromkeys([None] + self.clip_ranges + [self.custom_clip]))

    @property
    def grad_clips(self) -> list:
        return self.clips + ([self.signed_clip] if self.signed_clip not in self.clips else [])

    def quick_values(self) -> dict:
        return {"epochs": min(self.epochs, 4)}


@dataclass(frozen=True)
class RobustnessParams(DigitsTrainingParams):
    """05_noise_robustness: four corruptions on held-out digits and on the per-image models.

    ``lams`` (sorted, no repeats) must hold 0 (the cross-entropy baseline) and
    ``lam_margin > 0``; ``severities`` must hold 0.0 (clean) and 0.5 (the
    paper's checkpoint).  Quick: the first seed, at most 15 epochs and 10 scenes.
    """
    notebook: ClassVar[str] = "05_noise_robustness"
    lams: list = param([0.0, 1.0, 10.0], _lams)
    lam_margin: float = param(10.0, validate.non_negative)
    severities: list = param([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], validate.severities)
    n_scenes: int = param(50, _positive_int)

    def normalize(self) -> None:
        if 0.0 not in self.lams or self.lam_margin not in self.lams or self.lam_margin == 0.0:
            validate.fail("lams", self.lams,
                          f"must contain 0 (the baseline) and lam_margin={self.lam_margin} > 0")
        if 0.0 not in self.severities or 0.5 not in self.severities:
            validate.fail("severities", self.severities, "must contain 0.0 (clean) and 0.5")

    def quick_values(self) -> dict:
        return {"seeds": self.seeds[:1], "epochs": min(self.epochs, 15),
                "n_scenes": min(self.n_scenes, 10)}


# The numbered notebooks, each with its parameters: the one list (the sweep runner, make run
# and the tests read it).
PARAMS: dict[str, type[NotebookParams]] = {p.notebook: p for p in (
    BaselineParams, MarginParams, HebbianParams, HardwareParams, RobustnessParams)}
