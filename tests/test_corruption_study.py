"""paper.corruption_study: the per-image models read under the four corruptions."""
import numpy as np
import pytest

from rvlib import stats
from rvlib.paper import corruption_study, protocol


@pytest.fixture(scope="module")
def small_scenes():
    rng = np.random.default_rng(3)
    return (rng.uniform(0, 1, (3, 8, 8, 1)) * 0.7).astype(np.float32)


def test_protocol_under_corruptions_at_zero_is_clean(small_scenes):
    rows = corruption_study.paper_protocol_under_corruptions(
        small_scenes, methods=["hebbian_0_1", "mlp_margin10"],
        corruption_names=["gaussian", "occlusion"], severities=[0.0, 0.5])
    assert len(rows) == 2 * 2 * 2
    x = small_scenes.reshape(3, -1)
    heb = protocol.run_crossbar(x, rule="hebbian", eta=0.2, iters=30, clip=(0.0, 1.0))["clean"]
    mlp = protocol.run_mlp(x, [10.0])["clean"][0]
    for r in rows:
        if r["severity"] == 0.0:
            ref = stats.binary_summary(heb if r["method"] == "hebbian_0_1" else mlp)
            assert r["margin_median"] == pytest.approx(ref["margin_median"], rel=1e-5)
            assert r["degradation"] == 0.0
    noisy = [r for r in rows if r["severity"] == 0.5 and r["corruption"] == "gaussian"]
    clean = [r for r in rows if r["severity"] == 0.0 and r["corruption"] == "gaussian"]
    assert all(a["margin_median"] != b["margin_median"] for a, b in zip(noisy, clean))


def test_protocol_under_corruptions_rejects_unknown_method(small_scenes):
    with pytest.raises(ValueError, match=r"methods\[0\]='sgd' is not allowed: must be one of"):
        corruption_study.paper_protocol_under_corruptions(small_scenes, methods=["sgd"])
