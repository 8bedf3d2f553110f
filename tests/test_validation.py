"""Every bad parameter is refused before compute, with the parameter's name in the message.

Two paths: a notebook's setup cell (``Params.from_namespace(globals())``, also
with names papermill injected) and the sweep runner (``rvlib.nb.sweep``),
which checks every grid point before the first run.  The training entry
points are replaced by functions that fail the test if they are called.
"""
import json
import re
from pathlib import Path

import nbformat
import pytest

from rvlib.nb import sweep
from rvlib.nb.params import PARAMS

ROOT = Path(__file__).resolve().parents[1]
NB01, NB02, NB03, NB04, NB05 = list(PARAMS)[:5]  # the paper notebooks 01-05


@pytest.fixture(autouse=True)
def no_training(monkeypatch):
    """Any training or notebook execution during these tests is a failure."""
    monkeypatch.delenv("RVLIB_QUICK", raising=False)
    from rvlib import training
    from rvlib.paper import lambda_study, protocol

    def called(*a, **k):
        raise AssertionError("a training entry point ran before the parameters were checked")

    for mod, names in [(training, ["fit", "fit_many", "train_classifier", "gradient_clip_sweep"]),
                       (lambda_study, ["train_lambda_models", "paper_lambda_rows"]),
                       (protocol, ["run_paper_protocol"]), (sweep, ["execute"])]:
        for name in names:
            monkeypatch.setattr(mod, name, called)


def setup_cell(notebook, overrides, injected=None):
    """What the notebook's setup cell does, with ``overrides`` in its globals."""
    cls = PARAMS[notebook]
    namespace = cls.defaults() | overrides
    if injected is not None:           # IPython's history holds papermill's injected cell
        namespace["_ih"] = ["", "seed = 0\n", "# Parameters\n" + "".join(
            f"{k} = {v!r}\n" for k, v in injected.items())]
        namespace |= injected
    return cls.from_namespace(namespace)


BIG = 10 ** 12
SETUP = [   # (notebook, overrides, parameter named in the message, fragment of the message)
    (NB02, {"lam": -1}, "lam", "must be >= 0"),
    (NB02, {"lam": float("inf")}, "lam", "must be finite"),
    (NB02, {"lam": float("nan")}, "lam", "must not be NaN"),
    (NB02, {"lr": float("inf")}, "lr", "must be finite"),
    (NB02, {"lr": 0}, "lr", "must be > 0"),
    (NB02, {"seed": True}, "seed", "not True/False"),
    (NB02, {"seed": 2 ** 31}, "seed", "must be < 2**31"),
    (NB02, {"seeds": "12"}, "seeds", "must be a list, not a string"),
    (NB02, {"seeds": 3}, "seeds", "must be a list (write [3] for one value)"),
    (NB02, {"seeds": []}, "seeds", "must contain at least one seed"),
    (NB02, {"seeds": [0, 2 ** 40]}, "seeds[1]", "must be < 2**31"),
    (NB02, {"seeds": [0, True]}, "seeds[1]", "not True/False"),
    (NB02, {"lams_paper": "10"}, "lams_paper", "not a string"),
    (NB02, {"lams_controlled": 10.0}, "lams_controlled", "must be a list"),
    (NB02, {"lams_controlled": [0.0, float("inf")]}, "lams_controlled[1]", "must be finite"),
    (NB02, {"epochs": True}, "epochs", "not True/False"),
    (NB02, {"epochs": 2.5}, "epochs", "must be an integer"),
    (NB02, {"epochs": [30]}, "epochs", "not a list"),
    (NB02, {"batch_size": 5000}, "batch_size", "digits training split"),
    (NB02, {"hidden": 10 ** 9}, "hidden", "GiB of memory"),
    (NB02, {"n_images": BIG}, "n_images", "GiB of memory"),
    (NB02, {"run_name": "x" * 300}, "run_name", "at most 120 characters"),
    (NB02, {"run_name": "my run"}, "run_name", "may hold only letters"),
    (NB02, {"run_name": 5}, "run_name", "must be a string"),
    (NB02, {"run_name": "../up"}, "run_name", "without '/'"),
    (NB02, {"quick": "yes"}, "quick", "must be True or False"),
    (NB02, {"quick": 1}, "quick", "must be True or False"),
    (NB01, {"size": 6}, "size", "multiple of 4"),
    (NB01, {"size": [64, 64]}, "size", "not a list"),
    (NB01, {"batch_size": 2000}, "batch_size", "<= 1437"),
    (NB01, {"dataset": "mnist", "batch_size": 500, "limit": 100}, "batch_size", "<= 100"),
    (NB01, {"dataset": "mnist", "limit": BIG}, "limit", "GiB of memory"),
    (NB01, {"cnn_seed": -1}, "cnn_seed", "must be >= 0"),
    (NB01, {"dataset": "svhn"}, "dataset", "must be one of"),
    (NB01, {"lr": "fast"}, "lr", "must be a number"),
    (NB01, {"n_images": None}, "n_images", "not None"),
    (NB03, {"eta_ratios": []}, "eta_ratios", "at least one"),
    (NB03, {"iters": 0}, "iters", "must be > 0"),
    (NB03, {"hebb_eta": float("-inf")}, "hebb_eta", "must be finite"),
    (NB03, {"init_scales": "0.1"}, "init_scales", "not a string"),
    (NB04, {"custom_clip": "01"}, "custom_clip", "pair (g_min, g_max)"),
    (NB04, {"clip_ranges": [[1.0, 0.0]]}, "clip_ranges[0]", "g_min must be <= g_max"),
    (NB04, {"grad_model": "cnn", "size": 10}, "size", "multiple of 4"),
    (NB04, {"grad_seed": 2 ** 31}, "grad_seed", "must be < 2**31"),
    (NB04, {"signed_clip": [float("nan"), 1.0]}, "signed_clip", "NaN"),
    (NB05, {"lam_margin": 5.0}, "lams", "must contain 0"),
    (NB05, {"severities": [0.0, 0.5, 1.5]}, "severities[2]", "must be <= 1.0"),
    (NB05, {"n_scenes": 0}, "n_scenes", "must be > 0"),
    (NB05, {"lams": [1.0, 10.0]}, "lams", "must contain 0"),
]


