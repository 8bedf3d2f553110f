"""training.checkpoint (Orbax): resume after SIGKILL to bitwise-identical parameters, skip a
finished run, keep the best epoch, round-trip typed RNG keys, refuse another configuration."""
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import optax
import pytest
from flax import nnx

from rvlib import models, training
from rvlib.training.checkpoint import Checkpoints, encode_keys

SETUP = textwrap.dedent("""
    import numpy as np, optax
    from flax import nnx
    from rvlib import models, training
    from rvlib.training.checkpoint import Checkpoints
    ce = lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).mean()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 16)).astype(np.float32)
    y = rng.integers(0, 3, 40).astype(np.int32)
    test = (x[:24], y[:24])
    mlp = lambda: models.MLP(in_features=16, hidden=8, classes=3, rngs=nnx.Rngs(0))
    # 5 steps an epoch, 15 in all; saves at 3, 5, 6, 9, 10, 12, 15
    kw = dict(epochs=3, batch_size=8, seed=1, ema_decay=0.9, mixup_alpha=0.2, progress=False)
""")
ns = {}
exec(SETUP, ns)

KILLED = SETUP + textwrap.dedent("""
    import os, signal, sys

    class KilledAfterStep6(Checkpoints):
        def save(self, step, *args, **kwargs):
            super().save(step, *args, **kwargs)
            if step == 6:  # mid-epoch 2, right after the checkpoint is complete
                os.kill(os.getpid(), signal.SIGKILL)

    training.fit(mlp(), optax.adam(1e-2), ce, (x, y), test,
                 checkpoint=KilledAfterStep6(sys.argv[1], every_steps=3), **kw)
    print("NOT KILLED")
""")


def fit(**more):
    return training.fit(ns["mlp"](), optax.adam(1e-2), ns["ce"], (ns["x"], ns["y"]), ns["test"],
                        **ns["kw"], **more)


def assert_same_bits(s, t):
    la, lb = jax.tree.leaves(s), jax.tree.leaves(t)
    assert len(la) == len(lb)
    for a, b in zip(la, lb):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_resume_after_sigkill_gives_the_bits_of_an_uninterrupted_run(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    p = subprocess.run([sys.executable, "-c", KILLED, str(folder)], capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert p.returncode == -9, (p.returncode, p.stderr[-2000:])
    assert "NOT KILLED" not in p.stdout
    assert Checkpoints(folder).latest_step() == 6

    _, straight, h_straight = fit()
    _, resumed, h_resumed = fit(checkpoint=Checkpoints(folder, every_steps=3))
    assert "resumed from the checkpoint at step 6" in capsys.readouterr().out
    assert_same_bits(straight, resumed)
    assert h_resumed == h_straight and len(h_resumed) == 3

    _, again, h_again = fit(checkpoint=folder)      # finished: restored, not trained
    assert "step 15" in capsys.readouterr().out.split("resumed")[-1]
    assert_same_bits(straight, again)
    assert h_again == h_straight


def test_best_checkpoint_is_the_epoch_with_the_lowest_test_loss(tmp_path):
    ckpt = Checkpoints(tmp_path / "c", best_metric="test_loss", best_mode="min")
    graphdef, last, hist = fit(checkpoint=ckpt)
    losses = [h["test_loss"] for h in hist]
    best_epoch = int(np.argmin(losses)) + 1
    assert ckpt.best_step() == best_epoch * 5
    best, key, meta = ckpt.restore_best(last)
    assert meta["history"][-1]["epoch"] == best_epoch
    # an independent check of the restored weights: they reproduce that epoch's test loss
    got = training.evaluate(graphdef, best, ns["test"], ns["ce"])["loss"]
    np.testing.assert_allclose(got, min(losses), rtol=1e-6)
    np.testing.assert_array_equal(jax.random.key_data(key),
                                  jax.random.key_data(jax.random.key(1)))


def test_typed_rng_keys_round_trip(tmp_path):
    class Noisy(nnx.Module):
        def __init__(self, rngs):
            self.lin = nnx.Linear(4, 2, rngs=rngs)
            self.drop = nnx.Dropout(0.5, rngs=rngs)

        def __call__(self, x):
            return self.drop(self.lin(x))

    _, state = training.create_train_state(Noisy(nnx.Rngs(0, dropout=7)), optax.sgd(0.1))
    keys = [a for a in jax.tree.leaves(state.rest) if jax.dtypes.issubdtype(
        a.dtype, jax.dtypes.prng_key)]
    assert keys, "the fixture must hold a typed key"
    assert not any(jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)
                   for a in jax.tree.leaves(encode_keys(state)))
    ckpt = Checkpoints(tmp_path / "k")
    ckpt.save(0, state, jax.random.key(3), {"note": "keys"})
    _, fresh = training.create_train_state(Noisy(nnx.Rngs(1, dropout=1)), optax.sgd(0.1))
    restored, key, meta = ckpt.restore(fresh)
    assert meta == {"note": "keys"}
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(state)):
        assert a.dtype == b.dtype
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(jax.random.key_data(key), jax.random.key_data(jax.random.key(3)))


def test_another_configuration_is_refused(tmp_path):
    fit(checkpoint=tmp_path / "c")
    with pytest.raises(ValueError, match=r"was written by a run with another configuration "
                                         r"\(seed: 1 -> 2\)"):
        training.fit(ns["mlp"](), optax.adam(1e-2), ns["ce"], (ns["x"], ns["y"]),
                     checkpoint=tmp_path / "c", **{**ns["kw"], "seed": 2})


@pytest.mark.parametrize("kwargs, match", [
    (dict(best_mode="median"), r"best_mode='median' is not allowed: must be one of 'max', 'min'"),
    (dict(keep=0), r"keep=0 is not allowed"),
    (dict(every_steps=-1), r"every_steps=-1 is not allowed"),
])
def test_bad_options(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Checkpoints(tmp_path / "x", **kwargs)


def test_a_rerun_with_a_finished_checkpoint_skips_training_and_gives_identical_results(
        tmp_path, capsys):
    """What notebook 01 does with ``run.checkpoint_dir("cnn")``: the second call trains nothing."""
    from rvlib import data

    train, test = data.train_test_split(*data.load_digits(), test_fraction=0.2, seed=0)
    kw = dict(model="mlp", epochs=2, batch_size=64, seed=0, checkpoint=tmp_path / "ckpt")
    _, hist1, m1 = training.train_classifier(train, test, **kw)
    assert "skipped" not in capsys.readouterr().out
    _, hist2, m2 = training.train_classifier(train, test, **kw)
    assert "training finished already, skipped" in capsys.readouterr().out
    assert hist1 == hist2 and m1 == m2
