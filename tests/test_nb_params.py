"""nb.params: one dataclass per notebook (checks, quick mode, RVLIB_QUICK) and the notebooks themselves."""
import json
import re
from pathlib import Path

import pytest

from rvlib import nb
from rvlib.nb import declared
from rvlib.nb.params import (BaselineParams, HardwareParams, HebbianParams, MarginParams, PARAMS,
                             RobustnessParams)
from rvlib.paper.reference import INIT_SCALE

ROOT = Path(__file__).resolve().parents[1]

# The notebooks' own defaults, written out independently of the dataclasses.
BASELINE = dict(seed=42, quick=False, run_name="default", n_images=50, dataset="digits", size=16,
                epochs=15, batch_size=64, lr=0.001, cnn_seed=0, limit=20000, update="published")
MARGIN = dict(seed=0, quick=False, run_name="default", lam=1.0, lams_paper=[0.0, 1.0, 10.0],
              lams_controlled=[0.0, 0.1, 1.0, 10.0, 20.0], seeds=[0, 1, 2], epochs=30, lr=0.003,
              batch_size=64, hidden=128, n_images=50, update="published")
HEBBIAN = dict(seed=42, quick=False, run_name="default", n_images=50, hebb_eta=0.2, delta_eta=0.01,
               iters=30, eta_ratios=[0.1, 0.3, 0.5, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0],
               init_scales=[0.1, 0.01, 0.001])
HARDWARE = dict(seed=42, quick=False, run_name="default", n_images=50, eta=0.2, iters=30,
                clip_ranges=[None, [0.0, 2.0], [0.0, 1.0], [0.0, 0.5]], custom_clip=[0.0, 0.25],
                dataset="digits", size=16, grad_model="mlp", epochs=10, lr=0.003, batch_size=64,
                grad_seed=0, signed_clip=[-0.5, 0.5], limit=20000)
ROBUST = dict(seed=0, quick=False, run_name="default", lams=[0.0, 1.0, 10.0], lam_margin=10.0,
              seeds=[0, 1, 2], epochs=30, lr=0.003, batch_size=64, hidden=128,
              severities=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], n_scenes=50, update="published")
QUICK = {"quick": True, "run_name": "quick"}


@pytest.fixture(autouse=True)
def no_quick_env(monkeypatch):
    monkeypatch.delenv("RVLIB_QUICK", raising=False)   # make test sets it; these tests decide


