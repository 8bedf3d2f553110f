"""nb.params.EnsembleParams (notebook 09): defaults, quick mode, checks."""
import re

import pytest

from rvlib.nb.params import PARAMS, EnsembleParams

DEFAULTS = dict(seed=0, quick=False, run_name="default", k=5, epochs=30, lr=0.003, batch_size=64,
                hidden=128, surrogate_seed=100, score="predictive_entropy", target_coverage=0.95,
                eps=0.1, attack_steps=10, corruption="gaussian", severity=0.5,
                specialist_epochs=10, specialist_lr=0.001, lam=1.0)


@pytest.fixture(autouse=True)
def no_quick_env(monkeypatch):
    monkeypatch.delenv("RVLIB_QUICK", raising=False)


def test_defaults_seeds_and_quick():
    assert PARAMS["09_ensembles_core"] is EnsembleParams
    cfg = EnsembleParams(**DEFAULTS)
    assert cfg.record() == DEFAULTS and cfg.seeds == [0, 1, 2, 3, 4]
    q = EnsembleParams(**DEFAULTS | {"quick": True, "run_name": "quick"})
    assert (q.k, q.epochs, q.attack_steps, q.specialist_epochs) == (3, 15, 5, 5)
    assert q.seeds == [0, 1, 2] and q.eps == 0.1


@pytest.mark.parametrize("key, value, message", [
    ("k", 1, "k=1 is not allowed: an ensemble needs at least 2 members"),
    ("target_coverage", 0.0, "target_coverage=0.0 is not allowed: must be > 0.0"),
    ("target_coverage", 1.2, "target_coverage=1.2 is not allowed: must be <= 1.0"),
    ("score", "entropy", "score='entropy' is not allowed: must be one of 'predictive_entropy', "
                         "'expected_entropy', 'mutual_information', 'variation_ratio', "
                         "'committee_variance', 'committee_cross_entropy', 'least_confidence'"),
    ("corruption", "blur", "corruption='blur' is not allowed: must be one of 'gaussian', "
                           "'salt_pepper', 'fog', 'occlusion'"),
    ("surrogate_seed", 3, "surrogate_seed=3 is not allowed: must not be a member's seed (0..4)"),
    ("eps", 0, "eps=0.0 is not allowed: must be > 0"),
])
def test_errors(key, value, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        EnsembleParams(**DEFAULTS | {key: value})
