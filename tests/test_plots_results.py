"""savefig writes PDF and PNG; result files are written atomically."""
import json
import os

import numpy as np
import pytest

from rvlib import plots, results


def test_savefig_writes_pdf_and_png(tmp_path):
    fig = plots.sweep_plot([{"lam": l, "snr": 10 ** l, "snr_std": 1.0} for l in range(4)],
                           "lam", "snr")
    paths = plots.savefig("sub/sweep", fig, folder=tmp_path)
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert fig.axes[0].get_yscale() == "log"          # SNR spans decades


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
    results.write_json(target, {"a": 1})

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        results.write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 1}          # old content intact
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]  # no temp left


def test_save_run_and_done_marker(tmp_path):
    results.save_run(tmp_path, params={"lam": 1.0}, metrics={"snr": np.float32(np.inf)},
                     rows=[{"x": 1}, {"x": 2, "y": np.int64(3)}])
    d = results.read_json(tmp_path / "results.json")
    assert d["params"] == {"lam": 1.0} and d["metrics"]["snr"] == "inf" and "rvlib_version" in d
    assert (tmp_path / "results.csv").read_text() == "x,y\n1,\n2,3\n"
    assert not results.is_done(tmp_path)
    results.mark_done(tmp_path)
    assert results.is_done(tmp_path)


def test_written_files_are_not_private(tmp_path):
    p = results.atomic_write_text(tmp_path / "a.txt", "x")
    assert p.stat().st_mode & 0o044 == 0o044 & ~results._UMASK
