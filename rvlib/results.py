"""Writing results so that an interrupted run never leaves a file that looks complete.

Every write goes to a temporary file in the same folder and is then renamed
over the target (``os.replace`` is atomic on POSIX and Windows).  A run folder
is finished only once its ``DONE`` marker exists; sweeps skip such folders.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

import rvlib

DONE = "DONE"
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file + rename); creates parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)          # mkstemp makes 0600; results are for sharing
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def to_jsonable(obj):
    """NumPy/JAX scalars and arrays -> plain Python; non-finite floats -> strings ('inf', 'nan')."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        obj = np.asarray(obj)
        return to_jsonable(obj.tolist()) if obj.ndim else to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def write_json(path, obj) -> Path:
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_csv(path, rows: list[dict]) -> Path:
    """Rows of dicts -> CSV (columns: union of keys in first-seen order)."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: to_jsonable(v) for k, v in r.items()})
    return atomic_write_text(path, buf.getvalue())


def save_run(folder, *, params: dict, metrics, rows: list[dict] | None = None,
             name: str = "results") -> Path:
    """Write ``<folder>/<name>.json`` (params, rvlib version, metrics) and optional ``<name>.csv``."""
    folder = Path(folder)
    write_json(folder / f"{name}.json",
               {"rvlib_version": rvlib.__version__, "params": params, "metrics": metrics})
    if rows is not None:
        write_csv(folder / f"{name}.csv", rows)
    return folder


def mark_done(folder) -> Path:
    return atomic_write_text(Path(folder) / DONE, "ok\n")


def is_done(folder) -> bool:
    return (Path(folder) / DONE).exists()
