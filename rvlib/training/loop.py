"""The epoch loop: ``fit`` a model, ``predict`` logits, ``evaluate`` a whole test set.

``fit`` shuffles each epoch with its own key, runs the jitted pure step of
``training.steps`` (or, data-parallel, the same step jitted over a device mesh,
``training.sharded``, or its pmapped twin), and records
one history dict per epoch with whole-test-set metrics.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from rvlib import validate
from rvlib.training.batching import map_batches
from rvlib.training.parallel import check_divisible, pmap_train_step, replicate, shard_batch
from rvlib.training.parallel import unreplicate
from rvlib.training import sharded
from rvlib.training.checkpoint import open_checkpoints
from rvlib.training.state import (TrainState, check_data, check_fit_data, check_labels_fit,
                                  create_train_state, weights)
from rvlib.training.steps import LossFn, check_options, jit_train_step, logit_metrics

__all__ = ["predict", "predict_model", "evaluate", "fit"]


@functools.partial(jax.jit, static_argnums=0)
def _forward(graphdef, params, rest, x):
    return nnx.merge(graphdef, params, rest)(x)


def _predict(graphdef, params, rest, x, batch_size: int) -> jax.Array:
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    return map_batches(lambda b: _forward(graphdef, params, rest, b),
                       jnp.asarray(x, jnp.float32), batch_size)


def predict(graphdef: nnx.GraphDef, state: TrainState, x, *, batch_size: int = 1024,
            use_ema: bool = False) -> jax.Array:
    """Logits ``f32[n, k]`` for ``x: f32[n, ...]``, ``batch_size`` rows per jitted call."""
    return _predict(graphdef, weights(state, use_ema), state.rest, x, batch_size)


def predict_model(model: nnx.Module, x, *, batch_size: int = 1024) -> jax.Array:
    """:func:`predict` for an ``nnx.Module`` (left unchanged): logits ``f32[n, k]``."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    return _predict(graphdef, params, rest, x, batch_size)


@functools.partial(jax.jit, static_argnums=0)
def _logit_metrics(loss_fn, logits, labels):
    return logit_metrics(loss_fn, logits, labels)


def evaluate(graphdef: nnx.GraphDef, state: TrainState, data, loss_fn: LossFn, *,
             batch_size: int = 1024, use_ema: bool = False) -> dict[str, float]:
    """Whole-set metrics (``steps.logit_metrics``: exact medians, not batch averages).

    ``data = (x: f32[n, ...], y: i32[n])``.
    """
    x, y = check_data("data", data)
    logits = predict(graphdef, state, x, batch_size=batch_size, use_ema=use_ema)
    return {k: float(v) for k, v in jax.device_get(_logit_metrics(loss_fn, logits, y)).items()}


@jax.jit
def _take(x, y, idx):
    return x[idx], y[idx]


def _mean_metrics(metrics: list[dict]) -> dict[str, float]:
    stacked = jax.device_get(jax.tree.map(lambda *a: jnp.stack(a), *metrics))
    return {k: float(np.mean(v)) for k, v in stacked.items()}


