"""Per-example and batch metrics on model outputs, plus host-side summaries.

The jnp functions take ``outputs`` / ``logits: f32[b, k]`` and ``labels: i32[b]``
and are jittable.  ``summarize`` and ``weight_stats`` run on the host in
float64 NumPy: they are for reporting, where a float32 ``std`` of weights near
1e21 would overflow to ``inf`` and hide the number the reader needs.

Conventions shared with the paper's binary protocol: with ``labels=None``
output 0 is the "target" and output 1 the "control"; a prediction counts as
correct only when the target is strictly larger (the paper's ``out0 > out1``),
so ties are wrong.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rvlib import validate

__all__ = [
    "logit_margin", "snr", "correct", "confidence", "accuracy", "nll", "ece",
    "summarize", "weight_stats",
]


def _check_outputs(name: str, outputs, labels=None, *, min_classes: int = 2) -> None:
    # Shapes are static under jit, so these checks cost nothing at run time.
    shape = tuple(jnp.shape(outputs))
    if len(shape) != 2:
        validate.fail(name + ".shape", shape, "must be [batch, classes]")
    if shape[1] < min_classes:
        validate.fail(name + ".shape", shape, f"must have at least {min_classes} classes")
    if labels is not None and tuple(jnp.shape(labels)) != shape[:1]:
        validate.fail("labels.shape", tuple(jnp.shape(labels)), f"must be ({shape[0]},) to match {name}")


def _true_and_rest(outputs: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Split ``outputs: f32[b, k]`` into ``out_y: f32[b]`` and ``max_{j != y} out_j: f32[b]``.

    The true class is replaced by -inf through ``where`` (never by arithmetic),
    so no ``inf - inf`` can appear and gradients do not reach the masked entry.
    """
    is_true = jax.nn.one_hot(labels, outputs.shape[-1], dtype=bool)
    out_y = jnp.take_along_axis(outputs, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]
    rest = jnp.max(jnp.where(is_true, -jnp.inf, outputs), axis=-1)
    return out_y, rest


