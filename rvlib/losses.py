"""Classification losses: the paper's MSE + log-margin term and the framework's promised set.

Every loss maps ``logits: f32[b, k]`` and ``labels: i32[b]`` to a scalar
(mean over the batch), is jittable and differentiable.  Hyperparameters are
plain Python numbers; ``get_loss(name, **kwargs)`` checks them before anything
is computed and returns ``loss(logits, labels) -> f32[]``.

All losses go through ``log_softmax`` or ``where``-masked maxima, so they stay
finite (and their gradients finite) for logits up to about ±1e30.  The MSE
family is the exception by nature: its true value ``(out - 1)^2`` exceeds the
float32 range once ``|out|`` passes ~1.8e19, where it is ``inf`` (not NaN)
while its gradient stays finite.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import jax
import jax.numpy as jnp

from rvlib import validate
from rvlib.metrics import check_outputs, logit_margin

__all__ = [
    "cross_entropy", "label_smoothing_cross_entropy", "mse", "hinge_margin",
    "log_margin_penalty", "margin_loss", "focal", "combined", "LOSSES", "HYPERPARAMETERS",
    "get_loss", "hyperparameter_defaults", "check_hyperparameter",
]

Loss = Callable[[jax.Array, jax.Array], jax.Array]


# --------------------------------------------------------------- hyperparameter checks


def _smoothing(name, value):
    value = validate.number(name, value, min=0.0)
    if value >= 1.0:
        validate.fail(name, value, "must be in [0, 1)")
    return value


_CHECKS = {
    "lam": validate.non_negative,
    "smoothing": _smoothing,
    "gamma": validate.non_negative,
    "floor": validate.positive,
    "margin": validate.non_negative,
    "margin_weight": validate.non_negative,
    "base": lambda name, value: validate.choice(name, value, ("mse", "ce")),
}


def _checked(**params):
    """Validate and coerce hyperparameters given as Python values.

    Arrays (e.g. a traced ``lam`` under jit) are passed through unchecked:
    their value is unknown until run time.
    """
    out = []
    for name, value in params.items():
        if isinstance(value, jax.Array):
            out.append(value)
        else:
            out.append(_CHECKS[name](name, value))
    return out[0] if len(out) == 1 else out


def _log_p_true(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """``log softmax(z)_y``: f32[b, k], i32[b] -> f32[b]."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return jnp.take_along_axis(logp, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]


# ----------------------------------------------------------------------------- losses


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean ``-log softmax(z)_y``. logits: f32[b, k], labels: i32[b] -> f32[]."""
    check_outputs("logits", logits, labels, min_classes=1)
    return -jnp.mean(_log_p_true(logits, labels))


def label_smoothing_cross_entropy(logits: jax.Array, labels: jax.Array,
                                  smoothing: float = 0.1) -> jax.Array:
    """Cross-entropy against ``(1 - s) * onehot + s / k``. -> f32[].

    Written as ``(1 - s) * CE + s * mean_k(-log p_k)`` so the zero entries of
    the one-hot target never multiply a ``-log p`` that may be huge; ``s = 0``
    returns ``cross_entropy`` exactly.
    """
    smoothing = _checked(smoothing=smoothing)
    if isinstance(smoothing, float) and smoothing == 0.0:
        return cross_entropy(logits, labels)
    check_outputs("logits", logits, labels, min_classes=1)
    logp = jax.nn.log_softmax(logits, axis=-1)
    true_term = -jnp.take_along_axis(logp, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]
    uniform_term = -jnp.mean(logp, axis=-1)
    return jnp.mean((1.0 - smoothing) * true_term + smoothing * uniform_term)


def mse(outputs: jax.Array, labels: jax.Array) -> jax.Array:
    """The paper's ``sum_k (out_k - onehot_k)^2``, mean over the batch. -> f32[]."""
    check_outputs("outputs", outputs, labels, min_classes=1)
    target = jax.nn.one_hot(labels, outputs.shape[-1], dtype=outputs.dtype)
    return jnp.mean(jnp.sum(jnp.square(outputs - target), axis=-1))


def hinge_margin(logits: jax.Array, labels: jax.Array, margin: float = 1.0) -> jax.Array:
    """Mean ``max(0, margin - (z_y - max_{j != y} z_j))``. -> f32[]."""
    margin = _checked(margin=margin)
    return jnp.mean(jax.nn.relu(margin - logit_margin(logits, labels)))


def log_margin_penalty(logits: jax.Array, labels: jax.Array, floor: float = 0.1) -> jax.Array:
    """The paper's term: mean ``-log(max(z_y - max_{j != y} z_j, floor))``. -> f32[].

    The floor keeps the log finite for any margin, negative ones included.
    As in the paper's ``max()``, the gradient is 0 for margins below the
    floor: the term only pushes margins that are already positive.
    """
    floor = _checked(floor=floor)
    return -jnp.mean(jnp.log(jnp.maximum(logit_margin(logits, labels), floor)))