def fit(model: nnx.Module, tx: optax.GradientTransformation, loss_fn: LossFn, train,
        test=None, *, epochs: int, batch_size: int, seed: int = 0,
        ema_decay: float | None = None, mixup_alpha: float = 0.0, clip=None,
        data_parallel: bool | str = False, progress: bool = True, checkpoint=None,
        **step_options):
    """Train ``model`` for ``epochs`` over ``train = (x: f32[n, ...], y: i32[n])``.

    Each epoch reshuffles with its own key (split from ``jax.random.key(seed)``)
    and drops the last ``n % batch_size`` examples so every step has one shape.
    With ``data_parallel`` and several devices, ``batch_size`` is the global
    batch, split evenly over the devices: ``True`` or ``"sharded"`` jits the
    step over a mesh of every device of every process (``training.sharded``;
    in a multi-process run each process holds the whole ``train`` and feeds
    its rows of each batch), ``"pmap"`` runs the pmapped step over the local
    devices; with one device the jitted step is used. ``model`` itself is left
    unchanged; the returned state lives on this process's default device.

    Returns ``(graphdef, state, history)``; ``history`` has one dict per epoch:
    epoch, step, train_loss, train_accuracy, train_margin, test_loss,
    test_accuracy, test_margin, test_confidence, test_snr_median (NaN without
    ``test``; evaluated on the raw weights), n_devices, global_batch,
    per_device_batch.

    ``checkpoint``: a folder or a ``training.checkpoint.Checkpoints``: the run
    saves there (Orbax) at each epoch end (and every ``every_steps``) and, when
    a checkpoint of the same configuration exists, continues from it to the
    same final parameters as an uninterrupted run, or skips training if it is
    finished (and says so).

    ``step_options`` go to ``steps.make_train_step`` unchanged (the step's
    further options, e.g. adversarial training or weight noise), which checks
    them before the first step runs.
    """
    epochs = validate.positive("epochs", epochs, integer=True)
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    seed = validate.non_negative("seed", seed, integer=True)
    check_options(ema_decay, mixup_alpha, clip)
    x, y, test = check_fit_data(train, test, batch_size)
    n = x.shape[0]
    mode = _data_parallel_mode(data_parallel)
    n_dev = {None: 1, "pmap": jax.local_device_count(), "sharded": jax.device_count()}[mode]
    parallel = n_dev > 1
    if parallel:
        check_divisible(batch_size, n_dev)

    options = dict(ema_decay=ema_decay, mixup_alpha=mixup_alpha, clip=clip, **step_options)
    graphdef, state = create_train_state(model, tx, ema_decay=ema_decay)
    check_labels_fit(graphdef, state, x, y, test)
    n_batches = n // batch_size
    data_key, done, history, partial = jax.random.key(seed), 0, [], []
    ckpt = open_checkpoints(checkpoint)
    if ckpt is not None:
        config = dict(epochs=epochs, batch_size=batch_size, seed=seed, n=n,
                      options={k: repr(v) for k, v in options.items()})
        resumed = ckpt.resume(state, config, data_key)
        if resumed is not None:
            state, _, meta = resumed
            done, history = meta["position"], meta["history"]
            partial = [{k: np.asarray(v, np.float32) for k, v in m.items()}
                       for m in meta["partial"]]
            print(f"fit: resumed from the checkpoint at step {done} in {ckpt.directory}"
                  + ("; training finished already, skipped" if done == epochs * n_batches
                     else ""))
    if parallel and mode == "sharded":
        mesh = sharded.data_mesh()
        step = sharded.sharded_train_step(graphdef, tx, loss_fn, mesh, **options)
        state = sharded.put_replicated(state, mesh)
    elif parallel:
        step, state = pmap_train_step(graphdef, tx, loss_fn, **options), replicate(state)
    else:
        step = jit_train_step(graphdef, tx, loss_fn, **options)

    epoch_keys = jax.random.split(data_key, epochs)
    nan = float("nan")
    with tqdm(total=epochs * n_batches, initial=done, desc="fit", disable=not progress) as bar:
        for epoch in range(done // n_batches, epochs):
            k_perm, k_steps = jax.random.split(epoch_keys[epoch])
            order = jax.random.permutation(k_perm, n)[: n_batches * batch_size]
            order = order.reshape(n_batches, batch_size)
            step_keys = jax.random.split(k_steps, n_batches)
            metrics, partial = partial, []
            for i in range(len(metrics), n_batches):
                batch, key = _take(x, y, order[i]), step_keys[i]
                if parallel and mode == "sharded":
                    batch, key = sharded.put_batch(batch, mesh), sharded.put_replicated(key, mesh)
                elif parallel:
                    batch, key = shard_batch(batch, n_dev), jax.random.split(key, n_dev)
                state, m = step(state, batch, key)
                metrics.append(m)
                bar.update(1)
                if (ckpt is not None and ckpt.every_steps and i + 1 < n_batches
                        and (epoch * n_batches + i + 1) % ckpt.every_steps == 0):
                    ckpt.save_position(epoch * n_batches + i + 1, _saved(state, mode), data_key,
                                       config=config, history=history, partial=metrics)
            train_m = _mean_metrics(metrics)
            test_m = dict(loss=nan, accuracy=nan, margin=nan, confidence=nan, snr_median=nan)
            if test is not None:
                test_m = evaluate(graphdef, _local(state, mode) if parallel else state, test,
                                  loss_fn)
            record = dict(epoch=epoch + 1, step=(epoch + 1) * n_batches,
                          train_loss=train_m["loss"], train_accuracy=train_m["accuracy"],
                          train_margin=train_m["margin"], test_loss=test_m["loss"],
                          test_accuracy=test_m["accuracy"], test_margin=test_m["margin"],
                          test_confidence=test_m["confidence"],
                          test_snr_median=test_m["snr_median"], n_devices=n_dev,
                          global_batch=batch_size, per_device_batch=batch_size // n_dev)
            history.append(record)
            if ckpt is not None:
                ckpt.save_position((epoch + 1) * n_batches, _saved(state, mode), data_key,
                                   config=config, history=history, partial=[], record=record)
            bar.set_postfix(loss=f"{record['train_loss']:.4f}",
                            acc=f"{record['train_accuracy']:.3f}",
                            test_acc=f"{record['test_accuracy']:.3f}")
    if parallel:
        state = _local(state, mode)
    return graphdef, state, history


def _data_parallel_mode(data_parallel) -> str | None:
    if data_parallel is False or data_parallel is None:
        return None
    if data_parallel is True:
        return "sharded"
    return validate.choice("data_parallel", data_parallel, ("sharded", "pmap"))


def _saved(state, mode):
    return unreplicate(state) if mode == "pmap" else state  # sharded: Orbax saves it as it is


def _local(state, mode):
    return sharded.to_local(state) if mode == "sharded" else unreplicate(state)