def _raises(cls, params, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        cls(**params)


# ------------------------------------------------------------------ one notebook each

def test_baseline_coerces_records_and_shrinks_only_the_cnn():
    assert BaselineParams(**BASELINE).record() == BASELINE
    cfg = BaselineParams(**BASELINE | {"lr": 1, "size": 16.0, "quick": False})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.record()["lr"] == 1.0
    assert cfg.size == 16 and isinstance(cfg.size, int) and cfg.quick is False
    q = BaselineParams(**BASELINE | QUICK)
    assert (q.epochs, q.limit, q.n_images, q.seed) == (4, 4000, 50, 42) and q.record()["epochs"] == 4
    small = BaselineParams(**BASELINE | QUICK | {"epochs": 2, "limit": 100})
    assert (small.epochs, small.limit) == (2, 100)          # quick never grows a run
    assert BaselineParams(**BASELINE | {"size": None}).size is None


@pytest.mark.parametrize("key, value, message", [
    ("lr", -0.1, "lr=-0.1 is not allowed: must be > 0"),
    ("epochs", 2.5, "epochs=2.5 is not allowed: must be an integer"),
    ("seed", -1, "seed=-1 is not allowed: must be >= 0"),
    ("size", 0, "size=0 is not allowed: must be > 0"),
    ("dataset", "svhn", "dataset='svhn' is not allowed: must be one of 'digits', 'mnist', "
                        "'fashion_mnist', 'cifar10'"),
    ("quick", "yes", "quick='yes' is not allowed: must be True or False"),
    ("run_name", "a/b", "run_name='a/b' is not allowed: must be a non-empty folder name without "
                        "'/' or a leading '.'"),
])
def test_baseline_errors(key, value, message):
    _raises(BaselineParams, BASELINE | {key: value}, message)


def test_margin_adds_lam_coerces_and_shrinks():
    assert MarginParams(**MARGIN).record() == MARGIN
    cfg = MarginParams(**MARGIN | {"lam": 5, "lams_paper": [10, 0, 10], "lams_controlled": (20,)})
    assert cfg.lam == 5.0 and isinstance(cfg.lam, float)
    assert cfg.lams_paper == [0.0, 5.0, 10.0]       # sorted, no repeats, lam added
    assert cfg.lams_controlled == [5.0, 20.0]       # a tuple is a list (a bare number is refused)
    assert all(isinstance(v, float) for v in cfg.lams_paper + cfg.lams_controlled)
    q = MarginParams(**MARGIN | QUICK | {"seed": 2})
    assert (q.seeds, q.epochs, q.n_images) == ([2], 20, 50) and q.record()["seeds"] == [2]
    assert MarginParams(**MARGIN | QUICK | {"epochs": 5}).epochs == 5


@pytest.mark.parametrize("key, value, message", [
    ("lam", -1, "lam=-1.0 is not allowed: must be >= 0"),
    ("lams_controlled", [0, -1], "lams_controlled[1]=-1.0 is not allowed: must be >= 0"),
    ("seeds", [0, 1.5], "seeds[1]=1.5 is not allowed: must be an integer"),
    ("seeds", [0, 0], "seeds=[0, 0] is not allowed: must not repeat a seed"),
    ("hidden", 0, "hidden=0 is not allowed: must be > 0"),
    ("quick", "no", "quick='no' is not allowed: must be True or False"),
    ("update", "sgd", "update='sgd' is not allowed: must be one of 'published', 'gradient', "
                      "'gradient_bias'"),
])
def test_margin_errors(key, value, message):
    _raises(MarginParams, MARGIN | {key: value}, message)


def test_hebbian_sorts_adds_reference_and_thins_the_sweep():
    cfg = HebbianParams(**HEBBIAN)
    assert cfg.record() == HEBBIAN and cfg.init_scales == [0.1, 0.01, 0.001]
    cfg = HebbianParams(**HEBBIAN | {"eta_ratios": [2, 1, 3], "init_scales": [1], "hebb_eta": 1})
    assert cfg.eta_ratios == [1.0, 2.0, 3.0] and all(isinstance(r, float) for r in cfg.eta_ratios)
    assert cfg.init_scales == [1.0, INIT_SCALE]               # the paper's init stays the reference
    assert cfg.hebb_eta == 1.0 and isinstance(cfg.hebb_eta, float)
    q = HebbianParams(**HEBBIAN | QUICK)
    assert q.eta_ratios == [0.1, 0.5, 0.9, 1.1, 1.5, 3.0] and q.record()["eta_ratios"] == q.eta_ratios
    assert (q.iters, q.n_images) == (30, 50)


@pytest.mark.parametrize("key, value, message", [
    ("eta_ratios", [0.5, -1], "eta_ratios[1]=-1.0 is not allowed: must be > 0"),
    ("init_scales", [0.0], "init_scales[0]=0.0 is not allowed: must be > 0"),
    ("iters", 0, "iters=0 is not allowed: must be > 0"),
    ("delta_eta", "fast", "delta_eta='fast' is not allowed: must be a number"),
])
def test_hebbian_errors(key, value, message):
    _raises(HebbianParams, HEBBIAN | {key: value}, message)


def test_hardware_collects_ranges_and_shrinks_epochs():
    cfg = HardwareParams(**HARDWARE)
    assert cfg.clips == [None, (0.0, 2.0), (0.0, 1.0), (0.0, 0.5), (0.0, 0.25)]
    assert cfg.grad_clips == cfg.clips + [(-0.5, 0.5)]
    assert cfg.record()["clip_ranges"] == cfg.clips[:4] and cfg.record()["limit"] == 20000
    cfg = HardwareParams(**HARDWARE | {"clip_ranges": [[0, 1], None, [0, 1]], "eta": 1,
                                       "custom_clip": [0, 2], "signed_clip": [0, 2]})
    assert cfg.clips == [None, (0.0, 1.0), (0.0, 2.0)]           # reference first, no repeats
    assert cfg.grad_clips == cfg.clips                            # signed range already present
    assert cfg.eta == 1.0 and isinstance(cfg.eta, float)
    assert HardwareParams(**HARDWARE | QUICK).epochs == 4
    assert HardwareParams(**HARDWARE | QUICK | {"epochs": 2}).epochs == 2


@pytest.mark.parametrize("key, value, message", [
    ("custom_clip", [1, 0], "custom_clip=[1, 0] is not allowed: g_min must be <= g_max, "
                            "got g_min=1.0 > g_max=0.0"),
    ("clip_ranges", [None, "wide"], "clip_ranges[1]='wide' is not allowed: must be None or a pair "
                                    "(g_min, g_max) of numbers"),
    ("grad_model", "resnet", "grad_model='resnet' is not allowed: must be one of 'cnn', 'mlp'"),
    ("batch_size", 0, "batch_size=0 is not allowed: must be > 0"),
    ("limit", -5, "limit=-5 is not allowed: must be > 0"),
])
def test_hardware_errors(key, value, message):
    _raises(HardwareParams, HARDWARE | {key: value}, message)


def test_robustness_coerces_and_shrinks():
    assert RobustnessParams(**ROBUST).record() == ROBUST
    cfg = RobustnessParams(**ROBUST | {"lams": [10, 0, 1, 0], "lam_margin": 10,
                                       "severities": [0, 0.5, 1]})
    assert cfg.lams == [0.0, 1.0, 10.0] and cfg.lam_margin == 10.0
    assert isinstance(cfg.lam_margin, float) and all(isinstance(v, float) for v in cfg.lams)
    assert cfg.severities == [0.0, 0.5, 1.0] and all(isinstance(s, float) for s in cfg.severities)
    q = RobustnessParams(**ROBUST | QUICK | {"seeds": [3, 1]})
    assert (q.seeds, q.epochs, q.n_scenes) == ([3], 15, 10) and q.record()["n_scenes"] == 10
    small = RobustnessParams(**ROBUST | QUICK | {"epochs": 5, "n_scenes": 3})
    assert (small.epochs, small.n_scenes) == (5, 3)


@pytest.mark.parametrize("key, value, message", [
    ("lams", [1.0, 10.0], "lams=[1.0, 10.0] is not allowed: must contain 0 (the baseline) and "
                          "lam_margin=10.0 > 0"),
    ("lam_margin", 5, "lams=[0.0, 1.0, 10.0] is not allowed: must contain 0 (the baseline) and "
                      "lam_margin=5.0 > 0"),
    ("lam_margin", 0, "lams=[0.0, 1.0, 10.0] is not allowed: must contain 0 (the baseline) and "
                      "lam_margin=0.0 > 0"),
    ("severities", [0.0, 0.3],
     "severities=[0.0, 0.3] is not allowed: must contain 0.0 (clean) and 0.5"),
    ("severities", [0.0, 0.5, 1.5], "severities[2]=1.5 is not allowed: must be <= 1.0"),
    ("seeds", [], "seeds=[] is not allowed: must contain at least one seed"),
    ("n_scenes", 0, "n_scenes=0 is not allowed: must be > 0"),
])
def test_robustness_errors(key, value, message):
    _raises(RobustnessParams, ROBUST | {key: value}, message)


# ------------------------------------------------------------------ quick mode

def test_quick_run_never_writes_default():
    with pytest.raises(ValueError, match=r"^run_name='default' is not allowed: a quick run must "
                                         r"not write into 'default'"):
        MarginParams(**MARGIN | {"quick": True})
    assert MarginParams(**MARGIN | {"quick": True, "run_name": "lam=1.0"}).run_name == "lam=1.0"


def test_rvlib_quick_env_makes_quick_runs_into_quick(monkeypatch, tmp_path):
    monkeypatch.setenv("RVLIB_QUICK", "1")
    cfg = MarginParams(**MARGIN)
    assert cfg.quick is True and cfg.run_name == "quick" and cfg.seeds == [0] and cfg.epochs == 20
    assert MarginParams(**MARGIN | {"run_name": "lam=1.0"}).run_name == "lam=1.0"   # sweeps keep theirs
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "rvlib").mkdir()
    run = nb.start_run(cfg, root=tmp_path)
    assert run.results_dir == tmp_path / "results/02_margin_ablation/quick"
    assert run.fig_dir == run.results_dir / "figures" and not (tmp_path / "figures").exists()
    monkeypatch.setenv("RVLIB_QUICK", "0")
    assert MarginParams(**MARGIN).quick is False
    monkeypatch.setenv("RVLIB_QUICK", "yes")
    with pytest.raises(ValueError, match=r"^RVLIB_QUICK='yes' is not allowed: must be '1'"):
        MarginParams(**MARGIN)


