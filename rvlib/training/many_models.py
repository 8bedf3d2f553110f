"""K models in one program: models that differ in seed, lr, λ or clip trained by one jitted step.

::

    configs = [dict(seed=s, lam=lam, lr=1e-3) for lam in (0, 1, 10) for s in (0, 1, 2)]
    fits = fit_many(lambda seed: models.MLP(64, 128, 10, rngs=nnx.Rngs(seed)), configs,
                    train, test, loss="margin_loss", epochs=10, batch_size=32)
    fits.final(4)["test_accuracy"], fits.model(4)

Model ``i`` is trained exactly as ``training.fit`` would train it alone::

    training.fit(make_model(seed), optax.adam(lr), losses.get_loss(loss, lam=lam, ...),
              train, test, epochs=..., batch_size=..., seed=seed, clip=clip)

(same initialisation, same per-epoch shuffling keys, same steps), up to float
summation order.  How: the K train states are stacked on a leading axis and
one ``jax.vmap``-ed step updates them all; ``lax.scan`` runs the steps of an
epoch inside one jitted call (one dispatch per epoch, no host sync per step).
On CPU, conv models use the ``"loop"`` engine instead (see :data:`ENGINES`
and :func:`_auto_engine`: XLA:CPU is slow at vmapped and in-loop conv
gradients), which still compiles one step for all K models.  What differs
between models is data, not program:

* ``lr`` lives in the optimiser state (``optax.inject_hyperparams``), so it
  is a per-model array;
* numeric loss hyperparameters (``lam``, ``floor``, ``margin``, ``gamma``,
  ``smoothing``, ``margin_weight``) are passed to the loss as traced values;
* ``clip=(lo, hi)`` bounds are traced too; ``None`` means ``(-inf, inf)``,
  which leaves kernels unchanged;
* ``seed`` picks the initialisation (``make_model(seed)``) and the data
  order: each model gathers its own batch from the shared training set.

Not covered (use ``training.fit``): EMA weights, mixup, data parallelism.
String hyperparameters (``base="mse"``) and the architecture must be the
same for all configs: they change the program, so they are rejected with a
message saying which config differs.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from rvlib import losses, validate
from rvlib.hardware.clip import bounds, clip_kernels
from rvlib.models import has_conv
from rvlib.training.batching import map_batches
from rvlib.training.loop import predict
from rvlib.training.state import (TrainState, check_fit_data, check_labels_fit,
                                  create_train_state, to_model)
from rvlib.training.steps import logit_metrics, make_train_step

__all__ = ["fit_many", "ManyFit", "OPTIMIZERS", "ENGINES", "stack", "unstack"]

OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "adam": optax.adam, "sgd": optax.sgd, "adamw": optax.adamw, "rmsprop": optax.rmsprop,
}
ENGINES = ("scan", "step", "loop")
"""How the K models are stepped; every engine gives the same numbers (to float order).

* ``"scan"``: vmap over models + ``lax.scan`` over an epoch's steps: one
  dispatch per epoch (the default; the fast path on GPU and for dense models);
* ``"step"``: vmap over models, one jitted call per step;
* ``"loop"``: one jitted single-model step (hyperparameters traced, so one
  compile) applied to each model in turn, one call per model and step.
"""
_BASE_KEYS = ("seed", "lr", "clip")
_DEFAULTS = dict(seed=0, lr=1e-3, clip=None)


@jax.jit
def _stack(trees):
    return jax.tree.map(lambda *a: jnp.stack(a), *trees)


@jax.jit
def _unstack(tree, i):
    return jax.tree.map(lambda a: a[i], tree)


def stack(trees: Sequence) -> Any:
    """Stack pytrees of equal structure: [tree(leaf[...])] -> tree(leaf[K, ...]).

    Jitted as a whole, so a state with many leaves costs one compile, not one per leaf.
    """
    return _stack(list(trees))


def unstack(tree, i: int) -> Any:
    """Model ``i`` of a stacked pytree: tree(leaf[K, ...]) -> tree(leaf[...])."""
    return _unstack(tree, i)


@dataclasses.dataclass
class ManyFit:
    """Result of :func:`fit_many`.

    ``configs``: the validated configs, defaults filled in; ``graphdef``: the
    shared model structure; ``states``: a :class:`rvlib.training.TrainState`
    whose leaves have a leading model axis ``K``; ``histories``: per model,
    one dict per epoch with the keys of ``training.fit``'s history; ``engine``:
    the :data:`ENGINES` entry that ran.
    """
    configs: list[dict]
    graphdef: nnx.GraphDef
    states: TrainState
    histories: list[list[dict]]
    engine: str = "scan"

    def _index(self, i: int) -> int:
        return validate.number("i", i, min=0, max=len(self.configs) - 1, integer=True)

    def state(self, i: int) -> TrainState:
        """Model ``i``'s own TrainState (usable with ``training.predict``/``to_model``)."""
        return unstack(self.states, self._index(i))

    def model(self, i: int) -> nnx.Module:
        """Model ``i`` as an ``nnx.Module``."""
        return to_model(self.graphdef, self.state(i))

    def final(self, i: int) -> dict:
        """The last epoch's history record of model ``i``."""
        return self.histories[self._index(i)][-1]


