"""Temperature scaling (Guo et al., 2017) fitted with Optax, and reliability-diagram data.

``fit_temperature`` finds ``T > 0`` minimising the validation NLL of
``softmax(z / T)``; it optimises ``log T`` (so ``T`` stays positive) with
``optax.lbfgs`` (a zoom line search, so every accepted step lowers the NLL)
and keeps ``T = 1`` if the optimiser ends anywhere worse, so the fitted
temperature never raises the validation NLL.  Predictions (argmax) do not
change; only confidence does.  For an ensemble, scale ``log p̄``
(``uncertainty.ensemble_log_probs``), the ensemble's logits.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rvlib import metrics, validate

__all__ = ["fit_temperature", "scaled_nll", "reliability", "calibration_report"]


@jax.jit
def scaled_nll(log_t, logits, labels) -> jax.Array:
    """Mean NLL of ``softmax(logits / exp(log_t))``: f32[]."""
    return metrics.nll(logits / jnp.exp(log_t), labels)


@functools.partial(jax.jit, static_argnums=3)
def _lbfgs(log_t0, logits, labels, steps: int):
    opt = optax.lbfgs()
    loss = functools.partial(scaled_nll, logits=logits, labels=labels)
    value_and_grad = optax.value_and_grad_from_state(loss)

    def step(carry, _):
        x, state = carry
        value, grad = value_and_grad(x, state=state)
        updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=loss)
        return (optax.apply_updates(x, updates), state), value

    (x, _), _ = jax.lax.scan(step, (log_t0, opt.init(log_t0)), None, length=steps)
    return x


def fit_temperature(logits, labels, *, steps: int = 30) -> float:
    """The temperature ``T`` minimising the NLL of ``logits: f32[n, c]`` on ``labels: i32[n]``.

    ``steps`` L-BFGS iterations on ``log T`` from ``T = 1``.  Returns a Python
    float; 1.0 when no temperature does better than 1 (within float rounding).
    """
    steps = validate.positive("steps", steps, integer=True)
    z, y = jnp.asarray(logits, jnp.float32), jnp.asarray(labels, jnp.int32)
    metrics.check_outputs("logits", z, y)
    log_t = _lbfgs(jnp.zeros((), jnp.float32), z, y, steps)
    if not bool(jnp.isfinite(log_t)) or scaled_nll(log_t, z, y) > scaled_nll(0.0, z, y):
        return 1.0
    return float(jnp.exp(log_t))


def reliability(logits, labels, n_bins: int = metrics.ECE_BINS) -> dict[str, np.ndarray]:
    """Per equal-width confidence bin (``metrics.calibration_gaps``' bins): ``{lo, hi, count,
    confidence, accuracy}``, each ``f64[n_bins]`` (NaN confidence/accuracy in empty bins)."""
    n_bins = validate.positive("n_bins", n_bins, integer=True)
    z, y = jnp.asarray(logits, jnp.float32), jnp.asarray(labels, jnp.int32)
    conf = np.asarray(metrics.confidence(z), np.float64)
    hit = np.asarray(metrics.correct(z, y), np.float64)
    bins = np.clip(np.floor(conf * n_bins).astype(int), 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, conf, n_bins) / count
        acc = np.bincount(bins, hit, n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return {"lo": edges[:-1], "hi": edges[1:], "count": count, "confidence": mean_conf,
            "accuracy": acc}


def calibration_report(val, test, *, steps: int = 30) -> dict[str, float]:
    """Temperature fitted on ``val = (logits, labels)``, NLL and ECE on ``test`` before/after."""
    t = fit_temperature(*val, steps=steps)
    z, y = jnp.asarray(test[0], jnp.float32), jnp.asarray(test[1], jnp.int32)
    return {"temperature": t,
            "nll_before": float(metrics.nll(z, y)), "nll_after": float(metrics.nll(z / t, y)),
            "ece_before": float(metrics.ece(z, y)), "ece_after": float(metrics.ece(z / t, y))}
