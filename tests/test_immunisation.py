"""immunisation: the gate, the scheme's metrics by hand, the specialists, adversary plumbing."""
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rvlib import data, ensembles, immunisation, models, uncertainty


def _two_class(p0):
    """Member logits whose softmax is (p0, 1 - p0)."""
    return [math.log(p0 / (1 - p0)), 0.0]


# gen1: 2 members, 4 examples. Examples 0, 1: members agree (core); 2, 3: they disagree.
GEN1 = np.array([[_two_class(0.95), _two_class(0.05), _two_class(0.9), _two_class(0.8)],
                 [_two_class(0.95), _two_class(0.05), _two_class(0.2), _two_class(0.3)]],
                np.float32)
# gen2 predicts class 1 everywhere
GEN2 = np.array([[_two_class(0.2)] * 4, [_two_class(0.3)] * 4], np.float32)
LABELS = np.array([0, 0, 1, 1])


def test_scheme_metrics_hand_example():
    # predictive entropy: examples 0, 1 have p̄₀ = 0.95 / 0.05 -> H ≈ 0.199 < 0.5; 2 and 3:
    # p̄₀ = 0.55 (H ≈ 0.688)
    m = immunisation.two_generation_metrics(GEN1, GEN2, LABELS, score="predictive_entropy",
                                            threshold=0.5)
    # gen1 predicts 0, 1, 0, 0 -> right on example 0 only
    assert m["gen1_accuracy"] == 0.25 and m["coverage"] == 0.5 and m["core_accuracy"] == 0.5
    assert m["out_of_core_gen1_accuracy"] == 0.0 and m["out_of_core_gen2_accuracy"] == 1.0
    assert m["gen2_accuracy"] == 0.5 and m["gated_accuracy"] == 0.75 and m["n"] == 4
    lp, core = immunisation.gated_log_probs(GEN1, GEN2, score="predictive_entropy", threshold=0.5)
    np.testing.assert_array_equal(core, [True, True, False, False])
    p = np.exp(np.asarray(lp))
    np.testing.assert_allclose(p[:2, 0], [0.95, 0.05], atol=1e-6)
    np.testing.assert_allclose(p[2:, 0], [0.25, 0.25], atol=1e-6)


def test_empty_core_gives_nan_core_accuracy():
    m = immunisation.two_generation_metrics(GEN1, GEN2, LABELS, score="predictive_entropy",
                                            threshold=-1.0)
    assert m["coverage"] == 0.0 and math.isnan(m["core_accuracy"])
    assert m["gated_accuracy"] == m["gen2_accuracy"]


def test_gate_shapes_must_match():
    with pytest.raises(ValueError, match="^" + re.escape(
            "gen2_logits.shape=(2, 3, 2) is not allowed: must cover the same [batch, classes] "
            "as gen1_logits (2, 4, 2)") + "$"):
        immunisation.gated_log_probs(GEN1, GEN2[:, :3], score="predictive_entropy", threshold=0.5)


def _noise_adversary(logits_fn, x, y, key):   # stands in for an attack; uses its key
    return jnp.clip(x + 0.3 * jax.random.normal(key, x.shape), 0.0, 1.0)


def test_adversarial_set_batches_with_their_own_keys():
    x = np.full((10, 4, 4, 1), 0.5, np.float32)
    y = np.zeros(10, np.int32)
    a = immunisation.adversarial_set(_noise_adversary, None, x, y, jax.random.key(0), batch_size=4)
    b = immunisation.adversarial_set(_noise_adversary, None, x, y, jax.random.key(0), batch_size=4)
    assert a.shape == x.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[:4], a[4:8])            # not the same key twice
    with pytest.raises(ValueError, match=re.escape("adversary(...).shape=(4, 16) is not allowed: "
                                                   "must equal the input's (4, 4, 4, 1)")):
        immunisation.adversarial_set(lambda f, x, y, k: x.reshape(x.shape[0], -1), None, x, y,
                                     jax.random.key(0), batch_size=4)


@pytest.fixture(scope="module")
def digits():
    x, y = data.load_digits()
    return data.train_test_split(x, y, test_fraction=0.2, seed=0)


def _make(seed):
    return models.MLP(in_features=64, hidden=32, classes=10, rngs=nnx.Rngs(seed))


def test_specialists_train_on_out_of_core_pool(digits):
    train, test = digits
    gen1 = ensembles.train_ensemble(_make, train, seeds=[0, 1, 2], epochs=4, batch_size=64,
                                    lr=3e-3)
    noisy = immunisation.adversarial_set(_noise_adversary, None, *test, jax.random.key(1))
    pool = (np.concatenate([train[0], noisy]), np.concatenate([train[1], test[1]]))
    s_pool = np.asarray(uncertainty.predictive_entropy(gen1.member_logits(pool[0])))
    tau = float(np.quantile(s_pool, 0.7))
    gen2, info = immunisation.immunise(gen1, pool, score="predictive_entropy", threshold=tau,
                                       epochs=3, batch_size=32, lr=3e-3)
    assert info == {"n_pool": len(pool[1]), "n_selected": int(np.sum(s_pool > tau))}
    xs, ys = immunisation.out_of_core(gen1, *pool, score="predictive_entropy", threshold=tau)
    assert len(ys) == info["n_selected"]
    acc = lambda e: ensembles.ensemble_metrics(e.member_logits(xs), ys)["accuracy"]  # noqa: E731
    assert acc(gen2) > acc(gen1)                       # the specialists learnt their data
    with pytest.raises(ValueError, match=re.escape("threshold=100.0 is not allowed: leaves 0 "
                                                   "out-of-core pool examples, fewer than "
                                                   "batch_size=32")):
        immunisation.immunise(gen1, pool, score="predictive_entropy", threshold=100.0, epochs=1,
                              batch_size=32)
