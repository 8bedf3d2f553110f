"""Weight noise, the settings x draws grid, and noise-aware training (NumPy references)."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rvlib import hardware, losses, models, training
from rvlib.hardware.grid import WeightNoise, accuracy_one
from rvlib.hardware.weight_noise import perturb


def _mlp(seed=0):
    model = models.MLP(16, 24, 5, rngs=nnx.Rngs(seed), init_scale=0.5)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    return model, graphdef, params, rest


def _data(n=64, seed=0):
    kx, ky = jax.random.split(jax.random.key(seed))
    return jax.random.normal(kx, (n, 16)), jax.random.randint(ky, (n,), 0, 5)


def test_alpha_zero_leaves_outputs_bit_identical():
    model, graphdef, params, rest = _mlp()
    x, _ = _data()
    noisy = perturb(jax.random.key(1), params, 0.0)
    np.testing.assert_array_equal(np.asarray(nnx.merge(graphdef, noisy, rest)(x)),
                                  np.asarray(model(x)))


@pytest.mark.parametrize("mode, relative_to", [("additive", "std"), ("additive", "max"),
                                               ("multiplicative", "std")])
def test_noise_std_matches_alpha_sigma(mode, relative_to):
    _, _, params, _ = _mlp()
    alpha = 0.1
    draws = jax.vmap(lambda k: perturb(k, params, alpha, mode=mode, relative_to=relative_to))(
        jax.random.split(jax.random.key(2), 400))
    w0 = np.asarray(params["hidden"]["kernel"].value, np.float64)
    dw = np.asarray(draws["hidden"]["kernel"].value, np.float64) - w0  # [400, 16, 24]
    if mode == "multiplicative":
        ratio = np.std(dw / w0) / alpha
    else:
        sigma = np.std(w0) if relative_to == "std" else np.max(np.abs(w0))
        ratio = np.std(dw) / (alpha * sigma)
    assert abs(ratio - 1.0) < 0.02
    assert abs(np.mean(dw)) < 0.02 * np.std(dw)  # zero-mean noise
    # biases are not crossbar weights: untouched
    np.testing.assert_array_equal(np.asarray(draws["hidden"]["bias"].value[0]),
                                  np.asarray(params["hidden"]["bias"].value))


def test_each_layer_gets_its_own_draw_and_keys_decide():
    _, _, params, _ = _mlp()
    a = perturb(jax.random.key(0), params, 0.1)
    b = perturb(jax.random.key(0), params, 0.1)
    c = perturb(jax.random.key(1), params, 0.1)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert not np.allclose(np.asarray(a["out"]["kernel"].value), np.asarray(c["out"]["kernel"].value))


def test_grid_matches_a_loop_over_draws_and_is_deterministic():
    _, graphdef, params, rest = _mlp()
    x, y = _data(128)
    alphas = [0.0, 0.5, 2.0]
    key = jax.random.key(7)
    acc = hardware.weight_noise_grid(graphdef, params, rest, (x, y), alphas, draws=6, key=key,
                                     chunk=4)
    assert acc.shape == (3, 6)
    keys = jax.random.split(key, 6)
    loop = np.array([[float(accuracy_one(graphdef, WeightNoise(), params, rest, x, y,
                                         jnp.float32(a), k)) for k in keys] for a in alphas])
    np.testing.assert_allclose(acc, loop, atol=1.5 / len(y))
    clean = float(jnp.mean(jnp.argmax(nnx.merge(graphdef, params, rest)(x), -1) == y))
    np.testing.assert_array_equal(acc[0], np.full(6, clean, np.float32))
    assert acc[2].std() > 0  # draws differ
    again = hardware.weight_noise_grid(graphdef, params, rest, (x, y), alphas, draws=6, key=key,
                                       chunk=4)
    np.testing.assert_array_equal(acc, again)


def test_device_grid_ideal_device_is_the_clean_model():
    _, graphdef, params, rest = _mlp()
    x, y = _data(128)
    acc = hardware.device_grid(graphdef, params, rest, (x, y), "ideal", [0.0, 3600.0],
                               draws=3, key=jax.random.key(0))
    clean = float(jnp.mean(jnp.argmax(nnx.merge(graphdef, params, rest)(x), -1) == y))
    np.testing.assert_allclose(acc, clean, atol=1.5 / len(y))


def _fit(weight_noise, epochs=2):
    x, y = _data(256, seed=1)
    model = models.MLP(16, 24, 5, rngs=nnx.Rngs(0))
    return training.fit(model, optax.adam(1e-2), losses.get_loss("cross_entropy"), (x, y),
                        epochs=epochs, batch_size=32, seed=0, progress=False,
                        weight_noise=weight_noise)


def test_noise_aware_training_option():
    _, s0, _ = _fit(0.0)
    _, s1, h1 = _fit(0.2)
    _, s1b, _ = _fit(0.2)
    # a given seed is deterministic; the noise changes training; the loss still falls
    for a, b in zip(jax.tree.leaves(s1.params), jax.tree.leaves(s1b.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(s0.params["out"]["kernel"].value),
                           np.asarray(s1.params["out"]["kernel"].value))
    assert h1[-1]["train_loss"] < h1[0]["train_loss"]


@pytest.mark.parametrize("call, message", [
    (lambda: hardware.weight_noise_grid(None, {}, None, (np.zeros((2, 4)), np.zeros(2, int)),
                                        [0.0, -0.1], draws=2, key=jax.random.key(0)),
     r"alphas\[1\]=-0.1 is not allowed: must be >= 0"),
    (lambda: hardware.weight_noise_grid(None, {}, None, (np.zeros((2, 4)), np.zeros(2, int)),
                                        [0.1], draws=0, key=jax.random.key(0)),
     "draws=0 is not allowed: must be > 0"),
    (lambda: hardware.weight_noise_grid(None, {}, None, (np.zeros((2, 4)), np.zeros(2, int)),
                                        [0.1], draws=2, key=jax.random.key(0), mode="uniform"),
     "mode='uniform' is not allowed: must be one of 'additive', 'multiplicative'"),
    (lambda: _fit(-0.1, epochs=1), "weight_noise=-0.1 is not allowed: must be >= 0"),
])
def test_bad_noise_input_fails_before_compute(call, message):
    with pytest.raises(ValueError, match=message):
        call()
