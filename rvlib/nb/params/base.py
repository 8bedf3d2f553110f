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

Strict checks (every notebook gets them from this base, before its own check)
------------------------------------------------------------------------------
* **Types** from the field's annotation: no ``True``/``False`` for a number, no
  string or bare number for a ``list`` (``"12"`` is not ``[1, 2]``), no list
  for a number; numbers must be finite (no inf/NaN).
* **Seeds** (fields ``seed``, ``*_seed``, ``seeds``): ``0 <= seed < 2**31``
  (the int32 JAX keys are built from).
* **run_name**: at most 120 characters of ``A-Z a-z 0-9 . _ = + , -``.
* **Names**: :meth:`NotebookParams.check_names` refuses a name the dataclass
  does not declare, naming the closest declared one; ``from_namespace`` runs it
  on the names papermill injected (its ``injected-parameters`` cell), so
  ``-p lamda 10`` stops the notebook instead of running the defaults.
* **Cross-parameter rules** (``normalize``) and **memory**:
  ``memory_estimate()`` (bytes per responsible parameter) is refused above the
  machine's physical memory, before anything is allocated.
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from rvlib import validate
from rvlib.paper.reference import PAPER_SEED

__all__ = ["QUICK_ENV", "DEFAULT_RUN", "QUICK_RUN", "quick_from_env", "param", "NotebookParams",
           "ProtocolParams", "DigitsTrainingParams", "count", "positive_int", "size_check",
           "seeds_check", "lams_check", "positives", "clips_check", "choice_check", "seed_check",
           "SEED_LIMIT", "RUN_NAME_MAX", "DIGITS_TRAIN", "memory_limit", "injected_names"]

QUICK_ENV = "RVLIB_QUICK"
DEFAULT_RUN = "default"   # make run: figures/<nb>/ and results/<nb>/default/
QUICK_RUN = "quick"       # where a RVLIB_QUICK=1 run of the default parameters writes
SEED_LIMIT = 2 ** 31      # seeds become int32 arrays (fit_many's shuffling keys)
RUN_NAME_MAX = 120        # the sweep runner's names stay within it (rvlib.nb.sweep.run_name)
_RUN_NAME = re.compile(r"[A-Za-z0-9._=+,-]+")
DIGITS_TRAIN = 1437       # training examples of the digits 80/20 split (1797 images)


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


def seed_check(name, value):
    """A seed: an int with ``0 <= seed < 2**31`` (what the int32 PRNG keys accept)."""
    value = count(name, value)
    if value >= SEED_LIMIT:
        validate.fail(name, value, f"must be < 2**31 = {SEED_LIMIT} (seeds are int32 in JAX)")
    return value


def _run_name(name, value):
    if not isinstance(value, str):
        validate.fail(name, value, "must be a string (a folder name)")
    if not value or any(c in value for c in "/\\") or value.startswith("."):
        validate.fail(name, value, "must be a non-empty folder name without '/' or a leading '.'")
    if len(value) > RUN_NAME_MAX:
        validate.fail(name, value, f"must be at most {RUN_NAME_MAX} characters long "
                                   f"(it has {len(value)})")
    if not _RUN_NAME.fullmatch(value):
        bad = "".join(sorted({c for c in value if not _RUN_NAME.fullmatch(c)}))
        validate.fail(name, value, f"may hold only letters, digits and . _ = + , - "
                                   f"(not {bad!r})")
    return value


def seeds_check(name, values):
    return validate.each(name, values, seed_check, nonempty="seed", distinct="seed")


def lams_check(name, values):
    return sorted(set(validate.each(name, values, validate.non_negative)))


def positives(name, values):
    return validate.each(name, values, validate.positive)


def clips_check(name, values):
    return [validate.clip_range(f"{name}[{i}]", c) for i, c in enumerate(values)]


def choice_check(allowed):
    return lambda name, value: validate.choice(name, value, allowed)


# ------------------------------------------------------------------ strict types
def _kind(annotation) -> tuple[str, bool]:
    """``"int | None"`` -> ``("int", True)``: the base type name and whether None is allowed."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__",
                                                                  str(annotation))
    parts = [p.strip() for p in text.replace("Optional[", "").rstrip("]").split("|")]
    optional = "None" in parts
    base = next((p for p in parts if p != "None"), "Any")
    return base.split("[")[0], optional


def _is_seed(name: str) -> bool:
    return name == "seed" or name.endswith("_seed")


def type_check(name: str, value, annotation):
    """Refuse values of the wrong kind for the annotation before the field's own check.

    Numbers: no bools, lists or None (unless ``| None``); numeric strings pass
    on to the number check (papermill's ``-r`` and YAML give them).  Lists:
    a list or tuple (tuples become lists), never a string or a bare value.
    """
    kind, optional = _kind(annotation)
    if value is None:
        if optional or kind in ("Any", "object"):
            return value
        validate.fail(name, value, f"must be {'an' if kind == 'int' else 'a'} {kind}, not None")
    if kind in ("int", "float"):
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            validate.fail(name, value, f"must be {'an integer' if kind == 'int' else 'a number'}, "
                                       f"not True/False")
        if isinstance(value, (list, tuple, dict, set)):
            validate.fail(name, value, f"must be {'an integer' if kind == 'int' else 'a number'},"
                                       f" not a {type(value).__name__}")
        value = validate.number(name, value, integer=kind == "int")
        if kind == "int" and _is_seed(name):
            value = seed_check(name, value)
    elif kind == "str" and not isinstance(value, str):
        validate.fail(name, value, "must be a string")
    elif kind == "list":
        if isinstance(value, (str, bytes)):
            validate.fail(name, value, "must be a list, not a string (papermill: -p NAME "
                                       "'[1, 2]' or -y 'NAME: [1, 2]')")
        if not isinstance(value, (list, tuple)):
            validate.fail(name, value, f"must be a list (write [{value!r}] for one value)")
        value = list(value)
        if name == "seeds" or name.endswith("_seeds"):
            value = [seed_check(f"{name}[{i}]", v) for i, v in enumerate(value)]
    return value


def memory_limit() -> int:
    """Bytes of physical memory on this machine (a run estimated above it is refused)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 64 * 2 ** 30


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:.3g} GiB"


