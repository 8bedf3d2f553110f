"""nb.sweep (the papermill runner), nb.declared and nb.collect: checks before running, one folder
per run, skip/resume, failures, make run's default runs, collection.

The fixture notebook lives in a fake project root (``notebooks/`` + ``rvlib/``)
under tmp_path, named like a real notebook; it saves ``snr = 2 * lam + seed``.
Kernel starts cost seconds, so the whole file executes the notebook 7 times.
"""
import csv

import nbformat
import numpy as np
import pytest

from rvlib import stats
from rvlib.nb import collect as collect_mod
from rvlib.nb import declared, records, sweep

NB = "02_margin_ablation"

PARAMS = '''lam = 1.0  # margin weight
seed = 0  # PRNG seed
fail_on = -1.0  # raise when lam == fail_on (papermill's regex cannot read this line)
quick = False  # small sizes
run_name = "default"  # run folder
'''

BODY = '''from dataclasses import dataclass
from typing import ClassVar
from rvlib import nb, validate
from rvlib.nb.params import param
assert type(lam) is float and type(seed) is int and type(quick) is bool, (lam, seed, quick)


@dataclass(frozen=True)
class FixtureParams(nb.NotebookParams):
    notebook: ClassVar[str] = "02_margin_ablation"
    lam: float = param(1.0, validate.non_negative)


run = nb.start_run(FixtureParams(lam=lam, seed=seed, quick=quick, run_name=run_name))
run.save({"snr": lam * 2 + seed, "const": 1.0, "nested": {"half": lam / 2}})
run.done()
if lam == fail_on:  # after done(): the runner must not count the run as finished
    raise ValueError(f"lam={lam} hits fail_on")
'''




@pytest.fixture
def root(tmp_path, fake_project):
    return fake_project(tmp_path / "proj", NB, PARAMS, BODY)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------ checks before running

def test_declared_parameters_types_and_defaults(root):
    p = declared.declared_parameters(root / "notebooks" / f"{NB}.ipynb")
    assert list(p) == ["lam", "seed", "fail_on", "quick", "run_name"]
    assert [p[k].type for k in p] == [float, int, float, bool, str]
    assert p["fail_on"].default == -1.0 and p["run_name"].default == "default"


def test_coercion_to_declared_types(root):
    p = declared.declared_parameters(root / "notebooks" / f"{NB}.ipynb")
    lam = declared.coerce(p["lam"], 10)
    assert lam == 10.0 and type(lam) is float
    assert type(declared.coerce(p["lam"], "10")) is float
    assert declared.coerce(p["seed"], "3") == 3 and type(declared.coerce(p["seed"], 2.0)) is int
    assert declared.coerce(p["quick"], "True") is True
    assert declared.coerce(p["quick"], "false") is False
    assert declared.coerce(p["quick"], "0") is False
    assert declared.coerce(p["run_name"], "'x'") == "x"
    with pytest.raises(ValueError,
                       match=r"lam='abc' is not allowed: must be a float \(its default is 1.0\)"):
        declared.coerce(p["lam"], "abc")
    with pytest.raises(ValueError, match=r"seed='1.5' is not allowed: must be an int"):
        declared.coerce(p["seed"], "1.5")
    with pytest.raises(ValueError, match=r"quick='maybe' is not allowed: must be a bool"):
        declared.coerce(p["quick"], "maybe")
    with pytest.raises(ValueError, match=r"lam=True is not allowed: must be a float"):
        declared.coerce(p["lam"], True)
    lst = declared.Param("lams", list, [0.0, 1.0], "[0.0, 1.0]")
    assert declared.coerce(lst, "[0, 10]") == [0.0, 10.0]
    assert type(declared.coerce(lst, (0, 10))[1]) is float
    with pytest.raises(ValueError, match=r"lams='3' is not allowed: must be a list"):
        declared.coerce(lst, "3")
    anything = declared.Param("clip", declared.ANY, None, "None")
    assert declared.coerce(anything, "(0, 1)") == [0, 1] and declared.coerce(anything, "None") is None


