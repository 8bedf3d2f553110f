"""The arrays of one training run (:class:`TrainState`) and the checks on what goes in.

The model is split once into a static ``graphdef`` and array pytrees; the
state carries the arrays, while the optimiser ``tx``, the loss and the options
live in the step's closure (``training.steps``).
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct

from rvlib import validate

__all__ = ["TrainState", "create_train_state", "to_model", "weights", "check_ema_decay",
           "check_data", "check_fit_data"]


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


def check_ema_decay(ema_decay) -> float | None:
    """``None`` (no EMA) or a decay in [0, 1)."""
    if ema_decay is None:
        return None
    d = validate.number("ema_decay", ema_decay)
    if not 0.0 <= d < 1.0:
        validate.fail("ema_decay", ema_decay, "must be None or in [0, 1)")
    return d


def check_data(name: str, data) -> tuple[jax.Array, jax.Array]:
    """``(x: f32[n, ...], y: i32[n])`` from a pair of arrays, checked before any compute."""
    try:
        x, y = data
    except (TypeError, ValueError):
        validate.fail(name, type(data).__name__, "must be a pair (x, y) of arrays")
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim != 1 or x.ndim < 2 or x.shape[0] != y.shape[0]:
        validate.fail(f"{name} shapes", f"x{x.shape}, y{y.shape}",
                      "need x: [n, ...] and y: [n] with the same n")
    if not np.issubdtype(y.dtype, np.integer):
        validate.fail(f"{name} labels dtype", str(y.dtype), "must be integer")
    return jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32)


def check_labels_fit(graphdef, state, x, y, test) -> None:
    """Training and test labels against the model's class count (its output width), before
    any step: an out-of-range label would give a NaN loss or count as the last class."""
    from rvlib.metrics import check_labels

    out = jax.eval_shape(lambda p, r, b: nnx.merge(graphdef, p, r)(b), state.params, state.rest,
                         jax.ShapeDtypeStruct((1, *x.shape[1:]), x.dtype))
    if len(out.shape) != 2:
        return                       # not a classifier's [batch, classes] output
    check_labels("train labels", y, out.shape[-1])
    if test is not None:
        check_labels("test labels", test[1], out.shape[-1])


def check_fit_data(train, test, batch_size: int):
    """``(x, y, test)`` for a fit: both pairs checked, ``batch_size <= n`` training examples."""
    x, y = check_data("train", train)
    if test is not None:
        test = check_data("test", test)
    if batch_size > x.shape[0]:
        validate.fail("batch_size", batch_size,
                      f"must be <= the number of training examples n={x.shape[0]}")
    return x, y, test


def create_train_state(model: nnx.Module, tx: optax.GradientTransformation, *,
                       ema_decay: float | None = None) -> tuple[nnx.GraphDef, TrainState]:
    """Split ``model`` once and initialise the optimiser (and EMA if ``ema_decay``)."""
    ema_decay = check_ema_decay(ema_decay)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    # Copies, so that donating the state to a jitted step never deletes the
    # arrays still held by the caller's model (or shared between params and ema).
    params = jax.tree.map(jnp.copy, params)
    rest = jax.tree.map(jnp.copy, rest)
    ema = None if ema_decay is None else jax.tree.map(jnp.copy, params)
    return graphdef, TrainState(params=params, rest=rest, opt_state=tx.init(params),
                                ema=ema, step=jnp.zeros((), jnp.int32))


def weights(state: TrainState, use_ema: bool = False):
    """The parameters to deploy: ``state.params``, or the EMA weights with ``use_ema``."""
    if not use_ema:
        return state.params
    if state.ema is None:
        validate.fail("use_ema", True, "the state has no EMA (create it with ema_decay set)")
    return state.ema


def to_model(graphdef: nnx.GraphDef, state: TrainState, use_ema: bool = False) -> nnx.Module:
    """Merge the state back into an ``nnx.Module`` (with the EMA weights if ``use_ema``)."""
    return nnx.merge(graphdef, weights(state, use_ema), state.rest)
