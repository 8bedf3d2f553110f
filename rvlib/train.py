"""Gradient training for NNX models: pure steps, EMA, mixup, weight clipping, pmap.

The model is split once into a static ``graphdef`` and array pytrees; a
:class:`TrainState` carries the arrays and everything else (the optimiser
``tx``, the loss, the options) lives in closures, so one step is a pure
function ``step(state, batch, key) -> (state, metrics)`` that ``jax.jit`` or
``jax.pmap`` can transform as is::

    graphdef, state = create_train_state(model, optax.adam(1e-3), ema_decay=0.99)
    step = jit_train_step(graphdef, optax.adam(1e-3), loss_fn, ema_decay=0.99)
    state, metrics = step(state, (x, y), key)      # x: f32[b, ...], y: i32[b]

``fit`` wraps this in an epoch loop with shuffling, evaluation and history.
The ``clip=(g_min, g_max)`` option is the paper's hardware constraint
(memristor conductances bounded to a range) applied during gradient training:
every ``kernel`` is projected back into the range after each update.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from rvlib import validate
from rvlib.metrics import logit_margin

LossFn = Callable[[jax.Array, jax.Array], jax.Array]  # (f32[b, k], i32[b]) -> f32[]
AXIS = "batch"  # the pmap axis name used by pmap_train_step


@struct.dataclass
class TrainState:
    """Arrays of one training run; ``graphdef`` and ``tx`` stay outside (static).

    ``params``: the ``nnx.Param`` state; ``rest``: all other model state (may
    be empty); ``opt_state``: the optimiser state; ``ema``: an exponential
    moving average of ``params`` or ``None``; ``step``: i32[] updates done.
    """
    params: Any
    rest: Any
    opt_state: Any
    ema: Any
    step: jax.Array


# ----------------------------------------------------------------------------- checks

def _check_ema_decay(ema_decay) -> float | None:
    if ema_decay is None:
        return None
    d = validate.number("ema_decay", ema_decay)
    if not 0.0 <= d < 1.0:
        raise ValueError(f"ema_decay={ema_decay!r} is not allowed: must be None or in [0, 1)")
    return d


def _check_options(ema_decay, mixup_alpha, clip):
    return (_check_ema_decay(ema_decay),
            validate.non_negative("mixup_alpha", mixup_alpha),
            validate.clip_range("clip", clip))


def _check_data(name: str, data):
    try:
        x, y = data
    except (TypeError, ValueError):
        raise ValueError(f"{name}={type(data).__name__} is not allowed: "
                         "must be a pair (x, y) of arrays") from None
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim != 1 or x.ndim < 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"{name} shapes x{x.shape}, y{y.shape} are not allowed: "
                         "need x: [n, ...] and y: [n] with the same n")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} labels dtype={y.dtype} is not allowed: must be integer")
    return jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32)


# ----------------------------------------------------------------------------- state

def create_train_state(model: nnx.Module, tx: optax.GradientTransformation, *,
                       ema_decay: float | None = None) -> tuple[nnx.GraphDef, TrainState]:
    """Split ``model`` once and initialise the optimiser (and EMA if ``ema_decay``)."""
    ema_decay = _check_ema_decay(ema_decay)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    # Copies, so that donating the state to a jitted step never deletes the
    # arrays still held by the caller's model (or shared between params and ema).
    params = jax.tree.map(jnp.copy, params)
    rest = jax.tree.map(jnp.copy, rest)
    ema = None if ema_decay is None else jax.tree.map(jnp.copy, params)
    return graphdef, TrainState(params=params, rest=rest, opt_state=tx.init(params),
                                ema=ema, step=jnp.zeros((), jnp.int32))


def to_model(graphdef: nnx.GraphDef, state: TrainState, use_ema: bool = False) -> nnx.Module:
    """Merge the state back into an ``nnx.Module`` (with the EMA weights if ``use_ema``)."""
    return nnx.merge(graphdef, _weights(state, use_ema), state.rest)


def _weights(state: TrainState, use_ema: bool):
    if not use_ema:
        return state.params
    if state.ema is None:
        raise ValueError("use_ema=True is not allowed: the state has no EMA "
                         "(create it with ema_decay set)")
    return state.ema


# ----------------------------------------------------------------------------- pieces

def _logit_metrics(loss_fn: LossFn, logits, labels) -> dict[str, jax.Array]:
    """Loss, accuracy, mean margin, mean confidence and median SNR of a batch of logits."""
    margin = logit_margin(logits, labels)
    return dict(
        loss=loss_fn(logits, labels),
        accuracy=jnp.mean(jnp.argmax(logits, -1) == labels),
        margin=jnp.mean(margin),
        confidence=jnp.mean(jnp.max(jax.nn.softmax(logits), -1)),
        # p_y / max_{j!=y} p_j: the softmax normaliser cancels, so it is exactly
        # exp(margin); computing it that way avoids 0/0 when probabilities underflow.
        snr_median=jnp.median(jnp.exp(margin)),
    )


def _is_kernel(path) -> bool:
    return any(getattr(k, "key", getattr(k, "name", None)) == "kernel" for k in path)


def _clip_kernels(tree, lo: float, hi: float):
    """Project every leaf under a ``kernel`` name into [lo, hi]; biases are left free."""
    return jax.tree_util.tree_map_with_path(
        lambda path, a: jnp.clip(a, lo, hi) if _is_kernel(path) else a, tree)


def _mixup(key, x, y, alpha: float):
    """Mix each example with a random partner: x' = lam*x + (1-lam)*x[perm], lam ~ Beta(a, a).

    Returns ``(x', y, y[perm], lam)``; one lam per batch, as in the mixup paper.
    """
    k_lam, k_perm = jax.random.split(key)
    lam = jax.random.beta(k_lam, alpha, alpha)
    perm = jax.random.permutation(k_perm, x.shape[0])
    return lam * x + (1.0 - lam) * x[perm], y, y[perm], lam


def _pmean_floats(tree, axis_name):
    # RNG keys and counters in the non-param state are identical on all devices
    # and cannot be averaged; only floating statistics (e.g. batch norm) are.
    return jax.tree.map(
        lambda a: jax.lax.pmean(a, axis_name) if jnp.issubdtype(a.dtype, jnp.floating) else a,
        tree)


# ----------------------------------------------------------------------------- steps

def make_train_step(graphdef: nnx.GraphDef, tx: optax.GradientTransformation,
                    loss_fn: LossFn, *, ema_decay: float | None = None,
                    mixup_alpha: float = 0.0, clip=None, axis_name: str | None = None):
    """Build the pure ``step(state, batch, key) -> (state, metrics)``.

    ``batch = (x: f32[b, ...], y: i32[b])``; ``key`` drives mixup only.
    ``metrics``: loss (the objective actually minimised, mixup-weighted),
    accuracy and margin (mean of z_y - max_{j!=y} z_j) of the pre-update
    logits against ``y``. With ``axis_name`` the step must run under
    ``pmap``/``shard_map`` over that axis: gradients and metrics are averaged
    across it, so equal per-device batches reproduce the global-batch step.
    """
    ema_decay, mixup_alpha, clip = _check_options(ema_decay, mixup_alpha, clip)

    def objective(params, rest, x, y, key):
        if mixup_alpha > 0:
            x, y_a, y_b, lam = _mixup(key, x, y, mixup_alpha)
        model = nnx.merge(graphdef, params, rest)
        logits = model(x)
        if mixup_alpha > 0:
            loss = lam * loss_fn(logits, y_a) + (1.0 - lam) * loss_fn(logits, y_b)
        else:
            loss = loss_fn(logits, y)
        _, _, new_rest = nnx.split(model, nnx.Param, ...)
        return loss, (logits, new_rest)

    def step(state: TrainState, batch, key):
        x, y = batch
        (loss, (logits, rest)), grads = jax.value_and_grad(objective, has_aux=True)(
            state.params, state.rest, x, y, key)
        metrics = dict(loss=loss, accuracy=jnp.mean(jnp.argmax(logits, -1) == y),
                       margin=jnp.mean(logit_margin(logits, y)))
        if axis_name is not None:
            grads = jax.lax.pmean(grads, axis_name)
            metrics = jax.lax.pmean(metrics, axis_name)
            rest = _pmean_floats(rest, axis_name)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        if clip is not None:
            params = _clip_kernels(params, *clip)
        ema = state.ema
        if ema_decay is not None:
            ema = jax.tree.map(lambda e, p: ema_decay * e + (1.0 - ema_decay) * p, ema, params)
            if clip is not None:  # the averaged weights are deployed too: keep them legal
                ema = _clip_kernels(ema, *clip)
        return TrainState(params=params, rest=rest, opt_state=opt_state, ema=ema,
                          step=state.step + 1), metrics

    return step


def jit_train_step(graphdef, tx, loss_fn, **options):
    """``jax.jit`` of :func:`make_train_step`; the input state is donated (do not reuse it)."""
    return jax.jit(make_train_step(graphdef, tx, loss_fn, **options), donate_argnums=0)


def pmap_train_step(graphdef, tx, loss_fn, **options):
    """Data-parallel step over local devices (axis name ``"batch"``).

    Call as ``step(replicate(state), shard_batch(batch, n), keys)`` with
    ``keys: key[n]`` (one per device); returns the replicated state and
    metrics with a leading device axis (identical rows, already averaged).
    """
    return jax.pmap(make_train_step(graphdef, tx, loss_fn, axis_name=AXIS, **options),
                    axis_name=AXIS, donate_argnums=0)


def replicate(tree, devices=None):
    """Copy every leaf to each local device: leaf[...] -> leaf[n_devices, ...]."""
    devices = jax.local_devices() if devices is None else list(devices)
    sharding = NamedSharding(Mesh(np.array(devices), (AXIS,)), PartitionSpec(AXIS))
    n = len(devices)
    return jax.tree.map(
        lambda a: jax.device_put(jnp.broadcast_to(a, (n,) + jnp.shape(a)), sharding), tree)


def unreplicate(tree):
    """Take device 0's copy: leaf[n_devices, ...] -> leaf[...]."""
    return jax.tree.map(lambda a: a[0], tree)


def shard_batch(batch, n_devices: int):
    """Split the leading axis over devices: leaf[b, ...] -> leaf[n_devices, b // n_devices, ...]."""
    n = validate.positive("n_devices", n_devices, integer=True)
    for leaf in jax.tree.leaves(batch):
        b = leaf.shape[0]
        if b % n:
            raise ValueError(f"batch_size={b} is not allowed: must be divisible by the "
                             f"device count n_devices={n} ({b} % {n} = {b % n})")
    return jax.tree.map(lambda a: a.reshape((n, a.shape[0] // n) + a.shape[1:]), batch)


# ----------------------------------------------------------------------------- evaluation

def _split_state(state_or_params):
    if isinstance(state_or_params, TrainState):
        return state_or_params.params, state_or_params.rest
    if isinstance(state_or_params, tuple) and len(state_or_params) == 2:
        return state_or_params
    return state_or_params, None


def _merge(graphdef, params, rest):
    return nnx.merge(graphdef, params) if rest is None else nnx.merge(graphdef, params, rest)


def make_eval_step(graphdef: nnx.GraphDef, loss_fn: LossFn):
    """Jitted ``eval_step(state_or_params, batch) -> metrics``.

    ``state_or_params``: a :class:`TrainState`, a ``(params, rest)`` pair, or
    bare params (models without other state); pass ``(state.ema, state.rest)``
    to evaluate the EMA weights. ``metrics``: loss, accuracy, margin (mean
    z_y - max_{j!=y} z_j), confidence (mean max softmax) and snr_median
    (median of p_y / max_{j!=y} p_j).
    """
    @jax.jit
    def eval_step(state_or_params, batch):
        x, y = batch
        logits = _merge(graphdef, *_split_state(state_or_params))(x)
        return _logit_metrics(loss_fn, logits, y)

    return eval_step


@functools.partial(jax.jit, static_argnums=0)
def _forward(graphdef, params, rest, x):
    return nnx.merge(graphdef, params, rest)(x)


def predict(graphdef: nnx.GraphDef, state: TrainState, x, *, batch_size: int = 1024,
            use_ema: bool = False) -> jax.Array:
    """Logits ``f32[n, k]`` for ``x: f32[n, ...]``, computed ``batch_size`` rows at a time."""
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    params = _weights(state, use_ema)
    x = jnp.asarray(x, jnp.float32)
    n = x.shape[0]
    bs = max(1, min(batch_size, n))
    # Pad to whole batches so every call has one shape (one compilation).
    n_pad = -n % bs
    xp = jnp.concatenate([x, jnp.zeros((n_pad,) + x.shape[1:], x.dtype)]) if n_pad else x
    out = [_forward(graphdef, params, state.rest, xp[i:i + bs]) for i in range(0, n + n_pad, bs)]
    return jnp.concatenate(out)[:n]


# ----------------------------------------------------------------------------- fit

@jax.jit
def _take(x, y, idx):
    return x[idx], y[idx]


@functools.partial(jax.jit, static_argnums=0)
def _eval_logits(loss_fn, logits, labels):
    return _logit_metrics(loss_fn, logits, labels)


def _mean_metrics(metrics: list[dict]) -> dict[str, float]:
    stacked = jax.device_get(jax.tree.map(lambda *a: jnp.stack(a), *metrics))
    return {k: float(np.mean(v)) for k, v in stacked.items()}


def fit(model: nnx.Module, tx: optax.GradientTransformation, loss_fn: LossFn, train,
        test=None, *, epochs: int, batch_size: int, seed: int = 0,
        ema_decay: float | None = None, mixup_alpha: float = 0.0, clip=None,
        data_parallel: bool = False, progress: bool = True):
    """Train ``model`` for ``epochs`` over ``train = (x: f32[n, ...], y: i32[n])``.

    Each epoch reshuffles with its own key (split from ``jax.random.key(seed)``)
    and drops the last ``n % batch_size`` examples so every step has one shape.
    With ``data_parallel`` and several local devices, ``batch_size`` is the
    global batch, split evenly over devices by a pmapped step; with one device
    the jitted step is used. ``model`` itself is left unchanged.

    Returns ``(graphdef, state, history)``; ``history`` has one dict per epoch:
    epoch, step, train_loss, train_accuracy, train_margin, test_loss,
    test_accuracy, test_margin, test_confidence, test_snr_median (NaN without
    ``test``; evaluated on the raw weights), n_devices, global_batch,
    per_device_batch.
    """
    epochs = validate.positive("epochs", epochs, integer=True)
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    seed = validate.non_negative("seed", seed, integer=True)
    _check_options(ema_decay, mixup_alpha, clip)
    x, y = _check_data("train", train)
    if test is not None:
        test = _check_data("test", test)
    n = x.shape[0]
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} is not allowed: must be <= the number "
                         f"of training examples n={n}")
    n_dev = jax.local_device_count() if data_parallel else 1
    parallel = n_dev > 1
    if parallel and batch_size % n_dev:
        raise ValueError(f"batch_size={batch_size} is not allowed: must be divisible by the "
                         f"device count n_devices={n_dev} ({batch_size} % {n_dev} = "
                         f"{batch_size % n_dev})")

    options = dict(ema_decay=ema_decay, mixup_alpha=mixup_alpha, clip=clip)
    graphdef, state = create_train_state(model, tx, ema_decay=ema_decay)
    if parallel:
        step, state = pmap_train_step(graphdef, tx, loss_fn, **options), replicate(state)
    else:
        step = jit_train_step(graphdef, tx, loss_fn, **options)

    n_batches = n // batch_size
    epoch_keys = jax.random.split(jax.random.key(seed), epochs)
    history = []
    nan = float("nan")
    with tqdm(total=epochs * n_batches, desc="fit", disable=not progress) as bar:
        for epoch in range(epochs):
            k_perm, k_steps = jax.random.split(epoch_keys[epoch])
            order = jax.random.permutation(k_perm, n)[: n_batches * batch_size]
            order = order.reshape(n_batches, batch_size)
            step_keys = jax.random.split(k_steps, n_batches)
            metrics = []
            for i in range(n_batches):
                batch, key = _take(x, y, order[i]), step_keys[i]
                if parallel:
                    batch, key = shard_batch(batch, n_dev), jax.random.split(key, n_dev)
                state, m = step(state, batch, key)
                metrics.append(m)
                bar.update(1)
            train_m = _mean_metrics(metrics)
            test_m = dict(loss=nan, accuracy=nan, margin=nan, confidence=nan, snr_median=nan)
            if test is not None:  # whole-set logits: exact medians, not batch averages
                host_state = unreplicate(state) if parallel else state
                logits = predict(graphdef, host_state, test[0])
                test_m = {k: float(v) for k, v in jax.device_get(
                    _eval_logits(loss_fn, logits, test[1])).items()}
            record = dict(epoch=epoch + 1, step=(epoch + 1) * n_batches,
                          train_loss=train_m["loss"], train_accuracy=train_m["accuracy"],
                          train_margin=train_m["margin"], test_loss=test_m["loss"],
                          test_accuracy=test_m["accuracy"], test_margin=test_m["margin"],
                          test_confidence=test_m["confidence"],
                          test_snr_median=test_m["snr_median"], n_devices=n_dev,
                          global_batch=batch_size, per_device_batch=batch_size // n_dev)
            history.append(record)
            bar.set_postfix(loss=f"{record['train_loss']:.4f}",
                            acc=f"{record['train_accuracy']:.3f}",
                            test_acc=f"{record['test_accuracy']:.3f}")
    if parallel:
        state = unreplicate(state)
    return graphdef, state, history
