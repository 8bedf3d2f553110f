"""Pure train and eval steps: ``step(state, batch, key) -> (state, metrics)``, jitted at the boundary.

::

    graphdef, state = create_train_state(model, optax.adam(1e-3), ema_decay=0.99)
    step = jit_train_step(graphdef, optax.adam(1e-3), loss_fn, ema_decay=0.99)
    state, metrics = step(state, (x, y), key)      # x: f32[b, ...], y: i32[b]

Options: EMA of the parameters, mixup, and ``clip=(g_min, g_max)``, the
paper's hardware constraint during gradient training (every ``kernel``
projected back into the range after each update, ``hardware.clip``).
``adversary=attacks.Adversary(eps=...)``: adversarial training, the batch
perturbed by the attack before the loss. ``weight_noise=alpha``: noise-aware
training (every kernel perturbed as ``W + alpha sigma_W N(0, 1)`` in the
forward pass, ``hardware.weight_noise``).
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from rvlib import validate
from rvlib.attacks import model_logits
from rvlib.attacks.adversary import check_adversary
from rvlib.hardware.clip import clip_kernels
from rvlib.hardware.weight_noise import perturb
from rvlib.metrics import logit_margin
from rvlib.training.state import TrainState, check_ema_decay

__all__ = ["LossFn", "AXIS", "check_options", "logit_metrics", "mixup", "make_train_step",
           "jit_train_step", "make_eval_step"]

LossFn = Callable[[jax.Array, jax.Array], jax.Array]  # (f32[b, k], i32[b]) -> f32[]
AXIS = "batch"  # the device axis name of data-parallel steps


def check_options(ema_decay, mixup_alpha, clip):
    """The step options, checked: ``(ema_decay | None, mixup_alpha >= 0, clip | None)``."""
    return (check_ema_decay(ema_decay),
            validate.non_negative("mixup_alpha", mixup_alpha),
            validate.clip_range("clip", clip))


def logit_metrics(loss_fn: LossFn, logits, labels) -> dict[str, jax.Array]:
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


def mixup(key, x, y, alpha: float):
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


def make_train_step(graphdef: nnx.GraphDef, tx: optax.GradientTransformation,
                    loss_fn: LossFn, *, ema_decay: float | None = None,
                    mixup_alpha: float = 0.0, clip=None, axis_name: str | None = None,
                    adversary=None, weight_noise: float = 0.0):
    """Build the pure ``step(state, batch, key) -> (state, metrics)``.

    ``batch = (x: f32[b, ...], y: i32[b])``; ``key`` drives mixup and weight noise.
    ``metrics``: loss (the objective actually minimised, mixup-weighted),
    accuracy and margin (mean of z_y - max_{j!=y} z_j) of the pre-update
    logits against ``y``. With ``axis_name`` the step must run under
    ``pmap``/``shard_map`` over that axis: gradients and metrics are averaged
    across it, so equal per-device batches reproduce the global-batch step.
    ``adversary`` (an ``attacks.Adversary``): ``key`` is first split into
    ``(key, k_adv)``; the batch is replaced by the attack's, made with
    ``k_adv`` on the pre-update weights in eval mode (``attacks.adversary``).

    ``weight_noise=alpha > 0``: the forward pass sees every kernel as
    ``W + alpha sigma_W N(0, 1)`` (sigma_W that kernel's std, a fresh draw
    per step from ``fold_in(key, 1)``, so mixup's key is untouched); the noise
    carries no gradient, so the gradient at the noisy weights updates the
    clean ones (aihwkit's weight-noise injection).
    """
    ema_decay, mixup_alpha, clip = check_options(ema_decay, mixup_alpha, clip)
    adversary = check_adversary(adversary)
    weight_noise = validate.non_negative("weight_noise", weight_noise)

    def objective(params, rest, x, y, key):
        if mixup_alpha > 0:
            x, y_a, y_b, lam = mixup(key, x, y, mixup_alpha)
        if weight_noise > 0:
            params = perturb(jax.random.fold_in(key, 1), params, weight_noise, stop_gradient=True)
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
        if adversary is not None:
            key, k_adv = jax.random.split(key)
            x = adversary.perturb(model_logits(graphdef, state.params, state.rest), x, y, k_adv)
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
            params = clip_kernels(params, *clip)
        ema = state.ema
        if ema_decay is not None:
            ema = jax.tree.map(lambda e, p: ema_decay * e + (1.0 - ema_decay) * p, ema, params)
            if clip is not None:  # the averaged weights are deployed too: keep them legal
                ema = clip_kernels(ema, *clip)
        return TrainState(params=params, rest=rest, opt_state=opt_state, ema=ema,
                          step=state.step + 1), metrics

    return step


def jit_train_step(graphdef, tx, loss_fn, **options):
    """``jax.jit`` of :func:`make_train_step`; the input state is donated (do not reuse it)."""
    return jax.jit(make_train_step(graphdef, tx, loss_fn, **options), donate_argnums=0)


def _split_state(state_or_params):
    if isinstance(state_or_params, TrainState):
        return state_or_params.params, state_or_params.rest
    if isinstance(state_or_params, tuple) and len(state_or_params) == 2:
        return state_or_params
    return state_or_params, None


def make_eval_step(graphdef: nnx.GraphDef, loss_fn: LossFn):
    """Jitted ``eval_step(state_or_params, batch) -> metrics`` (:func:`logit_metrics`).

    ``state_or_params``: a :class:`TrainState`, a ``(params, rest)`` pair, or
    bare params (models without other state); pass ``(state.ema, state.rest)``
    to evaluate the EMA weights.
    """
    @jax.jit
    def eval_step(state_or_params, batch):
        x, y = batch
        params, rest = _split_state(state_or_params)
        model = nnx.merge(graphdef, params) if rest is None else nnx.merge(graphdef, params, rest)
        return logit_metrics(loss_fn, model(x), y)

    return eval_step