# ----------------------------------------------------------------------------- checks

def _check_configs(configs, loss: str) -> tuple[list[dict], list[str], list[str]]:
    """Validate and fill configs -> (configs, traced loss keys, static loss keys)."""
    if isinstance(configs, dict) or not isinstance(configs, Sequence) or not configs:
        validate.fail("configs", configs if isinstance(configs, (list, tuple))
                       else type(configs).__name__,
                       "must be a non-empty list of dicts (one per model)")
    loss_defaults = losses.hyperparameter_defaults(loss)
    allowed = _BASE_KEYS + tuple(loss_defaults)
    out = []
    for i, cfg in enumerate(configs):
        if not isinstance(cfg, dict):
            validate.fail(f"configs[{i}]", cfg, "must be a dict")
        for key, value in cfg.items():
            if key not in allowed:
                validate.fail(f"configs[{i}].{key}", value,
                               f"the keys allowed with loss={loss!r} are " + ", ".join(allowed))
        c = {**_DEFAULTS, **cfg}
        c["seed"] = validate.non_negative(f"configs[{i}].seed", c["seed"], integer=True)
        c["lr"] = validate.positive(f"configs[{i}].lr", c["lr"])
        c["clip"] = validate.clip_range(f"configs[{i}].clip", c["clip"])
        for key in loss_defaults:
            if key in cfg:
                c[key] = losses.check_hyperparameter(key, cfg[key], f"configs[{i}].{key}")
        out.append(c)
    used = [k for k in loss_defaults if any(k in cfg for cfg in configs)]
    for c in out:  # a key given in some configs takes the loss's default in the others
        for k in used:
            c.setdefault(k, loss_defaults[k])
    traced = [k for k in used if not isinstance(out[0][k], str)]
    static = [k for k in used if isinstance(out[0][k], str)]
    for i, c in enumerate(out):
        for k in static:
            if c[k] != out[0][k]:
                validate.fail(f"configs[{i}].{k}", c[k],
                               f"must equal configs[0].{k}={out[0][k]!r}: a string "
                               "hyperparameter changes the program (use separate fit_many calls)")
    return out, traced, static


def _signature(graphdef, state):
    leaves, treedef = jax.tree.flatten(state)
    return graphdef, treedef, tuple((a.shape, a.dtype) for a in leaves)


def _init(make_model, configs, tx_for):
    """Build each model, check they share one architecture, stack the train states."""
    graphdef, states, first = None, [], None
    for i, c in enumerate(configs):
        model = make_model(c["seed"])
        if not isinstance(model, nnx.Module):
            validate.fail(f"make_model({c['seed']})", type(model).__name__,
                           "must return an nnx.Module")
        g, state = create_train_state(model, tx_for(c["lr"]))
        sig = _signature(g, (state.params, state.rest))
        if first is None:
            graphdef, first = g, sig
        elif sig != first:
            what = "structure" if sig[:2] != first[:2] else "parameter shapes"
            validate.fail(f"configs[{i}].seed", c["seed"],
                           f"make_model({c['seed']}) builds a model whose {what} differ(s) from "
                           f"make_model({configs[0]['seed']}) for configs[0]; fit_many stacks "
                           "models of one architecture (train others in a separate call)")
        states.append(state)
    return graphdef, stack(states)


# ----------------------------------------------------------------------------- programs

def _loss_fn(loss: str, static: dict, hyper: dict):
    """The loss with static kwargs and traced per-model kwargs ``hyper`` ({name: f32[]})."""
    return functools.partial(losses.LOSSES[loss], **static, **hyper)


def _make_tx(optimizer: str, lr) -> optax.GradientTransformation:
    """``OPTIMIZERS[optimizer]`` with ``lr`` held in its state (a per-model array once stacked).

    ``inject_hyperparams`` reads numeric hyperparameters from the state at
    every update, so the ``lr`` given here only matters for ``init``.
    """
    return optax.inject_hyperparams(OPTIMIZERS[optimizer])(learning_rate=lr)


