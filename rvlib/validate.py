"""Parameter checks that fail before any compute, with one message format.

Every error names the parameter, shows the value it got and says what is
allowed, e.g. ``lam=-1.0 is not allowed: must be >= 0``.  Notebooks call these
right after their ``parameters`` cell so a bad papermill value stops the run
before anything is trained.
"""
from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence


def fail(name: str, value, allowed: str) -> None:
    """Raise the one error format: ``name=value is not allowed: allowed``."""
    raise ValueError(f"{name}={value!r} is not allowed: {allowed}")


def closest(name: str, declared: Iterable[str]) -> str:
    """`` (did you mean 'lam'?)`` for the declared name closest to ``name``, else ``""``."""
    match = difflib.get_close_matches(str(name), list(declared), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def number(name: str, value, *, min=None, max=None, min_inclusive=True,
           integer=False) -> float | int:
    """Coerce ``value`` to a finite number (papermill passes ints for floats) and range-check it.

    ``True``/``False`` are refused (``seed=True`` is not seed 1), and so are
    lists, NaN and ±inf (an infinite size or rate fails later and unclearly).
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        fail(name, value, "must be a number, not True/False")
    if isinstance(value, (list, tuple, dict, set)) or value is None:
        fail(name, value, "must be a number")
    if not isinstance(value, (int, float)):
        try:   # NumPy scalars, numeric strings (papermill -r, YAML's "1e-3")
            value = int(value) if hasattr(value, "__index__") else float(value)
        except (TypeError, ValueError, OverflowError):
            fail(name, value, "must be a number")
    if isinstance(value, float):
        if math.isnan(value):
            fail(name, value, "must not be NaN")
        if math.isinf(value):
            fail(name, value, "must be finite")
    if integer:
        if float(value) != int(value):
            fail(name, value, "must be an integer")
        value = int(value)
    else:
        value = float(value)
    if min is not None:
        if min_inclusive and value < min:
            fail(name, value, f"must be >= {min}")
        if not min_inclusive and value <= min:
            fail(name, value, f"must be > {min}")
    if max is not None and value > max:
        fail(name, value, f"must be <= {max}")
    return value


def positive(name: str, value, *, integer=False):
    return number(name, value, min=0, min_inclusive=False, integer=integer)


def non_negative(name: str, value, *, integer=False):
    return number(name, value, min=0, integer=integer)


def probability(name: str, value):
    return number(name, value, min=0.0, max=1.0)


def flag(name: str, value) -> bool:
    """A yes/no switch: ``True`` or ``False`` (NumPy bools too), nothing truthy by accident."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    fail(name, value, "must be True or False")


def choice(name: str, value, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    if value not in allowed:
        fail(name, value, "must be one of " + ", ".join(repr(a) for a in allowed))
    return value


def clip_range(name: str, value) -> tuple[float, float] | None:
    """``None`` (no clip) or a pair ``(g_min, g_max)`` with ``g_min <= g_max``."""
    if value is None or (isinstance(value, str) and value.lower() in ("none", "")):
        return None
    if isinstance(value, (str, bytes)):   # "01" would unpack to (0, 1)
        fail(name, value, "must be None or a pair (g_min, g_max) of numbers")
    try:
        lo, hi = value
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        fail(name, value, "must be None or a pair (g_min, g_max) of numbers")
    if math.isnan(lo) or math.isnan(hi):
        fail(name, value, "bounds must not be NaN")
    if lo > hi:
        fail(name, value, f"g_min must be <= g_max, got g_min={lo} > g_max={hi}")
    return (lo, hi)


def each(name: str, values, check, *, nonempty: str | None = None,
         distinct: str | None = None) -> list:
    """A list parameter, each entry through ``check(f"{name}[{i}]", v)``; a bare number is a list of one.

    ``nonempty="seed"``: an empty list fails with "must contain at least one
    seed"; ``distinct="seed"``: a repeated entry fails with "must not repeat a seed".
    """
    given = values
    values = [values] if isinstance(values, (int, float)) else list(values)
    if nonempty and not values:
        fail(name, values, f"must contain at least one {nonempty}")
    out = [check(f"{name}[{i}]", v) for i, v in enumerate(values)]
    if distinct and len(set(out)) != len(out):
        fail(name, given, f"must not repeat a {distinct}")
    return out


def severities(name: str, values: Sequence) -> list[float]:
    out = [number(f"{name}[{i}]", v, min=0.0, max=1.0) for i, v in enumerate(values)]
    if not out:
        fail(name, list(values), "must contain at least one severity in [0, 1]")
    return out


def image_size(name: str, size) -> tuple[int, int] | None:
    """``None``, an int (square) or a pair ``(h, w)`` -> ``(h, w)`` of positive ints (or None)."""
    if size is None:
        return None
    if isinstance(size, (str, bytes)):   # "64" would unpack to a 6 x 4 image
        fail(name, size, "must be None, an int or a pair (h, w) of ints, not a string")
    if hasattr(size, "__index__") and not isinstance(size, bool):  # int, np.integer
        size = (size, size)
    try:
        h, w = size
    except (TypeError, ValueError):
        fail(name, size, "must be None, an int or a pair (h, w)")
    return (positive(f"{name}[0]", h, integer=True), positive(f"{name}[1]", w, integer=True))


def image_shape(name: str, images, *, ndim=4, channels=None, hw=None) -> None:
    """Check ``images`` is ``f32[n, h, w, c]`` (or ``ndim`` dims) with the expected sizes."""
    shape = tuple(getattr(images, "shape", ()))
    want = "[n, h, w, c]" if ndim == 4 else f"{ndim} dimensions"
    if len(shape) != ndim:
        fail(name + ".shape", shape, f"must be {want}")
    if hw is not None and tuple(shape[1:3]) != tuple(hw):
        fail(name + ".shape", shape, f"height, width must be {tuple(hw)}")
    if channels is not None and shape[-1] != channels:
        fail(name + ".shape", shape, f"must have {channels} channel(s) in the last axis")