def test_cli_grid_parsing():
    assert declared.split_values("0, 1,10") == ["0", "1", "10"]
    assert declared.split_values("[0,1],(0, 2),'a,b'") == ["[0,1]", "(0, 2)", "'a,b'"]
    assert declared.parse_grid(["lam=0,1,10", "seed=0"]) == {"lam": ["0", "1", "10"], "seed": ["0"]}
    assert declared.parse_fixed(["clip=[0,1]", "quick=True"]) == {"clip": "[0,1]", "quick": "True"}
    with pytest.raises(ValueError, match=r"grid='lam' is not allowed: must look like name=v1"):
        declared.parse_grid(["lam"])
    with pytest.raises(ValueError, match=r"lam is given twice"):
        declared.parse_grid(["lam=1", "lam=2"])
    with pytest.raises(ValueError, match=r"empty value"):
        declared.parse_grid(["lam=1,,2"])


def test_run_names_are_deterministic_and_cover_the_product(root):
    grid = {"lam": ["0", "10"], "seed": [0, 1, 2]}
    runs = sweep.plan(NB, grid, fixed={"quick": "true"}, root=root)
    assert [r.name for r in runs] == [f"lam={l}_seed={s}" for l in ("0.0", "10.0")
                                      for s in (0, 1, 2)]
    assert [r.name for r in sweep.plan(f"{NB}.ipynb", grid, fixed={"quick": True},
                                       root=root)] == [r.name for r in runs]
    assert runs[4].params == {"lam": 10.0, "seed": 1, "quick": True, "run_name": "lam=10.0_seed=1"}
    assert runs[4].folder == root.resolve() / "results" / NB / "lam=10.0_seed=1"
    assert sweep.run_name({"clip": [0.0, 1.0], "tag": "a b/c"}) == "clip=0.0,1.0_tag=a-b-c"
    long = sweep.run_name({"lams": list(range(100))})
    assert len(long) <= 120 and long == sweep.run_name({"lams": list(range(100))})
    assert long != sweep.run_name({"lams": list(range(101))})