def margin_loss(logits: jax.Array, labels: jax.Array, lam: float = 1.0,
                base: str = "mse", floor: float = 0.1) -> jax.Array:
    """``base + lam * log_margin_penalty`` (paper: base = MSE, lam in {0, 1, 10}). -> f32[].

    ``base="ce"`` uses cross-entropy instead.  ``lam = 0`` returns the base
    loss bit for bit (the penalty is not even computed).
    """
    lam, base, floor = _checked(lam=lam, base=base, floor=floor)
    base_value = mse(logits, labels) if base == "mse" else cross_entropy(logits, labels)
    if isinstance(lam, float) and lam == 0.0:
        return base_value
    return base_value + lam * log_margin_penalty(logits, labels, floor=floor)


def focal(logits: jax.Array, labels: jax.Array, gamma: float = 2.0) -> jax.Array:
    """Focal loss, mean ``-(1 - p_y)^gamma log p_y``. -> f32[].

    ``1 - p_y`` is computed in log space as ``logsumexp_{j != y} z_j -
    logsumexp_j z_j``: exact when ``p_y`` rounds to 1, and the power has a
    finite gradient there for any ``gamma >= 0`` (``gamma = 0`` is
    cross-entropy).
    """
    gamma = _checked(gamma=gamma)
    check_outputs("logits", logits, labels)
    is_true = jax.nn.one_hot(labels, logits.shape[-1], dtype=bool)
    log_rest = jax.nn.logsumexp(jnp.where(is_true, -jnp.inf, logits), axis=-1)
    log_one_minus_p = log_rest - jax.nn.logsumexp(logits, axis=-1)
    weight = jnp.exp(gamma * log_one_minus_p)
    return -jnp.mean(weight * _log_p_true(logits, labels))


def combined(logits: jax.Array, labels: jax.Array, margin_weight: float = 0.5,
             margin: float = 1.0, smoothing: float = 0.0) -> jax.Array:
    """Label-smoothed cross-entropy + ``margin_weight * hinge_margin``. -> f32[]."""
    margin_weight, margin, smoothing = _checked(
        margin_weight=margin_weight, margin=margin, smoothing=smoothing)
    return (label_smoothing_cross_entropy(logits, labels, smoothing=smoothing)
            + margin_weight * hinge_margin(logits, labels, margin=margin))


LOSSES: dict[str, Callable[..., jax.Array]] = {
    "cross_entropy": cross_entropy,
    "label_smoothing_cross_entropy": label_smoothing_cross_entropy,
    "mse": mse,
    "hinge_margin": hinge_margin,
    "log_margin_penalty": log_margin_penalty,
    "margin_loss": margin_loss,
    "focal": focal,
    "combined": combined,
}

# Hyperparameters each loss accepts (everything after ``logits, labels``).
HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "cross_entropy": (),
    "label_smoothing_cross_entropy": ("smoothing",),
    "mse": (),
    "hinge_margin": ("margin",),
    "log_margin_penalty": ("floor",),
    "margin_loss": ("lam", "base", "floor"),
    "focal": ("gamma",),
    "combined": ("margin_weight", "margin", "smoothing"),
}


def get_loss(name: str, **kwargs) -> Loss:
    """``loss(logits, labels) -> f32[]`` for a name in ``LOSSES``, hyperparameters checked now.

    Ints are coerced to floats (papermill passes ``lam=10`` as an int), so a
    bad value fails here, before any model is built or trained.
    """
    validate.choice("loss", name, LOSSES)
    allowed = HYPERPARAMETERS[name]
    for key in kwargs:
        if key not in allowed:
            takes = ", ".join(allowed) if allowed else "no hyperparameters"
            validate.fail(key, kwargs[key], f"{name!r} takes {takes}")
    params = {key: check_hyperparameter(key, value) for key, value in kwargs.items()}
    return functools.partial(LOSSES[name], **params)


def hyperparameter_defaults(name: str) -> dict:
    """``{hyperparameter: default}`` of loss ``name`` (e.g. ``{"lam": 1.0, "base": "mse", ...}``)."""
    validate.choice("loss", name, LOSSES)
    sig = inspect.signature(LOSSES[name]).parameters
    return {k: sig[k].default for k in HYPERPARAMETERS[name]}


def check_hyperparameter(key: str, value, name: str | None = None):
    """Validate and coerce one hyperparameter value; ``name`` is what the error calls it."""
    return _CHECKS[key](key if name is None else name, value)
