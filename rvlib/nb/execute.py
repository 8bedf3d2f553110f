"""Running one notebook once, from scratch and atomically, and telling whether a run is finished.

A run folder is finished only when its ``DONE`` marker (written by the
notebook's ``run.done()``) and the executed notebook both exist and the
notebook ran with the same parameters.  The executed notebook is written to a
temporary file and renamed into place, so no file looks complete before the
run is; a failed run keeps its notebook as ``<nb>.failed.ipynb``.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import NamedTuple

from rvlib import validate
from rvlib.nb import records

__all__ = ["RunSpec", "executed_path", "finished", "execute", "check_kernel"]


class RunSpec(NamedTuple):
    """One grid point: its run name, the full papermill parameters and its folder."""
    name: str
    params: dict
    folder: Path


def executed_path(folder: Path, name: str) -> Path:
    """The executed copy of notebook ``name`` in a run folder."""
    return folder / f"{name}.ipynb"


def _normal(params: dict) -> dict:
    return json.loads(json.dumps(params, sort_keys=True, default=str))


def finished(spec: RunSpec, notebook: str) -> tuple[bool, str]:
    """``(True, "")`` if the run is finished with these parameters, else ``(False, why)``."""
    out = executed_path(spec.folder, notebook)
    if not spec.folder.exists():
        return False, "new"
    if not (records.is_done(spec.folder) and out.is_file()):
        return False, "unfinished (no DONE marker or executed notebook)"
    try:
        ran = json.loads(out.read_text(encoding="utf-8"))["metadata"]["papermill"]["parameters"]
    except (OSError, ValueError, KeyError, TypeError):
        return False, "executed notebook unreadable"
    want, ran = _normal(spec.params), _normal(ran)
    if ran != want:
        def show(d, k):
            return repr(d[k]) if k in d else "default"
        diff = ", ".join(f"{k}: {show(ran, k)} -> {show(want, k)}"
                         for k in sorted(set(want) | set(ran)) if show(ran, k) != show(want, k))
        return False, f"parameters changed ({diff})"
    return True, ""


def execute(spec: RunSpec, path: Path, kernel: str, timeout) -> str | None:
    """Run one grid point from scratch; ``None`` on success, else the error message."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    name = path.stem
    if spec.folder.exists():           # stale partial files of a killed/failed/changed run
        shutil.rmtree(spec.folder)
    spec.folder.mkdir(parents=True)
    tmp = records.new_temp_file(spec.folder, f".{name}.", ".ipynb")
    error = None
    try:
        try:
            papermill.execute_notebook(str(path), str(tmp), parameters=spec.params, kernel_name=kernel,
                                       cwd=str(path.parent), progress_bar=False, log_output=False,
                                       execution_timeout=timeout)
        except PapermillExecutionError as e:
            error = f"{e.ename}: {e.evalue}"
        except Exception as e:         # kernel died, timeout, unreadable notebook ...
            error = f"{type(e).__name__}: {e}"
        if error is None and not records.is_done(spec.folder):
            error = (f"the notebook finished without a DONE marker in {spec.folder}: it must "
                     f"call nb.start_run({name!r}, dict(run_name=run_name, ...)) and run.done()")
        if error is None:
            os.replace(tmp, executed_path(spec.folder, name))
        else:
            # a failed run must never look finished: keep its notebook under another name
            (spec.folder / records.DONE).unlink(missing_ok=True)
            if os.path.getsize(tmp):
                os.replace(tmp, spec.folder / f"{name}.failed.ipynb")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return error


def check_kernel(kernel: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        validate.fail("kernel", kernel, f"no such Jupyter kernel; install it with "
                      f"`{sys.executable} -m ipykernel install --sys-prefix --name {kernel}`")
