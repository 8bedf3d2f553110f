"""Sweep safety: one sweep per results folder (nb.lock), hidden temporary folders never runs.

The fixture notebook imports nothing heavy (kernel starts stay ~1 s): it writes
results.json and DONE itself once the test creates ``<root>/release``, so two
sweeps overlap for as long as the test needs.
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from rvlib.nb import collect as collect_mod
from rvlib.nb import lock, records, sweep

ROOT = Path(__file__).resolve().parents[1]
NB = "02_margin_ablation"

PARAMS = 'lam = 1.0\nseed = 0\nquick = False\nrun_name = "default"\n'
BODY = '''import json, os, pathlib, time
root = pathlib.Path.cwd().parent
t0 = time.monotonic()
while not (root / "release").exists() and time.monotonic() - t0 < 60:   # the test's go-ahead
    time.sleep(0.05)
out = root / "results" / "02_margin_ablation" / run_name
out.mkdir(parents=True, exist_ok=True)
(out / "results.json").write_text(json.dumps(
    {"params": {"lam": lam, "seed": seed}, "metrics": {"snr": 2 * lam + seed}}))
(out / "DONE").write_text("ok\\n")
'''


@pytest.fixture
def root(tmp_path, fake_project):
    return fake_project(tmp_path / "proj", NB, PARAMS, BODY)


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
    with lock.hold(tmp_path, what="sweep of x"):
        with lock.hold(tmp_path):          # the same thread: re-entrant
            pass
        errors = []

        def other():
            try:
                with lock.hold(tmp_path, wait=0.3):
                    pass
            except lock.LockHeld as e:
                errors.append(str(e))
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert len(errors) == 1
        assert f"pid {os.getpid()} on host {socket.gethostname()}, started 20" in errors[0]
        assert "after waiting 0.3 s" in errors[0] and "(sweep of x)" in errors[0]
    with lock.hold(tmp_path):              # released on exit
        assert lock.holder(tmp_path)["pid"] == os.getpid()


def test_lock_of_a_killed_process_does_not_block(tmp_path):
    code = ("import importlib.util as u, os\n"   # lock.py alone: no jax import in the child
            f"s = u.spec_from_file_location('lock', {str(ROOT / 'rvlib/nb/lock.py')!r})\n"
            "lock = u.module_from_spec(s); s.loader.exec_module(lock)\n"
            f"with lock.hold({str(tmp_path)!r}):\n    os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert lock.holder(tmp_path)["pid"] != os.getpid()    # its record is left behind ...
    with lock.hold(tmp_path):                             # ... but the kernel released the lock
        pass


def test_sweep_refuses_while_another_holds_the_folder(root, monkeypatch):
    monkeypatch.setattr(sweep, "execute", lambda *a: pytest.fail("ran under another's lock"))
    base = root / "results" / NB
    started = threading.Event()
    release = threading.Event()

    def holder():
        with lock.hold(base, what="sweep of 02_margin_ablation"):
            started.set()
            release.wait(30)
    t = threading.Thread(target=holder)
    t.start()
    started.wait(30)
    try:
        with pytest.raises(lock.LockHeld, match=rf"is in use by another sweep: pid {os.getpid()}"):
            sweep.run_sweep(NB, {"lam": [0, 1]}, root=root, progress=False)
    finally:
        release.set()
        t.join()
    assert sorted(p.name for p in base.iterdir()) == [lock.LOCK_FILE]   # nothing cleared or made


def test_collect_skips_and_removes_hidden_temporary_folders(root, capsys):
    base = root / "results" / NB
    (base / ".sweep_summary.abc123").mkdir(parents=True)    # a collection killed mid-save
    (base / ".lam=0.0.tmp").mkdir()                          # any hidden folder is not a run
    (base / "lam=1.0").mkdir()                               # a real unfinished run
    assert collect_mod.collect(NB, root) == []
    out = capsys.readouterr().out
    assert "left out 1 unfinished run folder(s)" in out
    assert not (base / ".sweep_summary.abc123").exists() and (base / "lam=1.0").is_dir()


def test_two_concurrent_sweeps_refuse_or_wait_and_never_mix(root, monkeypatch, capsys):
    """Three sweeps of one notebook into one folder, in threads of this process (each thread is
    its own lock holder): the first runs; a second with other --set values refuses at once,
    naming the first; a third with the same values as the second waits, then reruns both."""
    monkeypatch.setattr(sweep.signal, "signal", lambda *a: None)   # main() in pytest's thread
    base = root / "results" / NB
    args = [NB, "lam=0,1", "--root", str(root), "--no-progress"]
    codes = {}

    def run(key, *extra):
        codes[key] = sweep.main(args + list(extra))
    first = threading.Thread(target=run, args=("first",))
    first.start()
    deadline = time.monotonic() + 120
    while not (base / "lam=0.0").is_dir():                    # the first holds the folder and runs
        assert first.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    assert sweep.main(args + ["--set", "seed=5"]) == 2
    err = capsys.readouterr().err
    assert f"is in use by another sweep: pid {os.getpid()} on host {socket.gethostname()}" in err
    assert "(sweep of 02_margin_ablation)" in err
    waiter = threading.Thread(target=run, args=("waiter", "--set", "seed=5", "--wait", "120"))
    waiter.start()
    time.sleep(0.5)
    assert not (base / "lam=1.0").exists() and "waiter" not in codes   # still waiting
    (root / "release").touch()
    first.join(120)
    waiter.join(120)
    assert codes == {"first": 0, "waiter": 0}
    for lam in (0.0, 1.0):      # each run folder: one sweep's notebook beside its own results
        folder = base / f"lam={lam!r}"
        ran = nbformat.read(folder / f"{NB}.ipynb", as_version=4).metadata.papermill.parameters
        saved = records.read_json(folder / "results.json")
        assert ran == {"lam": lam, "seed": 5, "run_name": folder.name}
        assert saved["params"] == {"lam": lam, "seed": 5}
        assert saved["metrics"]["snr"] == 2 * lam + 5 and records.is_done(folder)
        assert {p.name for p in folder.iterdir()} == {"DONE", f"{NB}.ipynb", "results.json"}
    rows = json.loads(json.dumps(collect_mod.collect(NB, root)))
    assert [(r["lam"], r["seed"], r["snr"]) for r in rows] == [(0.0, 5, 5.0), (1.0, 5, 7.0)]
    assert not [p for p in base.iterdir() if p.name.startswith(".") and p.name != lock.LOCK_FILE]