@functools.cache  # keyed on hashable statics only, so repeated fit_many calls reuse the compile
def _epoch_fn(graphdef, optimizer: str, loss: str, static_items: tuple, use_clip: bool,
              engine: str):
    """``epoch(states, x, y, order: i32[K, steps, b], hyper, lo, hi) -> (states, m)``.

    ``hyper``: {name: f32[K]}; ``lo, hi``: f32[K]; ``m``: {loss, accuracy,
    margin: f32[steps, K]} of the pre-update logits, as ``training.fit`` records.
    See :data:`ENGINES` for the three ways of running it.
    """
    static = dict(static_items)
    tx = _make_tx(optimizer, 1.0)

    def one_model(state, x, y, idx, hyper, lo, hi):  # idx: i32[b]
        # make_train_step is the very step training.fit jits; clip is applied
        # here because its bounds are traced (make_train_step checks Python floats).
        step = make_train_step(graphdef, tx, _loss_fn(loss, static, hyper))
        state, metrics = step(state, (x[idx], y[idx]), None)  # the key only drives mixup
        if use_clip:
            state = state.replace(params=clip_kernels(state.params, lo, hi))
        return state, metrics

    def all_models(states, x, y, idx, hyper, lo, hi):  # idx: i32[K, b], one batch per model
        return jax.vmap(one_model, in_axes=(0, None, None, 0, 0, 0, 0))(
            states, x, y, idx, hyper, lo, hi)

    if engine == "scan":
        def epoch(states, x, y, order, hyper, lo, hi):
            return jax.lax.scan(lambda st, idx: all_models(st, x, y, idx, hyper, lo, hi),
                                states, jnp.swapaxes(order, 0, 1))
        return jax.jit(epoch, donate_argnums=0)

    if engine == "step":
        step = jax.jit(all_models, donate_argnums=0)

        def epoch_by_step(states, x, y, order, hyper, lo, hi):
            metrics = []
            for i in range(order.shape[1]):
                states, m = step(states, x, y, order[:, i], hyper, lo, hi)
                metrics.append(m)
            return states, stack(metrics)
        return epoch_by_step

    step = jax.jit(one_model, donate_argnums=0)  # "loop": one compile serves every model

    def epoch_by_model(states, x, y, order, hyper, lo, hi):
        order = np.asarray(order)
        new_states, metrics = [], []
        for k in range(order.shape[0]):
            state, h, per_step = unstack(states, k), unstack(hyper, k), []
            for i in range(order.shape[1]):
                state, m = step(state, x, y, order[k, i], h, lo[k], hi[k])
                per_step.append(m)
            new_states.append(state)
            metrics.append(stack(per_step))
        return stack(new_states), jax.tree.map(lambda *a: jnp.stack(a, axis=1), *metrics)
    return epoch_by_model


def _auto_engine(graphdef) -> str:
    """``"scan"``, except ``"loop"`` for conv models on CPU.

    Measured with jax 0.10 on a 2-core CPU, XLA:CPU (a) runs the
    kernel-gradient convolution of a conv layer 30-50x slower inside a loop
    body than at top level (3x3 conv 32->64 channels, 8x8, batch 32: ~13 ms
    vs ~600 ms), which rules out the scan, and (b) runs a conv vmapped over
    models (a grouped convolution, and the vmapped max-pool gradient) about
    2x slower per model than the plain one, which makes ``"step"`` slower
    than training the models one after another.  ``"loop"`` keeps one
    compiled step for all models, which is what still saves time over
    sequential ``training.fit`` calls (each of which compiles its own step).
    """
    return "loop" if jax.default_backend() == "cpu" and has_conv(graphdef) else "scan"


@functools.partial(jax.jit, static_argnums=0)
def _forward_many(graphdef, params, rest, x):
    """Logits of every stacked model on the same ``x: f32[b, ...]`` -> f32[K, b, k]."""
    return jax.vmap(lambda p, r: nnx.merge(graphdef, p, r)(x))(params, rest)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _test_metrics(loss: str, static_items: tuple, logits, labels, hyper):
    """training.fit's whole-test-set metrics per model: {name: f32[K]}."""
    static = dict(static_items)
    return jax.vmap(lambda z, h: logit_metrics(_loss_fn(loss, static, h), z, labels))(
        logits, hyper)


def _predict_many(graphdef, states, x, batch_size: int, per_model: bool):
    """f32[K, n, k] test logits, ``batch_size`` rows at a time (padded: one compile).

    ``per_model``: one plain forward per model (``training.predict``) instead of
    one vmapped forward, for conv models on CPU (see :func:`_auto_engine`).
    """
    if per_model:
        k = jax.tree.leaves(states.params)[0].shape[0]
        return jnp.stack([predict(graphdef, unstack(states, i), x, batch_size=batch_size)
                          for i in range(k)])
    return map_batches(lambda b: _forward_many(graphdef, states.params, states.rest, b), x,
                       batch_size, axis=1)


# Integer-only (threefry hashes and a sort), so LLVM's optimisation passes cannot change the
# result but took most of the cost: ~9-15 s to compile at K=8 on a 2-core CPU vs ~2-3 s at level 0.
@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4),
                   compiler_options={"xla_backend_optimization_level": 0})