def test_from_namespace_needs_every_field():
    assert MarginParams.from_namespace(MARGIN | {"unrelated": 1}).record() == MARGIN
    ns = dict(MARGIN)
    del ns["hidden"]
    with pytest.raises(ValueError, match=r"parameters=\['hidden'\] is not allowed: "
                                         r"02_margin_ablation's parameters cell must define"):
        MarginParams.from_namespace(ns)


# ------------------------------------------------------------------ the committed notebooks

def _notebook(name):
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))


def test_one_list_of_notebooks():
    assert list(PARAMS) == sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    from rvlib.nb import sweep
    assert sweep.NOTEBOOKS == tuple(PARAMS)


@pytest.mark.parametrize("name", list(PARAMS))
def test_parameters_cell_is_the_dataclass(name):
    """Same names, order and defaults: the cell a reader sees is what the dataclass checks."""
    cell = declared.declared_parameters(ROOT / "notebooks" / f"{name}.ipynb")
    defaults = PARAMS[name].defaults()
    assert list(cell) == list(defaults)
    assert {k: p.default for k, p in cell.items()} == defaults


@pytest.mark.parametrize("name", list(PARAMS))
def test_committed_notebook_runs_what_it_shows(name):
    """No injected-parameters cell, no stale outputs, and it ends with assert cells that can fail."""
    nbk = _notebook(name)
    tags = [t for c in nbk["cells"] for t in c.get("metadata", {}).get("tags", [])]
    assert "injected-parameters" not in tags and tags.count("parameters") == 1
    code = [c for c in nbk["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert "papermill" not in nbk["metadata"]
    assert "assert " in "".join(code[-1]["source"])
    setup = "".join(code[2]["source"])
    assert f"nb.{PARAMS[name].__name__}.from_namespace(globals())" in setup
    assert "rvlib[colab] @ git+" in "".join(code[0]["source"])
