"""rvlib.training.fit_many (K models, one program): equality with training.fit per config, results API, errors."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rvlib import losses, models, training

EPOCHS, BATCH = 3, 16
CONFIGS = [dict(seed=0, lr=1e-2, lam=0.0),
           dict(seed=1, lr=3e-3, lam=1.0, clip=(-0.05, 0.05)),
           dict(seed=2, lr=1e-2, lam=10)]


def mlp(seed):
    return models.MLP(in_features=16, hidden=8, classes=3, rngs=nnx.Rngs(seed))


def blobs(n, seed):
    """Three Gaussian blobs in 16-d: x f32[n, 16], y i32[n]."""
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.normal(size=(3, 16))
    y = rng.integers(0, 3, n).astype(np.int32)
    return (centres[y] + rng.normal(size=(n, 16))).astype(np.float32), y


@pytest.fixture(scope="module")
def data():
    x, y = blobs(140, 0)  # one set of centres, split into train and test
    return (x[:100], y[:100]), (x[100:], y[100:])


@pytest.fixture(scope="module")
def fits(data):
    return training.fit_many(mlp, CONFIGS, *data, loss="margin_loss", epochs=EPOCHS,
                            batch_size=BATCH)


@pytest.fixture(scope="module")
def singles(data):
    out = []
    for c in CONFIGS:
        out.append(training.fit(mlp(c["seed"]), optax.adam(c["lr"]),
                             losses.get_loss("margin_loss", lam=c["lam"]), *data,
                             epochs=EPOCHS, batch_size=BATCH, seed=c["seed"],
                             clip=c.get("clip"), progress=False))
    return out


def assert_history_close(h1, h2):
    assert len(h1) == len(h2) == EPOCHS
    for r1, r2 in zip(h1, h2):
        assert list(r1) == list(r2)
        for k in r1:
            np.testing.assert_allclose(r2[k], r1[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_each_model_matches_train_fit(fits, singles):
    for i, (graphdef, state, history) in enumerate(singles):
        mine = fits.state(i)
        for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(mine.params)):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
        assert int(mine.step) == int(state.step) == EPOCHS * (100 // BATCH)
        assert_history_close(history, fits.histories[i])
    # the configs really produce different models (the comparison above can fail)
    w = [np.asarray(fits.state(i).params["hidden"]["kernel"][...]) for i in range(3)]
    assert min(np.abs(w[0] - w[1]).max(), np.abs(w[0] - w[2]).max()) > 1e-2
    assert np.abs(w[1]).max() <= 0.05 + 1e-7 < np.abs(w[0]).max()  # clip held
    # learning happened
    assert all(h[-1]["train_loss"] < h[0]["train_loss"] for h in fits.histories)
    assert fits.final(0)["test_accuracy"] > 0.8


def test_results_api(fits, singles, data):
    x = jnp.asarray(data[1][0])
    graphdef, state, _ = singles[2]
    np.testing.assert_allclose(fits.model(2)(x), training.to_model(graphdef, state)(x),
                               rtol=1e-4, atol=1e-4)
    assert fits.final(1) is fits.histories[1][-1]
    assert fits.configs[0] == dict(seed=0, lr=1e-2, clip=None, lam=0.0)
    assert fits.configs[2]["lam"] == 10.0 and isinstance(fits.configs[2]["lam"], float)
    assert jax.tree.leaves(fits.states.params)[0].shape[0] == 3
    assert fits.engine == "scan"  # dense model: the scanned epoch
    with pytest.raises(ValueError, match=r"i=3 is not allowed: must be <= 2"):
        fits.model(3)


@pytest.mark.parametrize("engine", ["step", "loop"])
def test_engines_agree_with_scan(fits, data, engine):
    got = training.fit_many(mlp, CONFIGS, *data, loss="margin_loss", epochs=EPOCHS,
                           batch_size=BATCH, engine=engine)
    for a, b in zip(jax.tree.leaves(fits.states), jax.tree.leaves(got.states)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    for h1, h2 in zip(fits.histories, got.histories):
        assert_history_close(h1, h2)


def test_cnn_without_test_set_and_defaults(data):
    """CNN, sgd, missing lam takes the loss default (1.0), no test set -> NaN test metrics."""
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(24, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 24).astype(np.int32)

    def cnn(seed):
        return models.CNN((8, 8, 1), 3, rngs=nnx.Rngs(seed), width=2, hidden=4)

    configs = [dict(seed=3, lr=0.1), dict(seed=4, lr=0.05, lam=0.5)]
    got = training.fit_many(cnn, configs, (x, y), loss="margin_loss", epochs=2, batch_size=8,
                           optimizer="sgd")
    assert [c["lam"] for c in got.configs] == [1.0, 0.5]
    for i, c in [(1, got.configs[1])]:  # one CNN training.fit compile keeps the test short
        _, state, history = training.fit(cnn(c["seed"]), optax.sgd(c["lr"]),
                                      losses.get_loss("margin_loss", lam=c["lam"]), (x, y),
                                      epochs=2, batch_size=8, seed=c["seed"], progress=False)
        for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(got.state(i).params)):
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
        assert np.isnan(got.final(i)["test_accuracy"])
        for k in ("train_loss", "train_accuracy", "train_margin"):
            np.testing.assert_allclose(got.final(i)[k], history[-1][k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("configs, loss, message", [
    ([dict(lam=1.0), dict(lam=0.0), dict(lam=-1.0)], "margin_loss",
     r"configs\[2\].lam=-1.0 is not allowed: must be >= 0"),
    ([dict(seed=0), dict(clip=(1.0, 0.0))], "margin_loss",
     r"configs\[1\].clip=\(1.0, 0.0\) is not allowed: g_min must be <= g_max"),
    ([dict(lr=0.0)], "margin_loss", r"configs\[0\].lr=0.0 is not allowed: must be > 0"),
    ([dict(seed=0), dict(lr=1e-3, momentum=0.9)], "margin_loss",
     r"configs\[1\].momentum=0.9 is not allowed: the keys allowed with loss='margin_loss' are "
     r"seed, lr, clip, lam, base, floor"),
    ([dict(lam=1.0)], "cross_entropy",
     r"configs\[0\].lam=1.0 is not allowed: the keys allowed with loss='cross_entropy' are "
     r"seed, lr, clip$"),
    ([dict(base="mse"), dict(base="ce")], "margin_loss",
     r"configs\[1\].base='ce' is not allowed: must equal configs\[0\].base='mse'"),
    ([], "margin_loss", r"configs=.* is not allowed: must be a non-empty list of dicts"),
    ([dict(seed=-1)], "margin_loss", r"configs\[0\].seed=-1 is not allowed: must be >= 0"),
    ([dict()], "nope", r"loss='nope' is not allowed: must be one of 'cross_entropy'"),
])
def test_config_errors(data, configs, loss, message):
    with pytest.raises(ValueError, match=message):
        training.fit_many(mlp, configs, *data, loss=loss, epochs=1, batch_size=BATCH)


def test_structural_errors(data):
    def grows(seed):  # seed 1 gets a wider hidden layer: a different architecture
        return models.MLP(in_features=16, hidden=8 + seed, classes=3, rngs=nnx.Rngs(seed))

    with pytest.raises(ValueError, match=r"configs\[1\].seed=1 is not allowed: make_model\(1\) "
                                         r"builds a model whose structure differ"):
        training.fit_many(grows, [dict(seed=0), dict(seed=1)], *data, loss="cross_entropy",
                         epochs=1, batch_size=BATCH)
    with pytest.raises(ValueError, match=r"engine='fast' is not allowed: must be one of 'scan'"):
        training.fit_many(mlp, [dict()], *data, loss="cross_entropy", epochs=1,
                         batch_size=BATCH, engine="fast")
    with pytest.raises(ValueError, match=r"optimizer='lion' is not allowed"):
        training.fit_many(mlp, [dict()], *data, loss="cross_entropy", epochs=1,
                         batch_size=BATCH, optimizer="lion")
    with pytest.raises(ValueError, match=r"batch_size=101 is not allowed: must be <= the number"):
        training.fit_many(mlp, [dict()], *data, loss="cross_entropy", epochs=1, batch_size=101)
