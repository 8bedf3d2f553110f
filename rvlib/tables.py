"""Plain-text tables for notebooks and scripts (no pandas dependency)."""
from __future__ import annotations

import math


def fmt(v, spec: str = ".4g") -> str:
    """One cell: floats with ``spec`` (non-finite as 'inf'/'nan'), percentages left to the caller."""
    if isinstance(v, bool) or v is None:
        return "—" if v is None else str(v)
    if isinstance(v, float) or hasattr(v, "dtype"):
        v = float(v)
        return str(v) if not math.isfinite(v) else format(v, spec)
    return str(v)


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