def logit_margin(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Margin ``z_y - max_{j != y} z_j`` per example.

    logits: f32[b, k] (k >= 2), labels: i32[b] -> f32[b].  Positive means the
    true class wins strictly.  Finite for any finite logits whose spread fits
    in float32.
    """
    _check_outputs("logits", logits, labels)
    z_y, z_rest = _true_and_rest(logits, labels)
    return z_y - z_rest


def snr(outputs: jax.Array, labels: jax.Array | None = None, eps: float = 1e-9) -> jax.Array:
    """The paper's "signal-to-noise ratio" ``target / (control + eps)`` per example.

    outputs: f32[b, k], labels: i32[b] or None -> f32[b].

    - ``labels=None``: the paper's binary protocol, ``out0 / (out1 + eps)``.
    - with labels: ``out_y / (max_{j != y} out_j + eps)``.

    Weak points (why rvlib reports margins and medians next to it): the ratio
    is not shift invariant (adding a constant c to every output changes
    ``out0 / out1`` although the decision does not change); it blows up when
    the control output nears 0 and flips sign when the control is negative,
    so a batch mean can be dominated by a few examples (see
    ``summarize(...)['top_share']``).  For multi-class models pass softmax
    probabilities, not logits: the ratio is then ``p_y / max_{j != y} p_j``,
    which is positive and equals ``exp(logit_margin)`` (up to ``eps``).
    """
    _check_outputs("outputs", outputs, labels)
    if labels is None:
        target, control = outputs[:, 0], outputs[:, 1]
    else:
        target, control = _true_and_rest(outputs, labels)
    return target / (control + eps)


def correct(outputs: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    """Whether each prediction is right; ties count as wrong (the paper's strict ``>``).

    outputs: f32[b, k], labels: i32[b] or None -> bool[b].  ``labels=None``
    means ``out0 > out1``; otherwise the true output must beat every other one.
    """
    _check_outputs("outputs", outputs, labels)
    if labels is None:
        return outputs[:, 0] > outputs[:, 1]
    return logit_margin(outputs, labels) > 0


def confidence(logits: jax.Array) -> jax.Array:
    """Largest softmax probability per example. logits: f32[b, k] -> f32[b]."""
    _check_outputs("logits", logits, min_classes=1)
    return jnp.max(jax.nn.softmax(logits, axis=-1), axis=-1)


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Share of examples whose true class wins strictly. -> f32[]."""
    return jnp.mean(correct(logits, labels).astype(jnp.float32))


def nll(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean negative log-likelihood ``-log softmax(z)_y``. -> f32[]."""
    _check_outputs("logits", logits, labels, min_classes=1)
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None].astype(jnp.int32), axis=-1))


def ece(logits: jax.Array, labels: jax.Array, n_bins: int = 15) -> jax.Array:
    """Expected calibration error with ``n_bins`` equal-width confidence bins. -> f32[].

    ``ECE = sum_b (n_b / n) |acc_b - conf_b| = (1 / n) sum_b |sum_{i in b} (correct_i - conf_i)|``,
    so one segment sum per bin does it.  Confidence is the max softmax
    probability, correctness uses the strict rule of ``correct``.  Bin ``i``
    holds confidences in ``[i / n_bins, (i + 1) / n_bins)``, the last bin also
    holds 1.0.  ``n_bins`` must be a Python int (it fixes a shape under jit).
    """
    n_bins = validate.positive("n_bins", n_bins, integer=True)
    conf = confidence(logits)
    hit = correct(logits, labels).astype(conf.dtype)
    bins = jnp.clip(jnp.floor(conf * n_bins).astype(jnp.int32), 0, n_bins - 1)
    gap_per_bin = jax.ops.segment_sum(hit - conf, bins, num_segments=n_bins)
    return jnp.sum(jnp.abs(gap_per_bin)) / conf.shape[0]


# --------------------------------------------------------------------------- host side


def _as_f64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).ravel()


def _std(x: np.ndarray) -> float:
    # Scale first so that squares of values near 1e200 do not overflow.
    scale = np.max(np.abs(x)) if x.size else 0.0
    if scale == 0.0 or not np.isfinite(scale):
        return float(np.std(x)) if x.size else float("nan")
    return float(scale * np.std(x / scale))


def summarize(values, top: int = 5) -> dict:
    """Robust summary of a set of per-example values (e.g. SNRs), in float64.

    Returns ``n``, ``n_finite`` (NaN / inf are counted but left out of every
    statistic), ``mean``, ``median``, ``std``, ``min``, ``max``, ``q05``,
    ``q25``, ``q75``, ``q95`` and ``top_share``: the share of ``sum |v|``
    carried by the ``top`` largest ``|v|``.  A ``top_share`` near 1 says the
    mean is made by a handful of examples (typically near-zero denominators
    of a ratio), so read the median instead.  Statistics of an empty finite
    set are NaN.
    """
    top = validate.positive("top", top, integer=True)
    v = _as_f64(values)
    x = v[np.isfinite(v)]
    out = {"n": int(v.size), "n_finite": int(x.size)}
    if x.size == 0:
        nan = float("nan")
        out.update(mean=nan, median=nan, std=nan, min=nan, max=nan,
                   q05=nan, q25=nan, q75=nan, q95=nan, top_share=nan)
        return out
    q05, q25, median, q75, q95 = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
    mag = np.abs(x)
    total = float(np.sum(mag))
    top_sum = float(np.sum(np.sort(mag)[-top:]))
    out.update(
        mean=float(np.mean(x)), median=float(median), std=_std(x),
        min=float(np.min(x)), max=float(np.max(x)),
        q05=float(q05), q25=float(q25), q75=float(q75), q95=float(q95),
        top_share=top_sum / total if total > 0 else float("nan"),
    )
    return out


def weight_stats(w, clip=None) -> dict:
    """Mean, std, min, max of a weight array in float64, and how many sit on the clip bounds.

    ``finite`` is True when every entry is finite.  ``std`` is ``inf`` only
    when some entry is ``inf`` (never from float32 overflow of huge finite
    weights); NaN entries make the moments NaN.  ``frac_at_min`` /
    ``frac_at_max``: share of entries within 1e-6 (absolute or relative) of
    ``clip = (g_min, g_max)``; 0.0 when ``clip`` is None.
    """
    clip = validate.clip_range("clip", clip)
    v = _as_f64(w)
    if v.size == 0:
        validate.fail("w.size", 0, "must contain at least one weight")
    finite = bool(np.all(np.isfinite(v)))
    if finite or np.any(np.isnan(v)):
        std = _std(v) if finite else float("nan")
    else:
        std = float("inf")
    out = {
        "mean": float(np.mean(v)), "std": std,
        "min": float(np.min(v)), "max": float(np.max(v)), "finite": finite,
        "frac_at_min": 0.0, "frac_at_max": 0.0,
    }
    if clip is not None:
        lo, hi = clip
        out["frac_at_min"] = float(np.mean(np.isclose(v, lo, rtol=1e-6, atol=1e-6)))
        out["frac_at_max"] = float(np.mean(np.isclose(v, hi, rtol=1e-6, atol=1e-6)))
    return out