def _names_param(message, name):
    assert re.match(re.escape(name) + r"=", message), f"{message!r} does not start with {name}="


@pytest.mark.parametrize("notebook, overrides, name, fragment", SETUP,
                         ids=[f"{n[:2]}-{'-'.join(o)}-{i}" for i, (n, o, _, _) in enumerate(SETUP)])
def test_setup_cell_refuses(notebook, overrides, name, fragment):
    with pytest.raises(ValueError) as e:
        setup_cell(notebook, overrides)
    _names_param(str(e.value), name)
    assert fragment in str(e.value) and "is not allowed" in str(e.value)


INJECTED = [   # misspelt names papermill injects: refused, naming the closest declared parameter
    (NB02, {"lamda": 10}, "lamda", "did you mean 'lam'?"),
    (NB02, {"epoch": 2}, "epoch", "did you mean 'epochs'?"),
    (NB01, {"sizes": 32}, "sizes", "did you mean 'size'?"),
    (NB05, {"severity": [0.5]}, "severity", "did you mean 'severities'?"),
    (NB03, {"zzz": 1}, "zzz", "its parameters are: seed, quick, run_name"),
]


@pytest.mark.parametrize("notebook, injected, name, fragment", INJECTED)
def test_injected_unknown_names_are_refused(notebook, injected, name, fragment):
    with pytest.raises(ValueError) as e:
        setup_cell(notebook, {}, injected=injected)
    _names_param(str(e.value), name)
    assert fragment in str(e.value) and "injected by papermill" in str(e.value)


def test_injected_declared_names_pass():
    cfg = setup_cell(NB02, {}, injected={"lam": 10.0, "epochs": 3})
    assert cfg.lam == 10.0 and cfg.epochs == 3


SWEEPS = [   # (notebook, grid, --set, parameter named, fragment): all refused before any run
    (NB02, {"lam": "1,-1"}, None, "lam", "run lam=-1.0"),
    (NB02, {"lamda": "1,2"}, None, "lamda", "did you mean lam?"),
    (NB02, {"seed": "0,2147483648"}, None, "seed", "must be < 2**31"),
    (NB02, {"lam": "1"}, {"batch_size": "5000"}, "batch_size", "digits training split"),
    (NB02, {"lr": "0.001,inf"}, None, "lr", "must be finite"),
    (NB02, {"hidden": "128,1000000000"}, None, "hidden", "GiB of memory"),
    (NB02, {"lam": "1"}, {"seeds": "12"}, "seeds", "must be a list"),
    (NB02, {"lam": "1"}, {"run_name": "x"}, "run_name", "the runner sets it"),
    (NB02, {"seed": "True"}, None, "seed", "must be an int"),
    (NB03, {"eta_ratios": "[]"}, None, "eta_ratios", "at least one"),
    (NB01, {"size": "16,10"}, None, "size", "multiple of 4"),
    (NB05, {"lam_margin": "10,5"}, None, "lams", "must contain 0"),
]


@pytest.mark.parametrize("notebook, grid, fixed, name, fragment", SWEEPS)
def test_sweep_refuses_before_the_first_run(notebook, grid, fixed, name, fragment):
    with pytest.raises(ValueError) as e:
        sweep.run_sweep(notebook, grid, fixed=fixed, root=ROOT, progress=False)
    _names_param(str(e.value), name)
    assert fragment in str(e.value)


def test_sweep_cli_reports_a_bad_grid_point_without_running(capsys):
    code = sweep.main(["02_margin_ablation", "lam=1,-1", "--root", str(ROOT), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: lam=-1.0 is not allowed: must be >= 0")


def test_papermill_refuses_a_misspelt_injected_name(tmp_path):
    """``-p lamda 10``: papermill injects it (with only a warning); the setup cell refuses it."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    src = nbformat.read(ROOT / "notebooks" / f"{NB02}.ipynb", as_version=4)
    params = next(c for c in src.cells if "parameters" in c.metadata.get("tags", []))
    setup = nbformat.v4.new_code_cell("from rvlib import nb\n"
                                      "cfg = nb.MarginParams.from_namespace(globals())\n")
    nb = nbformat.v4.new_notebook(cells=[params, setup])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    with pytest.raises(PapermillExecutionError) as e:
        papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"lamda": 10}, kernel_name="python3",
                                   progress_bar=False, cwd=str(tmp_path))
    assert e.value.ename == "ValueError"
    assert e.value.evalue.startswith("lamda=10 is not allowed: 02_margin_ablation declares no "
                                     "parameter 'lamda' (injected by papermill) (did you mean "
                                     "'lam'?)")
    ran = json.loads((tmp_path / "out.ipynb").read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in ran["cells"])