@pytest.mark.parametrize("notebook, grid, fixed, match", [
    ("99_nope", {"lam": [1]}, None, r"notebook='99_nope' is not allowed: must be one of "
                                    r"'01_train_baselines', '02_margin_ablation'"),
    ("03_hebbian_vs_sgd", {"lam": [1]}, None, r"03_hebbian_vs_sgd.ipynb does not exist"),
    (NB, {"lamb": [1]}, None, r"lamb=\[1\] is not allowed: 02_margin_ablation declares no "
                              r"parameter 'lamb' \(did you mean lam\?\); its parameters are: lam, "
                              r"seed, fail_on, quick$"),
    (NB, {"lam": [0, 1]}, {"qiuck": True}, r"declares no parameter 'qiuck'"),
    (NB, {"lam": ["0", "x"]}, None, r"lam='x' is not allowed: must be a float"),
    (NB, {"lam": [0]}, {"quick": "sometimes"}, r"quick='sometimes' is not allowed: must be a bool"),
    (NB, {"lam": [0], "run_name": ["a"]}, None, r"run_name=\['a'\] is not allowed: the runner "
                                                r"sets it"),
    (NB, {"lam": [1, 1.0]}, None, r"1.0 is given twice"),
    (NB, {"lam": [1]}, {"lam": 2}, r"lam=\[1\] is not allowed: it is given both in the grid"),
    (NB, {}, None, r"grid=\{\} is not allowed"),
])
def test_bad_input_fails_before_anything_runs(root, notebook, grid, fixed, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        sweep.run_sweep(notebook, grid, fixed=fixed, root=root, progress=False, log=None)
    assert not (root / "results").exists()


def test_cli_reports_bad_input_without_running(root, capsys):
    assert sweep.main([NB, "--no-progress", "lam=0,zero", "--root", str(root)]) == 2
    assert "error: lam='zero' is not allowed: must be a float" in capsys.readouterr().err
    assert sweep.main(["nope", "lam=0", "--root", str(root)]) == 2
    assert not (root / "results").exists()


# ------------------------------------------------------------------ running (papermill)

def test_sweep_runs_skips_and_resumes(root):
    log = []
    rep = sweep.run_sweep(NB, {"lam": [0, 1, 10]}, fixed={"seed": "2"}, root=root,
                          progress=False, log=log.append)
    names = ["lam=0.0", "lam=1.0", "lam=10.0"]
    assert (rep.done, rep.skipped, rep.failed, rep.exit_code) == (names, [], {}, 0)
    base = root / "results" / NB
    for n in names:
        assert sorted(p.name for p in (base / n).iterdir() if p.is_file()) == sorted([
            "DONE", f"{NB}.ipynb", "results.json"])          # no temp files left behind
        executed = nbformat.read(base / n / f"{NB}.ipynb", as_version=4)
        assert executed.metadata.papermill.parameters["run_name"] == n

    rows = collect_mod.collect(NB, root=root, log=log.append)
    assert [(r["lam"], r["seed"], r["snr"], r["nested.half"]) for r in rows] == [
        (0.0, 2, 2.0, 0.0), (1.0, 2, 4.0, 0.5), (10.0, 2, 22.0, 5.0)]
    table = read_csv(base / "sweep.csv")
    assert [(t["run"], float(t["snr"])) for t in table] == [("lam=0.0", 2.0), ("lam=1.0", 4.0),
                                                            ("lam=10.0", 22.0)]
    assert (base / "sweep_summary.pdf").stat().st_size > 1000
    assert (base / "sweep_summary.png").stat().st_size > 1000

    again = sweep.run_sweep(NB, {"lam": [0, 1, 10]}, fixed={"seed": 2}, root=root,
                            progress=False, log=log.append)
    assert (again.done, again.skipped) == ([], names)

    # simulated kill during lam=1.0: no DONE, a stale partial file and temp notebook
    (base / "lam=1.0" / "DONE").unlink()
    (base / "lam=1.0" / "partial.tmp").write_text("half")
    stamp = (base / "lam=0.0" / f"{NB}.ipynb").stat().st_mtime_ns
    resumed = sweep.run_sweep(NB, {"lam": [0, 1, 10]}, fixed={"seed": 2}, root=root,
                              progress=False, log=log.append)
    assert (resumed.done, resumed.skipped) == (["lam=1.0"], ["lam=0.0", "lam=10.0"])
    assert not (base / "lam=1.0" / "partial.tmp").exists()
    assert records.is_done(base / "lam=1.0")
    assert (base / "lam=0.0" / f"{NB}.ipynb").stat().st_mtime_ns == stamp   # untouched

    # other fixed values are a different run: not skipped (checked without executing)
    spec = sweep.plan(NB, {"lam": [0]}, fixed={"seed": 2, "quick": False}, root=root)[0]
    ok, why = sweep.finished(spec, NB)
    assert not ok and why == "parameters changed (quick: default -> False)"
    assert sweep.finished(sweep.plan(NB, {"lam": [0]}, fixed={"seed": 2}, root=root)[0], NB) == (
        True, "")


def test_failed_run_is_reported_and_the_others_complete(root, capsys):
    code = sweep.main([NB, "lam=2,3", "--set", "fail_on=3", "--root", str(root),
                       "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED lam=3.0: ValueError: lam=3.0 hits fail_on" in out
    assert "2 runs: 1 done, 0 skipped (already finished), 1 failed" in out
    base = root / "results" / NB
    # it failed after run.done(): the runner removed DONE, kept the notebook under another name
    assert not records.is_done(base / "lam=3.0")
    assert not (base / "lam=3.0" / f"{NB}.ipynb").exists()
    assert (base / "lam=3.0" / f"{NB}.failed.ipynb").exists()
    assert records.is_done(base / "lam=2.0")
    assert [(t["run"], float(t["snr"])) for t in read_csv(base / "sweep.csv")] == [
        ("lam=2.0", 4.0)]


# ------------------------------------------------------------------ collecting (no papermill)

def fake_run(base, params, metrics, *, done=True):
    folder = base / sweep.run_name(params)
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {**params, "run_name": folder.name}}
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{NB}.ipynb")
    records.save_run(folder, params={"lam": params["lam"], "quick": True}, metrics=metrics)
    if done:
        records.mark_done(folder)


def test_collect_table_and_seed_error_bars(root, capsys):
    base = root / "results" / NB
    rng = np.random.default_rng(0)
    snr = {}
    for lam in (0.0, 1.0, 10.0):
        for seed in range(4):               # seed has more values but is never x
            snr[lam, seed] = float(lam * 3 + rng.normal())
            fake_run(base, {"lam": lam, "seed": seed},
                     {"snr": snr[lam, seed], "acc": 1.0, "note": "text", "bad": "nan"})
    fake_run(base, {"lam": 20.0, "seed": 0}, {"snr": 99.0}, done=False)    # killed run
    assert sweep.main([NB, "--collect-only", "--root", str(root)]) == 0
    assert "left out 1 unfinished" in capsys.readouterr().out
    table = read_csv(base / "sweep.csv")
    assert len(table) == 12 and list(table[0])[:5] == ["run", "lam", "seed", "quick", "snr"]
    assert "note" not in table[0]                     # strings are not metrics
    assert [(float(t["lam"]), int(t["seed"])) for t in table] == [
        (lam, s) for lam in (0.0, 1.0, 10.0) for s in range(4)]   # numeric, not text order
    rows = collect_mod.collect(NB, root=root, log=lambda m: None)
    agg = stats.group_table(rows, "lam", ["snr"])
    for a in agg:
        v = np.array([snr[a["lam"], s] for s in range(4)])
        assert a["snr"] == pytest.approx(v.mean())
        assert a["snr_std"] == pytest.approx(v.std(ddof=1))
        assert a["n"] == 4
    fig = collect_mod.summary_figure(rows, "lam", ["snr", "acc"])
    assert [ax.get_xlabel() for ax in fig.axes] == ["λ (lam)", "λ (lam)"]
    assert "mean ± std over 4 seeds" in fig._suptitle.get_text()
    assert (base / "sweep_summary.png").stat().st_size > 1000
    with pytest.raises(ValueError, match=r"metric_keys='snrr' is not allowed: the runs' numeric "
                                         r"metrics are: snr, acc, bad"):
        collect_mod.collect(NB, root=root, metric_keys=["snrr"], log=lambda m: None)


def test_summary_groups_other_swept_parameters():
    rows = [{"lam": l, "clip": c, "seed": s, "snr": l + c + s}
            for l in (0, 1) for c in (0.5, 1.0) for s in (0, 2)]
    fig = collect_mod.summary_figure(rows, "lam", "snr", group="clip")
    ax = fig.axes[0]
    # one line per clip; each point: seeds 0 and 2 -> mean = lam + clip + 1, sample std = sqrt(2)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["group=clip=0.5",
                                                                   "group=clip=1.0"]
    assert [list(c.lines[0].get_ydata()) for c in ax.containers] == [[1.5, 2.5], [2.0, 3.0]]
    caps = [np.abs(np.asarray(c.lines[1][1].get_ydata(), float)
                   - np.asarray(c.lines[0].get_ydata(), float)) for c in ax.containers]
    np.testing.assert_allclose(caps, np.sqrt(2.0))
    assert "mean ± std over 2 seeds" in fig._suptitle.get_text()


def test_collect_ignores_make_run_and_ci_runs_and_echoed_params(root, monkeypatch):
    base = root / "results" / NB
    for lam in (0.0, 1.0):
        fake_run(base, {"lam": lam, "seed": 0}, {"snr": lam + 1, "lam": lam})
    for name in collect_mod.NOT_SWEEP_RUNS:           # make run's and CI's folders are not sweep points
        folder = base / name
        folder.mkdir()
        records.save_run(folder, params={"lam": 1.0}, metrics={"snr": 123.0})
        records.mark_done(folder)
    plotted = []
    real = collect_mod.summary_figure
    monkeypatch.setattr(collect_mod, "summary_figure",
                        lambda rows, x, ys, **kw: plotted.append((x, list(ys))) or real(rows, x, ys, **kw))
    log = []
    rows = collect_mod.collect(NB, root=root, log=log.append)
    assert [r["run"] for r in rows] == ["lam=0.0_seed=0", "lam=1.0_seed=0"]
    assert not any("unfinished" in m for m in log)
    assert plotted == [("lam", ["snr"])]       # the notebook's echo of lam is not a metric to plot


def test_make_run_executes_the_defaults_into_default(root, monkeypatch, capsys):
    monkeypatch.setenv("RVLIB_QUICK", "1")
    with pytest.raises(ValueError, match=r"^RVLIB_QUICK='1' is not allowed: make run writes"):
        sweep.run_defaults([NB], root=root, log=lambda m: None)
    monkeypatch.delenv("RVLIB_QUICK")
    assert sweep.main(["--defaults", NB, "--root", str(root)]) == 0
    folder = root / "results" / NB / "default"
    assert records.is_done(folder) and (folder / f"{NB}.ipynb").is_file()
    saved = records.read_json(folder / "results.json")
    assert saved["params"] == {"seed": 0, "quick": False, "run_name": "default", "lam": 1.0}
    assert saved["metrics"]["snr"] == 2.0
