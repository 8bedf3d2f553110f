"""nb.executors: a sweep on a 2-worker Dask LocalCluster survives a worker killed mid-run
(the point is redone, nothing half-written looks finished) and collects exactly one row per
grid point; a rerun skips them all; bad executor options are refused before any run."""
import csv

import pytest

from rvlib.nb import executors, records, sweep

NB = "02_margin_ablation"

PARAMS = '''lam = 1.0
seed = 0
kill_on = -1.0
marker = ""
quick = False
run_name = "default"
'''

BODY = '''import os, signal
from dataclasses import dataclass
from typing import ClassVar
from rvlib import nb, validate
from rvlib.nb.params import param


@dataclass(frozen=True)
class FixtureParams(nb.NotebookParams):
    notebook: ClassVar[str] = "02_margin_ablation"
    lam: float = param(1.0, validate.non_negative)


run = nb.start_run(FixtureParams(lam=lam, seed=seed, quick=quick, run_name=run_name))
run.save({"snr": lam * 2 + seed})
run.done()
if lam == kill_on and not os.path.exists(marker):
    open(marker, "w").close()
    # the first attempt dies after DONE, with its Dask worker: the kernel's parent
    os.kill(os.getppid(), signal.SIGKILL)
    os._exit(1)
'''


@pytest.fixture
def root(tmp_path, fake_project):
    return fake_project(tmp_path / "proj", NB, PARAMS, BODY)


def test_dask_sweep_survives_a_killed_worker(root, tmp_path):
    marker = tmp_path / "killed"
    grid = {"lam": [0, 1, 2, 3]}
    fixed = {"kill_on": 2.0, "marker": str(marker)}
    ex = executors.make_executor("dask", workers=2)
    try:
        report = sweep.run_sweep(NB, grid, fixed=fixed, root=root, progress=False,
                                 log=lambda s: None, executor=ex)
    finally:
        ex.close()
    assert marker.exists(), "the fixture did not kill its worker"
    assert report.ok, report.summary()
    assert sorted(report.done) == [f"lam={v}.0" for v in range(4)]

    # the killed attempt is left in its staging folder only: DONE there, no executed notebook,
    # and nothing of it under results/<nb>/
    staged = list((root / "results" / executors.STAGING / NB).glob("lam=2.0.*"))
    assert len(staged) == 1
    leftover = staged[0] / "results" / NB / "lam=2.0"
    assert records.is_done(leftover) and not (leftover / f"{NB}.ipynb").exists()

    sweep.collect(NB, root, log=lambda s: None)
    with open(root / "results" / NB / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert sorted(float(r["snr"]) for r in rows) == [0.0, 2.0, 4.0, 6.0]

    again = sweep.run_sweep(NB, grid, fixed=fixed, root=root, progress=False,
                            log=lambda s: None)   # the local default: all finished
    assert again.skipped == report.done and not again.done


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="slurm"), r"executor='slurm' is not allowed: must be one of 'local', 'dask'"),
    (dict(name="dask"), r"executor='dask' is not allowed: give either scheduler="),
    (dict(name="dask", workers=2, scheduler="tcp://127.0.0.1:1"),
     r"executor='dask' is not allowed: give either"),
    (dict(name="local", workers=2), r"--scheduler and --workers need --executor dask"),
    (dict(name="dask", workers=0), r"workers=0 is not allowed"),
])
def test_bad_executor_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        executors.make_executor(**kwargs)


def test_cli_refuses_dask_without_a_cluster_before_running(root, capsys):
    code = sweep.main([NB, "lam=1", "--root", str(root), "--executor", "dask", "--no-progress"])
    assert code == 2
    assert "give either scheduler=" in capsys.readouterr().err
    assert not (root / "results" / NB / "lam=1.0").exists()
