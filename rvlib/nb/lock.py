"""One sweep at a time per results folder: ``with hold(results/<nb>): ...``.

Two sweeps of the same notebook into the same ``results/<nb>/`` would clear
each other's live run folders and mix their ``DONE`` markers and notebooks.
The runner (``rvlib.nb.sweep``) and ``collect`` therefore hold an exclusive
lock on ``results/<nb>/.lock`` while they read or write run folders; a second
one waits up to ``wait`` seconds, then refuses with a message naming the
holder (pid, host, start time).

The lock is ``fcntl.flock`` on the file: the kernel releases it when the
holder exits, even on ``kill -9``, so a stale lock never blocks anyone; the
file only records who holds it.  Within one process the lock is re-entrant
in the same thread (``main`` holds it over the sweep and its collection);
another thread is another holder.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import threading
import time
from pathlib import Path

__all__ = ["LOCK_FILE", "LockHeld", "hold", "holder"]

LOCK_FILE = ".lock"
_held: dict[str, list] = {}        # folder -> [fd, depth, thread id] held by this process
_guard = threading.Lock()


class LockHeld(ValueError):
    """Another process holds the results folder's lock (a ``ValueError``: the CLI reports it)."""


def holder(folder) -> dict:
    """What the lock file says about its holder: ``{pid, host, started}`` (``{}`` if unreadable)."""
    try:
        return json.loads((Path(folder) / LOCK_FILE).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def _describe(info: dict) -> str:
    if not info:
        return "another process (no holder recorded yet)"
    return (f"pid {info.get('pid')} on host {info.get('host')}, started {info.get('started')}"
            + (f" ({info['what']})" if info.get("what") else ""))


@contextlib.contextmanager
def hold(folder, *, wait: float = 0.0, what: str = "", poll: float = 0.2):
    """Hold ``<folder>/.lock`` for the block; wait up to ``wait`` s, else raise :class:`LockHeld`."""
    import fcntl

    folder = Path(folder).resolve()
    key = str(folder)
    with _guard:
        if key in _held and _held[key][2] == threading.get_ident():   # re-entrant per thread
            _held[key][1] += 1
            reenter = True
        else:
            reenter = False
    if reenter:
        try:
            yield folder
        finally:
            with _guard:
                _held[key][1] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    deadline = time.monotonic() + max(0.0, float(wait))
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    waited = f" after waiting {wait:g} s" if wait else ""
                    raise LockHeld(
                        f"{folder} is in use by another sweep{waited}: {_describe(holder(folder))}."
                        f" Wait for it to finish (or pass --wait SECONDS); if that process is "
                        f"gone, its lock is already released and a rerun goes ahead") from None
                time.sleep(poll)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "what": what}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    with _guard:
        _held[key] = [fd, 1, threading.get_ident()]
    try:
        yield folder
    finally:
        with _guard:
            _held.pop(key, None)
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)          # closing releases the flock
