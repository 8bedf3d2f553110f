"""Tests for rvlib.train: steps, EMA, clip, mixup, validation, fit, and pmap == jit."""
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rvlib import data, models, training
from rvlib.hardware.clip import kernel_weights
from rvlib.training.steps import mixup


def ce(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def mlp(seed=0):
    return models.MLP(in_features=16, hidden=8, classes=3, rngs=nnx.Rngs(seed))


def blobs(n=96, seed=0):
    """Three well separated Gaussian blobs in 16-d: x f32[n, 16], y i32[n]."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.normal(size=(3, 16))
    y = rng.integers(0, 3, n).astype(np.int32)
    x = (centres[y] + 0.5 * rng.normal(size=(n, 16))).astype(np.float32)
    return x, y


def leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def kernels(tree):
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(p): np.asarray(a) for p, a in flat if "kernel" in str(p)}


@pytest.fixture(scope="module")
def batch():
    x, y = blobs(24, seed=1)
    return jnp.asarray(x), jnp.asarray(y)


def test_one_step_lowers_loss_and_reports_pre_update_loss(batch):
    model = mlp()
    before = float(ce(model(batch[0]), batch[1]))
    tx = optax.sgd(0.5)
    graphdef, state = training.create_train_state(model, tx)
    state, metrics = training.jit_train_step(graphdef, tx, ce)(state, batch, jax.random.key(0))
    after = float(ce(training.to_model(graphdef, state)(batch[0]), batch[1]))
    np.testing.assert_allclose(float(metrics["loss"]), before, rtol=1e-6)
    assert after < before - 1e-3
    assert int(state.step) == 1
    # the caller's model is untouched (the state holds copies, so donation is safe)
    np.testing.assert_allclose(float(ce(model(batch[0]), batch[1])), before, rtol=1e-6)


def test_eval_metrics_match_numpy_reference(batch):
    model = mlp(3)
    graphdef, state = training.create_train_state(model, optax.sgd(0.1))
    # scale the output layer so the logits are far from uniform
    state = state.replace(params=jax.tree.map(lambda a: 50.0 * a, state.params))
    got = training.make_eval_step(graphdef, ce)(state, batch)
    z = np.asarray(training.to_model(graphdef, state)(batch[0]), np.float64)
    y = np.asarray(batch[1])
    rows = np.arange(len(y))
    others = z.copy()
    others[rows, y] = -np.inf
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p_others = p.copy()
    p_others[rows, y] = -np.inf
    want = dict(loss=-np.mean(np.log(p[rows, y])),
                accuracy=np.mean(z.argmax(1) == y),
                margin=np.mean(z[rows, y] - others.max(1)),
                confidence=np.mean(p.max(1)),
                snr_median=np.median(p[rows, y] / p_others.max(1)))
    for k, v in want.items():
        np.testing.assert_allclose(float(got[k]), v, rtol=1e-4, atol=1e-6, err_msg=k)
    # bare params work for a model without other state, and predict agrees in odd batches
    np.testing.assert_allclose(float(training.make_eval_step(graphdef, ce)(state.params, batch)["loss"]),
                               want["loss"], rtol=1e-4)
    np.testing.assert_allclose(training.predict(graphdef, state, batch[0], batch_size=5), z,
                               rtol=1e-5, atol=1e-5)


def test_ema_is_the_convex_combination_between_old_and_new_params(batch):
    tx, d = optax.sgd(0.5), 0.9
    graphdef, state = training.create_train_state(mlp(), tx, ema_decay=d)
    p0 = leaves(state.params)
    step = training.jit_train_step(graphdef, tx, ce, ema_decay=d)
    state, _ = step(state, batch, jax.random.key(0))
    p1, e1 = leaves(state.params), leaves(state.ema)
    assert any(not np.allclose(e, p) for e, p in zip(e1, p1))
    for a, b, e in zip(p0, p1, e1):
        np.testing.assert_allclose(e, d * a + (1 - d) * b, rtol=1e-5, atol=1e-7)
        assert np.all(e >= np.minimum(a, b) - 1e-7) and np.all(e <= np.maximum(a, b) + 1e-7)
    with pytest.raises(ValueError, match="use_ema=True is not allowed"):
        training.predict(*training.create_train_state(mlp(), tx), batch[0], use_ema=True)


def test_clip_keeps_kernels_within_bounds_and_leaves_biases_free(batch):
    tx, clip = optax.sgd(5.0), (0.0, 0.004)
    graphdef, state = training.create_train_state(mlp(), tx, ema_decay=0.5)
    assert min(k.min() for k in kernels(state.params).values()) < 0  # init violates the clip
    step = training.jit_train_step(graphdef, tx, ce, clip=clip, ema_decay=0.5)
    for i in range(2):
        state, _ = step(state, batch, jax.random.key(i))
    for tree in (state.params, state.ema):
        ks = kernels(tree)
        assert set(ks) == {"['hidden']['kernel'].value", "['out']['kernel'].value"}
        for k in ks.values():
            assert k.min() >= 0.0 and k.max() <= 0.004
    flat = np.concatenate([k.ravel() for k in kernels(state.params).values()])
    assert np.any(flat == 0.0) and np.any(flat == np.float32(0.004))  # the clip was active
    biases = np.concatenate([np.asarray(state.params["hidden"]["bias"][...]).ravel(),
                             np.asarray(state.params["out"]["bias"][...]).ravel()])
    assert np.any((biases < 0.0) | (biases > 0.004))


def test_mixup_alpha_zero_is_plain_training_and_alpha_positive_mixes(batch):
    tx = optax.sgd(0.5)

    def run(key, **options):
        graphdef, state = training.create_train_state(mlp(), tx)
        state, m = training.make_train_step(graphdef, tx, ce, **options)(state, batch, key)
        return graphdef, state, m

    _, plain, m_plain = run(jax.random.key(0))
    _, zero, m_zero = run(jax.random.key(7), mixup_alpha=0.0)
    for a, b in zip(leaves(plain.params), leaves(zero.params)):
        np.testing.assert_array_equal(a, b)
    assert float(m_plain["loss"]) == float(m_zero["loss"])

    key = jax.random.key(3)
    graphdef, mixed, m_mix = run(key, mixup_alpha=0.4)
    assert any(not np.allclose(a, b) for a, b in zip(leaves(plain.params), leaves(mixed.params)))
    # the reported loss is lam*CE(y_a) + (1-lam)*CE(y_b) on the mixed inputs
    xm, ya, yb, lam = mixup(key, *batch, 0.4)
    assert 0.0 <= float(lam) <= 1.0
    assert sorted(np.asarray(yb).tolist()) == sorted(np.asarray(batch[1]).tolist())
    z = mlp()(xm)
    want = float(lam) * float(ce(z, ya)) + (1 - float(lam)) * float(ce(z, yb))
    np.testing.assert_allclose(float(m_mix["loss"]), want, rtol=1e-5)


@pytest.mark.parametrize("options, match", [
    (dict(clip=(0.5, 0.1)), r"clip=\(0\.5, 0\.1\) is not allowed: g_min must be <= g_max"),
    (dict(mixup_alpha=-1), r"mixup_alpha=-1(\.0)? is not allowed: must be >= 0"),
    (dict(ema_decay=1.5), r"ema_decay=1\.5 is not allowed: must be None or in \[0, 1\)"),
    (dict(ema_decay=1.0), r"ema_decay=1\.0 is not allowed"),
])
def test_bad_options_raise_before_compute(options, match):
    graphdef = nnx.split(mlp())[0]
    with pytest.raises(ValueError, match=match):
        training.make_train_step(graphdef, optax.sgd(0.1), ce, **options)
    with pytest.raises(ValueError, match=match):
        training.fit(mlp(), optax.sgd(0.1), ce, blobs(8), epochs=1, batch_size=4,
                  progress=False, **options)


def test_shard_batch_splits_the_leading_axis_and_rejects_uneven_batches():
    x, y = jnp.arange(24.0).reshape(8, 3), jnp.arange(8)
    xs, ys = training.shard_batch((x, y), 4)
    assert xs.shape == (4, 2, 3) and ys.shape == (4, 2)
    np.testing.assert_array_equal(np.asarray(ys), [[0, 1], [2, 3], [4, 5], [6, 7]])
    with pytest.raises(ValueError, match=r"batch_size=10 is not allowed: must be divisible by "
                                         r"the device count n_devices=4"):
        training.shard_batch((jnp.zeros((10, 3)), jnp.zeros(10)), 4)
    with pytest.raises(ValueError, match=r"batch_size=64 is not allowed: must be <= .* n=8"):
        training.fit(mlp(), optax.sgd(0.1), ce, blobs(8), epochs=1, batch_size=64, progress=False)


def test_fit_history_and_decreasing_loss_on_separable_data():
    x, y = blobs(120)
    _, state, history = training.fit(mlp(), optax.adam(3e-2), ce, (x[:96], y[:96]),
                                  (x[96:], y[96:]), epochs=6, batch_size=16, progress=False)
    assert [h["epoch"] for h in history] == list(range(1, 7))
    assert {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
            "test_margin", "test_snr_median", "global_batch", "per_device_batch"} <= set(history[0])
    losses = [h["train_loss"] for h in history]
    assert losses[-1] < 0.5 * losses[0] and losses[1] < losses[0]
    assert history[-1]["test_accuracy"] == 1.0 and history[-1]["test_margin"] > 0
    assert history[-1]["test_snr_median"] > history[0]["test_snr_median"] > 0
    assert int(state.step) == 6 * (96 // 16) and history[0]["per_device_batch"] == 16


def test_fit_is_deterministic_given_the_seed():
    data = blobs(60)

    def run(seed):
        return training.fit(mlp(), optax.adam(1e-2), ce, data, data, epochs=2, batch_size=16,
                         seed=seed, ema_decay=0.9, mixup_alpha=0.2, progress=False)

    (_, s1, h1), (_, s2, h2), (_, s3, _) = run(0), run(0), run(1)
    assert h1 == h2
    for a, b in zip(leaves((s1.params, s1.ema)), leaves((s2.params, s2.ema))):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(leaves(s1.params), leaves(s3.params)))


PMAP_CHECK = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np, optax
    from flax import nnx
    from rvlib import models, training
    assert jax.local_device_count() == 4, jax.devices()
    ce = lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).mean()
    mlp = lambda: models.MLP(in_features=16, hidden=8, classes=3, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(16, 16)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 3, 16), jnp.int32)
    tx, opts = optax.adam(1e-2), dict(ema_decay=0.9, clip=(-0.02, 0.02))

    graphdef, s_jit = training.create_train_state(mlp(), tx, ema_decay=0.9)
    _, s_pmap = training.create_train_state(mlp(), tx, ema_decay=0.9)
    jit_step = training.jit_train_step(graphdef, tx, ce, **opts)
    pmap_step = training.pmap_train_step(graphdef, tx, ce, **opts)
    s_pmap, sharded = training.replicate(s_pmap), training.shard_batch((x, y), 4)
    keys = jax.random.split(jax.random.key(0), 3)
    for i in range(3):
        s_jit, m_jit = jit_step(s_jit, (x, y), keys[i])
        s_pmap, m_pmap = pmap_step(s_pmap, sharded, jax.random.split(keys[i], 4))
        np.testing.assert_allclose(np.asarray(m_pmap["loss"]), float(m_jit["loss"]), rtol=1e-5)
    s_pmap = training.unreplicate(s_pmap)
    tree = lambda s: jax.tree.leaves((s.params, s.ema, s.opt_state))
    for a, b in zip(tree(s_pmap), tree(s_jit)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert int(s_pmap.step) == 3
    print("STEP_MATCH", float(m_jit["loss"]))

    data = (np.asarray(jnp.tile(x, (3, 1))), np.asarray(jnp.tile(y, 3)))
    fits = [training.fit(mlp(), optax.adam(1e-2), ce, data, data, epochs=2, batch_size=16,
                      data_parallel=dp, progress=False) for dp in (True, False)]
    (_, s_dp, h_dp), (_, s_1, h_1) = fits
    assert (h_dp[0]["n_devices"], h_dp[0]["global_batch"], h_dp[0]["per_device_batch"]) == (4, 16, 4)
    assert (h_1[0]["n_devices"], h_1[0]["per_device_batch"]) == (1, 16)
    for a, b in zip(jax.tree.leaves(s_dp.params), jax.tree.leaves(s_1.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_dp[-1]["test_loss"], h_1[-1]["test_loss"], rtol=1e-5)
    try:
        training.fit(mlp(), tx, ce, data, epochs=1, batch_size=18, data_parallel=True, progress=False)
    except ValueError as e:
        assert "batch_size=18 is not allowed" in str(e) and "n_devices=4" in str(e), e
    else:
        raise AssertionError("uneven global batch accepted")
    print("FIT_MATCH")
""")


def test_pmap_step_on_four_cpu_devices_matches_the_jitted_step():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", PMAP_CHECK], env=env, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "STEP_MATCH" in out.stdout and "FIT_MATCH" in out.stdout, out.stdout


def test_train_classifier_learns_and_respects_clip():
    train, test = data.load_split("digits", size=8, limit=600, test_limit=200)
    assert train[0].shape == (600, 8, 8, 1) and test[1].shape == (200,)
    _, hist, m = training.train_classifier(train, test, model="mlp", epochs=3, lr=1e-2,
                                     clip=(0.0, 0.1))
    assert len(hist) == 3 and m["accuracy"] > 0.5               # chance is 0.1
    w = kernel_weights(_)
    assert w.min() >= 0.0 and w.max() <= 0.1 and m["w_frac_negative"] == 0.0
    with pytest.raises(ValueError, match="model='resnet' is not allowed"):
        training.train_classifier(train, test, model="resnet")
