"""nb.figures (byte-stable savefig, style only when asked), nb.records (atomic writes), nb.widgets."""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rvlib.nb import figures, plots, records


def test_savefig_writes_pdf_and_png(tmp_path):
    fig = plots.sweep_plot([{"lam": l, "snr": 10 ** l, "snr_std": 1.0} for l in range(4)],
                           "lam", "snr")
    paths = figures.savefig("sub/sweep", fig, folder=tmp_path)
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert fig.axes[0].get_yscale() == "log"          # SNR spans decades
    assert not fig.axes[0].spines["top"].get_visible()   # drawn in figures.STYLE ...
    import matplotlib
    assert matplotlib.rcParams["axes.spines.top"]          # ... which stays local to the plot


SAVE_TWICE = """
import sys
import matplotlib
matplotlib.use("Agg")
from rvlib.nb import figures, plots
rows = [{"lam": l, "snr": 10.0 ** l, "snr_std": 0.5} for l in range(4)]
figures.savefig("f", plots.sweep_plot(rows, "lam", "snr", title="λ"), folder=sys.argv[1])
"""


def test_savefig_is_byte_stable_across_processes(tmp_path):
    """make run must not dirty tracked figures: no dates, no versions in the files."""
    digests = []
    for run in ("a", "b"):
        subprocess.run([sys.executable, "-c", SAVE_TWICE, str(tmp_path / run)], check=True)
        digests.append([hashlib.sha256((tmp_path / run / f"f.{e}").read_bytes()).hexdigest()
                        for e in ("pdf", "png")])
    assert digests[0] == digests[1]
    assert b"CreationDate" not in (tmp_path / "a" / "f.pdf").read_bytes()


def test_importing_rvlib_changes_no_global_state():
    code = ("import os, matplotlib; before = dict(matplotlib.rcParams); m = os.umask(0o022); "
            "os.umask(m); import rvlib, rvlib.nb.figures, rvlib.nb.plots, rvlib.nb.records, "
            "rvlib.nb.sweep; after = dict(matplotlib.rcParams); m2 = os.umask(0); os.umask(m2); "
            "print(before == after, m == m2)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_robustness_and_training_plots(tmp_path):
    rows = [{"corruption": c, "severity": s, "model": m, "accuracy": 1 - s, "snr_median": 1 + s}
            for c in ("gaussian", "fog") for s in (0.0, 0.5) for m in ("a", "b")]
    fig = plots.robustness_curves(rows)
    assert len(fig.axes) == 4
    hist = [{"epoch": e, "train_loss": 1 / e, "test_loss": 1 / e, "train_accuracy": 0.5,
             "test_accuracy": 0.5, "test_margin": e, "test_snr_median": e} for e in (1, 2)]
    assert len(plots.training_curves(hist).axes) == 3
    assert len(plots.image_grid(np.zeros((2, 3, 8, 8, 1))).axes) == 6


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "r" / "results.json"
    records.write_json(target, {"a": 1})

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        records.write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 1}          # old content intact
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]  # no temp left


def test_save_run_and_done_marker(tmp_path):
    records.save_run(tmp_path, params={"lam": 1.0}, metrics={"snr": np.float32(np.inf)},
                     rows=[{"x": 1}, {"x": 2, "y": np.int64(3)}])
    d = records.read_json(tmp_path / "results.json")
    assert d["params"] == {"lam": 1.0} and d["metrics"]["snr"] == "inf" and "rvlib_version" in d
    assert (tmp_path / "results.csv").read_text() == "x,y\n1,\n2,3\n"
    assert not records.is_done(tmp_path)
    records.mark_done(tmp_path)
    assert records.is_done(tmp_path)


def test_written_files_get_the_mode_of_any_new_file(tmp_path):
    """Created with 0o666 so the umask applies: the same mode as a plain open() gives."""
    p = records.atomic_write_text(tmp_path / "a.txt", "x")
    q = records.new_temp_file(tmp_path, ".b.")
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("x")
    mode = (tmp_path / "plain.txt").stat().st_mode & 0o777
    assert p.stat().st_mode & 0o777 == mode and q.stat().st_mode & 0o777 == mode


def test_lambda_explorer_builds_and_redraws():
    pytest.importorskip("ipywidgets")
    import matplotlib
    matplotlib.use("Agg")
    from rvlib.nb import widgets
    image = (np.random.default_rng(3).uniform(0, 1, 64) * 0.7).astype(np.float32)
    box = widgets.lambda_explorer(image, lams=[0.0, 1.0], value=10.0)
    slider = box.children[0]
    assert [v for _, v in slider.options] == [0.0, 1.0, 10.0] and slider.value == 10.0
    slider.value = 0.0  # runs the callback: retrains and redraws without error