def _orders(seeds, n: int, epochs: int, n_batches: int, batch_size: int):
    """i32[epochs, K, n_batches, batch_size]: training.fit's shuffling, per model seed."""
    def one(seed):
        epoch_keys = jax.random.split(jax.random.key(seed), epochs)

        def perm(key):
            k_perm, _ = jax.random.split(key)  # the second half drives fit's mixup keys
            order = jax.random.permutation(k_perm, n)[: n_batches * batch_size]
            return order.reshape(n_batches, batch_size)

        return jax.vmap(perm)(epoch_keys)
    return jnp.swapaxes(jax.vmap(one)(seeds), 0, 1)


# ----------------------------------------------------------------------------- fit_many

def fit_many(make_model: Callable[[int], nnx.Module], configs: list[dict], train_data,
             test=None, *, loss: str, epochs: int, batch_size: int, optimizer: str = "adam",
             progress: bool = False, eval_batch_size: int = 1024,
             engine: str | None = None) -> ManyFit:
    """Train one model per config as a single vmapped, jitted program.

    make_model: ``seed -> nnx.Module`` (every config must give the same
    architecture); configs: dicts with keys among ``seed`` (init and
    shuffling, default 0), ``lr`` (default 1e-3), ``clip`` (``(lo, hi)`` or
    None) and the hyperparameters of ``loss`` (e.g. ``lam``; a key missing
    from some configs takes the loss's default); train_data / test:
    ``(x: f32[n, ...], y: i32[n])``.  ``optimizer``: a name in
    :data:`OPTIMIZERS`, built with ``learning_rate=lr``.

    Returns a :class:`ManyFit`; model ``i`` matches ``training.fit`` run on
    config ``i`` alone (see the module docstring).  Test metrics are computed
    every epoch on the raw weights, ``eval_batch_size`` test rows (for all K
    models at once) per call.  ``engine``: one of :data:`ENGINES`; None picks
    ``"scan"``, or ``"loop"`` for conv models on CPU (see :func:`_auto_engine`).
    """
    validate.choice("loss", loss, losses.LOSSES)
    validate.choice("optimizer", optimizer, OPTIMIZERS)
    if engine is not None:
        validate.choice("engine", engine, ENGINES)
    epochs = validate.positive("epochs", epochs, integer=True)
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    eval_batch_size = validate.positive("eval_batch_size", eval_batch_size, integer=True)
    configs, traced, static_keys = _check_configs(configs, loss)
    x, y, test = check_fit_data(train_data, test, batch_size)
    n = x.shape[0]

    graphdef, states = _init(make_model, configs, functools.partial(_make_tx, optimizer))
    check_labels_fit(graphdef, unstack(states, 0), x, y, test)

    k = len(configs)
    static_items = tuple((key, configs[0][key]) for key in static_keys)
    hyper = {key: jnp.asarray([c[key] for c in configs], jnp.float32) for key in traced}
    use_clip = any(c["clip"] is not None for c in configs)
    lo, hi = (jnp.asarray(b, jnp.float32) for b in zip(*(bounds(c["clip"]) for c in configs)))

    n_batches = n // batch_size
    orders = _orders(jnp.asarray([c["seed"] for c in configs], jnp.int32), n, epochs,
                     n_batches, batch_size)
    engine = _auto_engine(graphdef) if engine is None else engine
    epoch_fn = _epoch_fn(graphdef, optimizer, loss, static_items, use_clip, engine)
    histories: list[list[dict]] = [[] for _ in range(k)]
    nan = float("nan")
    for epoch in tqdm(range(epochs), desc="fit_many", disable=not progress):
        states, m = epoch_fn(states, x, y, orders[epoch], hyper, lo, hi)
        m = jax.device_get(m)
        test_m = {}
        if test is not None:
            logits = _predict_many(graphdef, states, test[0], eval_batch_size,
                                   per_model=engine == "loop")
            test_m = jax.device_get(_test_metrics(loss, static_items, logits, test[1], hyper))
        for i in range(k):
            # float32 means over steps, exactly as training.fit averages its step metrics
            t = {name: float(v[i]) for name, v in test_m.items()}
            histories[i].append(dict(
                epoch=epoch + 1, step=(epoch + 1) * n_batches,
                train_loss=float(np.mean(m["loss"][:, i])),
                train_accuracy=float(np.mean(m["accuracy"][:, i])),
                train_margin=float(np.mean(m["margin"][:, i])),
                test_loss=t.get("loss", nan), test_accuracy=t.get("accuracy", nan),
                test_margin=t.get("margin", nan), test_confidence=t.get("confidence", nan),
                test_snr_median=t.get("snr_median", nan), n_devices=1,
                global_batch=batch_size, per_device_batch=batch_size))
    return ManyFit(configs=configs, graphdef=graphdef, states=states, histories=histories,
                      engine=engine)
