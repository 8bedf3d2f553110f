"""Notebook 07's parameters: defaults as in its parameters cell, quick mode, bad values."""
import re

import pytest

from rvlib.nb.params import PARAMS, AnalogParams

DEFAULTS = dict(seed=0, quick=False, run_name="default", seeds=[0, 1, 2], model_names=["mlp", "cnn"],
                epochs=20, lr=0.003, batch_size=64, alpha_train=0.3,
                alphas=[0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0], draws=5,
                presets=["ideal", "pcm", "pcm_4bit", "rram_like"], device="pcm", t_eval=86400.0,
                times=[1.0, 3600.0, 86400.0, 2592000.0, 31536000.0], bits=[1, 2, 3, 4, 6],
                g_maxes=[2.0, 1.0, 0.5, 0.25, 0.1])


@pytest.fixture(autouse=True)
def no_quick_env(monkeypatch):
    monkeypatch.delenv("RVLIB_QUICK", raising=False)


def test_defaults_and_quick():
    assert PARAMS["07_analog_hardware"] is AnalogParams
    assert AnalogParams(**DEFAULTS).record() == DEFAULTS
    q = AnalogParams(**DEFAULTS | {"quick": True, "run_name": "quick"})
    assert (q.seeds, q.model_names, q.draws, q.epochs, q.bits, q.g_maxes, q.presets) == (
        [0], ["mlp"], 3, 10, [1, 6], [2.0], ["ideal", "pcm"])


@pytest.mark.parametrize("key, value, message", [
    ("alphas", [0.0, -0.1], "alphas[1]=-0.1 is not allowed: must be >= 0"),
    ("alphas", [0.0, 0.2], "alphas=[0.0, 0.2] is not allowed: must contain 0.0 (clean) and 0.1"),
    ("draws", 0, "draws=0 is not allowed: must be > 0"),
    ("bits", [0, 4], "bits[0]=0 is not allowed: must be >= 1"),
    ("times", [-1.0], "times[0]=-1.0 is not allowed: must be >= 0"),
    ("g_maxes", [0.0], "g_maxes[0]=0.0 is not allowed: must be > 0"),
    ("device", "flash", "device='flash' is not allowed: must be one of 'ideal', 'pcm', 'pcm_4bit', "
     "'rram_like', 'pcm_prog_only', 'pcm_drift_only', 'pcm_read_only'"),
    ("model_names", ["vit"], "model_names[0]='vit' is not allowed: must be one of 'cnn', 'mlp'"),
])
def test_bad_values(key, value, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        AnalogParams(**DEFAULTS | {key: value})
