"""Plain-text tables for notebooks and scripts (no pandas dependency)."""
from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["fmt", "percent", "format_rows", "print_rows", "pivot"]


def fmt(v, spec: str = ".4g") -> str:
    """One cell: floats with ``spec`` (non-finite as 'inf'/'nan'), None as '—', text as it is."""
    if isinstance(v, bool) or v is None:
        return "—" if v is None else str(v)
    if isinstance(v, float) or hasattr(v, "dtype"):
        v = float(v)
        return str(v) if not math.isfinite(v) else format(v, spec)
    return str(v)


def percent(v) -> str:
    """A share as a whole percentage (``0.38`` -> ``"38%"``); None or NaN as '—'."""
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.0%}"


def format_rows(rows: list[dict], cols=None, *, spec: str = ".4g", headers=None) -> str:
    """Rows of dicts as an aligned text table; ``cols`` picks and orders the columns."""
    cols = list(cols or dict.fromkeys(k for r in rows for k in r))
    heads = list(headers or cols)
    cells = [[fmt(r.get(c), spec) for c in cols] for r in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(heads)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(heads), line(["-" * w for w in widths])] + [line(c) for c in cells])


def print_rows(rows: list[dict], cols=None, **kwargs) -> None:
    print(format_rows(rows, cols, **kwargs))


def pivot(rows: Sequence[dict], index: Sequence[str], column: str, value: str,
          fmt=lambda c: f"{c:g}") -> list[dict]:
    """Wide table for printing: one row per ``index`` tuple, one column per ``column`` value.

    E.g. accuracy per (model, corruption) with severities as columns; column
    names are ``fmt(column value)``; rows keep first-seen order.
    """
    out: dict = {}
    for r in rows:
        key = tuple(r[k] for k in index)
        out.setdefault(key, dict(zip(index, key)))[fmt(r[column])] = r[value]
    return list(out.values())
