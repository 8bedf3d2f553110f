"""Run records on disk, written so that an interrupted run never leaves a file that looks complete.

Every write goes to a new temporary file in the target's folder and is then
renamed over the target (``os.replace`` is atomic on POSIX and Windows).  A
run folder is finished only once its ``DONE`` marker exists; sweeps skip such
folders.  Temporary files are created with mode 0o666, so the process umask
applies as for any other file (nothing reads or changes the umask).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import secrets
from pathlib import Path

import numpy as np

import rvlib

__all__ = ["DONE", "new_temp_file", "atomic_write_text", "to_jsonable", "write_json",
           "read_json", "write_csv", "save_run", "mark_done", "is_done"]

DONE = "DONE"


def _open_new(folder: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    while True:
        path = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:  # 48 random bits: practically never
            continue


def new_temp_file(folder, prefix: str, suffix: str = ".tmp") -> Path:
    """A new empty file ``<folder>/<prefix><random><suffix>`` (umask applied), for a later rename."""
    fd, path = _open_new(Path(folder), prefix, suffix)
    os.close(fd)
    return path


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file + rename); creates parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _open_new(path.parent, f".{path.name}.", ".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
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
