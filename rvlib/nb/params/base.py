"""The base of every notebook's parameter dataclass: fields, checks, quick mode.

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
from rvlib.paper.reference import PAPER_SEED

__all__ = ["QUICK_ENV", "DEFAULT_RUN", "QUICK_RUN", "quick_from_env", "param", "NotebookParams",
           "ProtocolParams", "DigitsTrainingParams", "count", "positive_int", "size_check",
           "seeds_check", "lams_check", "positives", "clips_check", "choice_check"]

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
def count(name, value):
    return validate.non_negative(name, value, integer=True)


def positive_int(name, value):
    return validate.positive(name, value, integer=True)


def size_check(name, value):
    return None if value is None else positive_int(name, value)


def _run_name(name, value):
    value = str(value)
    if not value or any(c in value for c in "/\\") or value.startswith("."):
        validate.fail(name, value, "must be a non-empty folder name without '/' or a leading '.'")
    return value


def seeds_check(name, values):
    return validate.each(name, values, count, nonempty="seed", distinct="seed")


def lams_check(name, values):
    return sorted(set(validate.each(name, values, validate.non_negative)))


def positives(name, values):
    return validate.each(name, values, validate.positive)


def clips_check(name, values):
    return [validate.clip_range(f"{name}[{i}]", c) for i, c in enumerate(values)]


def choice_check(allowed):
    return lambda name, value: validate.choice(name, value, allowed)


@dataclass(frozen=True)
class NotebookParams:
    """The fields every notebook has; subclasses add theirs and set ``notebook``."""
    notebook: ClassVar[str] = ""
    seed: int = param(0, count)
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
    seed: int = param(PAPER_SEED, count)
    n_images: int = param(50, positive_int)


@dataclass(frozen=True)
class DigitsTrainingParams(NotebookParams):
    """The controlled experiments' training: a digits MLP (``hidden`` units), Adam, per seed."""
    seeds: list = param([0, 1, 2], seeds_check)
    epochs: int = param(30, positive_int)
    lr: float = param(0.003, validate.positive)
    batch_size: int = param(64, positive_int)
    hidden: int = param(128, positive_int)