def injected_names(namespace: Mapping) -> list[str]:
    """Names papermill assigned in its ``injected-parameters`` cell, read from IPython's history.

    Papermill injects a cell that starts with ``# Parameters`` right after the
    ``parameters`` cell; its executed source is in the kernel's ``In`` list
    (``_ih``).  Outside IPython (or without papermill) this is ``[]``.
    """
    history = namespace.get("_ih") or namespace.get("In") or []
    names: list[str] = []
    for src in history if isinstance(history, (list, tuple)) else []:
        if not isinstance(src, str) or not src.lstrip().startswith("# Parameters"):
            continue
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


@dataclass(frozen=True)
class NotebookParams:
    """The fields every notebook has; subclasses add theirs and set ``notebook``."""
    notebook: ClassVar[str] = ""
    seed: int = param(0, seed_check)
    quick: bool = param(False, validate.flag)
    run_name: str = param(DEFAULT_RUN, _run_name)

    def __post_init__(self):
        for f in fields(self):
            self._set(f.name, type_check(f.name, getattr(self, f.name), f.type))
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
        self.check_memory()

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)

    def normalize(self) -> None:
        """Derive or cross-check fields after each is valid (subclasses)."""

    def quick_values(self) -> dict:
        """The values a quick run replaces (subclasses); the same code path, smaller sizes."""
        return {}

    def memory_estimate(self) -> dict[str, float]:
        """Bytes the run needs at once, keyed by the parameter(s) that set them (subclasses).

        A lower bound (the arrays that must coexist), so a run it refuses could
        not have fit; ``{}``: nothing large.
        """
        return {}

    def check_memory(self) -> None:
        need = self.memory_estimate()
        limit = memory_limit()
        if need and sum(need.values()) > limit:
            name = max(need, key=need.get)
            validate.fail(name, getattr(self, name), f"the run would need at least {_gib(sum(need.values()))} "
                                       f"of memory, more than this machine's {_gib(limit)}; "
                                       f"make it smaller")

    @classmethod
    def check_names(cls, values: Mapping, *, source: str = "given") -> None:
        """Refuse any name of ``values`` that is not a field, naming the closest declared one."""
        declared = [f.name for f in fields(cls)]
        for n, v in values.items():
            if n not in declared:
                validate.fail(str(n), v, f"{cls.notebook or cls.__name__} declares no "
                              f"parameter {n!r} ({source}){validate.closest(n, declared)}; "
                              f"its parameters are: {', '.join(declared)}")

    @classmethod
    def build(cls, **values):
        """``cls(**values)`` with unknown names refused clearly (not a TypeError)."""
        cls.check_names(values)
        return cls(**values)

    @classmethod
    def from_namespace(cls, namespace: Mapping):
        """Build from a notebook's globals: every field must be defined there (its parameters cell).

        Names papermill injected that are not fields (``-p lamda 10``) are
        refused, naming the closest field.
        """
        cls.check_names({n: namespace.get(n) for n in injected_names(namespace)},
                        source="injected by papermill")
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
    seed: int = param(PAPER_SEED, seed_check)
    n_images: int = param(50, positive_int)

    def memory_estimate(self) -> dict[str, float]:
        # 64x64 float32 scenes, each with its 7 noisy copies, all held at once
        return {"n_images": 4.0 * 4096 * 8 * self.n_images}


@dataclass(frozen=True)
class DigitsTrainingParams(NotebookParams):
    """The controlled experiments' training: a digits MLP (``hidden`` units), Adam, per seed."""
    seeds: list = param([0, 1, 2], seeds_check)
    epochs: int = param(30, positive_int)
    lr: float = param(0.003, validate.positive)
    batch_size: int = param(64, positive_int)
    hidden: int = param(128, positive_int)

    def normalize(self) -> None:
        if self.batch_size > DIGITS_TRAIN:
            validate.fail("batch_size", self.batch_size, f"must be <= {DIGITS_TRAIN}, the digits "
                                                         f"training split's size")

    def n_models(self) -> int:
        """Models trained at once (subclasses: their λ grid times the seeds)."""
        return len(self.seeds)

    def memory_estimate(self) -> dict[str, float]:
        # 64 -> hidden -> 10 MLP: params, grads and Adam's two moments (float32) per model,
        # plus the 1024-row evaluation's hidden activations
        per_model = 4.0 * 4 * (64 * self.hidden + self.hidden + 10 * self.hidden + 10) \
            + 4.0 * 1024 * self.hidden
        return {"hidden": per_model * self.n_models()}
