"""ensembles: K members as one program, the ensemble's metrics, fine-tuning, bad input."""
import re

import numpy as np
import pytest
from flax import nnx

from rvlib import data, ensembles, models, training

K_SEEDS = [0, 1, 2]


def _make(seed):
    return models.MLP(in_features=64, hidden=32, classes=10, rngs=nnx.Rngs(seed))


@pytest.fixture(scope="module")
def digits():
    x, y = data.load_digits()
    return data.train_test_split(x, y, test_fraction=0.2, seed=0)


@pytest.fixture(scope="module")
def ens(digits):
    return ensembles.train_ensemble(_make, digits[0], seeds=K_SEEDS, epochs=8, batch_size=64,
                                    lr=3e-3)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_members_are_the_seeds_models(ens, digits):
    x = digits[1][0]
    z = np.asarray(ens.member_logits(x, batch_size=100))
    assert z.shape == (3, len(x), 10) and ens.k == 3 and ens.seeds == K_SEEDS
    for i in range(3):
        np.testing.assert_allclose(z[i], np.asarray(training.predict_model(ens.model(i), x)),
                                   atol=1e-5)
        np.testing.assert_allclose(np.asarray(ens.logits_fn(i)(x)), z[i], atol=1e-5)
    # the ensemble's logits_fn is log of the mean member probability
    np.testing.assert_allclose(_softmax(np.asarray(ens.logits_fn()(x), np.float64)),
                               _softmax(z.astype(np.float64)).mean(0), atol=1e-5)
    assert not np.allclose(z[0], z[1])      # different seeds, different members


def test_same_seeds_same_numbers(ens, digits):
    again = ensembles.train_ensemble(_make, digits[0], seeds=K_SEEDS, epochs=8, batch_size=64,
                                     lr=3e-3)
    x = digits[1][0]
    np.testing.assert_array_equal(np.asarray(again.member_logits(x)),
                                  np.asarray(ens.member_logits(x)))


def test_ensemble_metrics_against_numpy_and_nll_below_members(ens, digits):
    x, y = digits[1]
    z = np.asarray(ens.member_logits(x), np.float64)
    m = ensembles.ensemble_metrics(z, y)
    pbar = _softmax(z).mean(0)
    assert m["k"] == 3
    assert m["nll"] == pytest.approx(-np.mean(np.log(pbar[np.arange(len(y)), y])), rel=1e-4)
    assert m["accuracy"] == pytest.approx(np.mean(pbar.argmax(1) == y), abs=1e-6)
    member_nll = [-np.mean(np.log(_softmax(z[i])[np.arange(len(y)), y])) for i in range(3)]
    assert m["member_mean_nll"] == pytest.approx(np.mean(member_nll), rel=1e-4)
    # the acceptance claim: ensembling lowers the NLL on the digits (Jensen makes it
    # hold for the mean member, not only by luck)
    assert m["nll"] <= m["member_mean_nll"]
    assert m["member_best_accuracy"] >= m["member_mean_accuracy"] >= m["member_worst_accuracy"]


def test_fine_tune_starts_from_the_members_and_fits_new_data(ens, digits):
    x, y = digits[1]
    sub = (x[:64], (y[:64] + 1) % 10)      # relabelled: only training on it can fit it
    before = ensembles.ensemble_metrics(ens.member_logits(sub[0]), sub[1])["accuracy"]
    tuned = ensembles.fine_tune(ens, sub, epochs=1, batch_size=32, lr=1e-6)
    # two tiny steps: still (nearly) the first generation's members
    np.testing.assert_allclose(np.asarray(tuned.member_logits(x)), np.asarray(ens.member_logits(x)),
                               atol=1e-2)
    assert tuned.seeds == [1000, 1001, 1002]
    tuned = ensembles.fine_tune(ens, sub, epochs=25, batch_size=32, lr=1e-2)
    after = ensembles.ensemble_metrics(tuned.member_logits(sub[0]), sub[1])["accuracy"]
    assert before < 0.2 and after > 0.8


@pytest.mark.parametrize("seeds, message", [
    ([0], "seeds=[0] is not allowed: an ensemble needs at least 2 members (K >= 2 seeds)"),
    ([1, 1], "seeds=[1, 1] is not allowed: must not repeat a seed"),
    ([0, -1], "seeds[1]=-1 is not allowed: must be >= 0"),
])
def test_bad_seeds(digits, seeds, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        ensembles.train_ensemble(_make, digits[0], seeds=seeds, epochs=1, batch_size=64)


def test_mismatched_member_shapes(digits):
    def make(seed):   # member 1 has another hidden width
        return models.MLP(in_features=64, hidden=32 + seed, classes=10, rngs=nnx.Rngs(seed))
    with pytest.raises(ValueError, match=re.escape("configs[1].seed=1 is not allowed: make_model(1) "
                                                   "builds a model whose structure differ(s)")):
        ensembles.train_ensemble(make, digits[0], seeds=[0, 1], epochs=1, batch_size=64)
