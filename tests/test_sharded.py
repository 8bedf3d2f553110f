"""training.sharded: the step jitted over a device mesh equals the one-device step, in one
process with 4 virtual CPU devices and across 2 processes x 2 devices (gloo collectives).

Device counts are fixed when JAX starts, so each check runs in its own Python process.
The reference is the plain jitted one-device step on the same global batch; the sharded
step may sum the batch in another order, hence the float tolerance (rtol 1e-5, atol 1e-6).
"""
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import optax
import pytest
from flax import nnx

from rvlib import models, training
from rvlib.training import sharded

COMMON = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np, optax
    from flax import nnx
    from rvlib import models, training
    from rvlib.training import sharded
    ce = lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).mean()
    mlp = lambda: models.MLP(in_features=16, hidden=8, classes=3, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 16)).astype(np.float32)
    y = rng.integers(0, 3, 48).astype(np.int32)
""")

ONE_PROCESS = COMMON + textwrap.dedent("""
    assert jax.device_count() == 4, jax.devices()
    tx, opts = optax.adam(1e-2), dict(ema_decay=0.9, mixup_alpha=0.4, clip=(-0.05, 0.05))
    graphdef, s_jit = training.create_train_state(mlp(), tx, ema_decay=0.9)
    _, s_sh = training.create_train_state(mlp(), tx, ema_decay=0.9)
    jit_step = training.jit_train_step(graphdef, tx, ce, **opts)
    mesh = sharded.data_mesh()
    step = sharded.sharded_train_step(graphdef, tx, ce, mesh, **opts)
    s_sh = sharded.put_replicated(s_sh, mesh)
    keys = jax.random.split(jax.random.key(0), 3)
    for i in range(3):
        batch = (x[16 * i:16 * (i + 1)], y[16 * i:16 * (i + 1)])
        s_jit, m_jit = jit_step(s_jit, batch, keys[i])
        s_sh, m_sh = step(s_sh, sharded.put_batch(batch, mesh), sharded.put_replicated(keys[i], mesh))
        assert m_sh["loss"].sharding.is_fully_replicated
        np.testing.assert_allclose(float(m_sh["loss"]), float(m_jit["loss"]), rtol=1e-5)
    leaf = jax.tree.leaves(s_sh.params)[0]
    assert leaf.sharding.is_fully_replicated and len(leaf.sharding.device_set) == 4
    tree = lambda s: jax.tree.leaves((s.params, s.ema, s.opt_state))
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(tree(s_sh), tree(s_jit)))
    for a, b in zip(tree(s_sh), tree(s_jit)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert int(s_sh.step) == 3
    print("STEP_MATCH max_abs_diff", diff)

    fits = {dp: training.fit(mlp(), optax.adam(1e-2), ce, (x, y), (x, y), epochs=2,
                             batch_size=16, data_parallel=dp, progress=False)
            for dp in (True, "pmap", False)}
    for dp in (True, "pmap"):
        (_, s_dp, h_dp), (_, s_1, h_1) = fits[dp], fits[False]
        assert (h_dp[0]["n_devices"], h_dp[0]["per_device_batch"]) == (4, 4)
        for a, b in zip(jax.tree.leaves(s_dp.params), jax.tree.leaves(s_1.params)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h_dp[-1]["test_loss"], h_1[-1]["test_loss"], rtol=1e-5)
    print("FIT_MATCH")

    # a sharded run's checkpoint (state replicated over 4 devices) restores to the same bits
    import tempfile
    for dp in (True, "pmap"):
        folder = tempfile.mkdtemp()
        runs = [training.fit(mlp(), optax.adam(1e-2), ce, (x, y), epochs=1, batch_size=16,
                             data_parallel=dp, progress=False, checkpoint=folder)
                for _ in range(2)]
        for a, b in zip(jax.tree.leaves(runs[0][1]), jax.tree.leaves(runs[1][1])):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    print("CHECKPOINT_MATCH")
""")

# One of two processes (id from JAX_PROCESS_ID), 2 CPU devices each: fit over the 4-device
# mesh; process 0 saves the final parameters for the test to compare.
MULTI_PROCESS = COMMON + textwrap.dedent("""
    import sys
    assert sharded.initialize()
    assert (jax.process_count(), jax.device_count(), jax.local_device_count()) == (2, 4, 2)
    _, state, hist = training.fit(mlp(), optax.adam(1e-2), ce, (x, y), (x, y), epochs=2,
                                  batch_size=16, seed=3, ema_decay=0.9, data_parallel=True,
                                  progress=False)
    assert hist[0]["n_devices"] == 4
    if jax.process_index() == 0:
        flat = {f"p{i}": np.asarray(a) for i, a in
                enumerate(jax.tree.leaves((state.params, state.ema)))}
        np.savez(sys.argv[1], test_loss=hist[-1]["test_loss"], **flat)
    print("PROCESS_DONE", jax.process_index())
""")


def _run(code, env, *args):
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _env(devices, **extra):
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    for k in sharded.ENV:
        env.pop(k, None)
    env.update(extra)
    return env


def test_sharded_step_on_four_cpu_devices_matches_the_one_device_step():
    p = _run(ONE_PROCESS, _env(4))
    out, err = p.communicate(timeout=180)
    assert p.returncode == 0, err[-3000:]
    assert "STEP_MATCH" in out and "FIT_MATCH" in out and "CHECKPOINT_MATCH" in out, out
    assert "training finished already, skipped" in out, out


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_with_gloo_match_the_one_process_fit(tmp_path):
    out_file = tmp_path / "params.npz"
    coord = f"127.0.0.1:{_free_port()}"
    procs = [_run(MULTI_PROCESS, _env(2, JAX_COORDINATOR_ADDRESS=coord, JAX_NUM_PROCESSES="2",
                                      JAX_PROCESS_ID=str(i)), str(out_file)) for i in range(2)]
    results = []
    try:
        for p in procs:
            results.append(p.communicate(timeout=180))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
        assert "PROCESS_DONE" in out, out

    # the reference: this (one-device) process, the plain jitted step, same data and seed
    ce = lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).mean()  # noqa: E731
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 16)).astype(np.float32)
    y = rng.integers(0, 3, 48).astype(np.int32)
    model = models.MLP(in_features=16, hidden=8, classes=3, rngs=nnx.Rngs(0))
    _, state, hist = training.fit(model, optax.adam(1e-2), ce, (x, y), (x, y), epochs=2,
                                  batch_size=16, seed=3, ema_decay=0.9, progress=False)
    assert hist[0]["n_devices"] == 1
    got = np.load(out_file)
    want = jax.tree.leaves((state.params, state.ema))
    assert len(got.files) == len(want) + 1
    for i, b in enumerate(want):
        np.testing.assert_allclose(got[f"p{i}"], np.asarray(b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(got["test_loss"]), hist[-1]["test_loss"], rtol=1e-5)


@pytest.mark.parametrize("bad, match", [
    ("ddp", r"data_parallel='ddp' is not allowed: must be one of 'sharded', 'pmap'"),
    (2, r"data_parallel=2 is not allowed"),
])
def test_bad_data_parallel_is_rejected(bad, match):
    ce = lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).mean()  # noqa: E731
    x, y = np.zeros((8, 4), np.float32), np.zeros(8, np.int32)
    model = models.MLP(in_features=4, hidden=2, classes=2, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=match):
        training.fit(model, optax.sgd(0.1), ce, (x, y), epochs=1, batch_size=4,
                     data_parallel=bad, progress=False)


def test_initialize_is_a_no_op_for_one_process(monkeypatch):
    for k in sharded.ENV:
        monkeypatch.delenv(k, raising=False)
    assert sharded.initialize() is False
    assert sharded.initialize(num_processes=1) is False
    with pytest.raises(ValueError, match=r"num_processes=0 is not allowed"):
        sharded.initialize(num_processes=0)
