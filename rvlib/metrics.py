"""Per-example and batch metrics on model outputs: jittable JAX, no host-side summaries.

The functions take ``outputs`` / ``logits: f32[b, k]`` and ``labels: i32[b]``.
Host-side summaries of their results (means and medians that say what they
leave out, mean ± std over seeds, weight statistics) are in :mod:`rvlib.stats`.

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
    "check_outputs", "check_labels", "logit_margin", "snr", "softmax_snr", "correct", "confidence",
    "accuracy",
    "nll_per_example", "nll", "calibration_gaps", "ece", "classifier_metrics", "ECE_BINS",
]

ECE_BINS = 15  # equal-width confidence bins of every ECE rvlib reports


def check_outputs(name: str, outputs, labels=None, *, min_classes: int = 2) -> None:
    """Check ``outputs: [batch, classes]`` (and ``labels: [batch]``) before any compute.

    Shapes are static under jit, so this costs nothing at run time.
    """
    shape = tuple(jnp.shape(outputs))
    if len(shape) != 2:
        validate.fail(name + ".shape", shape, "must be [batch, classes]")
    if shape[1] < min_classes:
        validate.fail(name + ".shape", shape, f"must have at least {min_classes} classes")
    if labels is not None and tuple(jnp.shape(labels)) != shape[:1]:
        validate.fail("labels.shape", tuple(jnp.shape(labels)), f"must be ({shape[0]},) to match {name}")
    if labels is not None and not isinstance(labels, jax.core.Tracer):
        check_labels("labels", labels, shape[1])


def check_labels(name: str, labels, classes: int) -> None:
    """Concrete ``labels`` must be integers in ``[0, classes)``: one-hot and ``take_along_axis``
    would silently give a NaN loss or wrap a label to the last class."""
    y = np.asarray(labels)
    if y.size == 0:
        return
    if not (np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0)):
        validate.fail(name, y.ravel()[:5].tolist(), "must be integer class indices")
    lo, hi = int(np.min(y)), int(np.max(y))
    if lo < 0 or hi >= classes:
        bad = lo if lo < 0 else hi
        validate.fail(name, f"[{lo}..{hi}]", f"must be class indices in [0, {classes}) for "
                      f"{classes} classes; found {bad}")


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
    check_outputs("logits", logits, labels)
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
    ``stats.summarize(...)['top_share']``).  For multi-class models pass softmax
    probabilities, not logits: the ratio is then ``p_y / max_{j != y} p_j``,
    which is positive and equals ``exp(logit_margin)`` up to ``eps`` -- and
    saturates near ``1 / eps`` once the margin passes ~20: use
    :func:`softmax_snr` for that ratio.
    """
    check_outputs("outputs", outputs, labels)
    if labels is None:
        target, control = outputs[:, 0], outputs[:, 1]
    else:
        target, control = _true_and_rest(outputs, labels)
    return target / (control + eps)


def softmax_snr(logits, labels) -> np.ndarray:
    """The multi-class SNR ``p_y / max_{j≠y} p_j`` of softmax probabilities, without saturating.

    logits: f32[b, k], labels: i32[b] -> f64[b] (NumPy).  The softmax
    normaliser cancels, so the ratio is exactly ``exp(z_y − max_{j≠y} z_j)``
    = ``exp(logit_margin)``: computed that way (in float64) it stays exact far
    past the ``1 / eps`` cap of ``snr(softmax(logits), labels)`` (about 1e9,
    already low at margin 20) and only overflows to ``inf`` above margin ~709.
    Its logarithm, the log-SNR, is the logit margin itself.
    """
    margin = np.asarray(logit_margin(jnp.asarray(logits), jnp.asarray(labels)), np.float64)
    with np.errstate(over="ignore"):
        return np.exp(margin)


def correct(outputs: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    """Whether each prediction is right; ties count as wrong (the paper's strict ``>``).

    outputs: f32[b, k], labels: i32[b] or None -> bool[b].  ``labels=None``
    means ``out0 > out1``; otherwise the true output must beat every other one.
    """
    check_outputs("outputs", outputs, labels)
    if labels is None:
        return outputs[:, 0] > outputs[:, 1]
    return logit_margin(outputs, labels) > 0


def confidence(logits: jax.Array) -> jax.Array:
    """Largest softmax probability per example. logits: f32[b, k] -> f32[b]."""
    check_outputs("logits", logits, min_classes=1)
    return jnp.max(jax.nn.softmax(logits, axis=-1), axis=-1)


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Share of examples whose true class wins strictly. -> f32[]."""
    return jnp.mean(correct(logits, labels).astype(jnp.float32))


def nll_per_example(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Negative log-likelihood ``-log softmax(z)_y`` per example. -> f32[b]."""
    check_outputs("logits", logits, labels, min_classes=1)
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(logp, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]


def nll(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean negative log-likelihood. -> f32[]."""
    return jnp.mean(nll_per_example(logits, labels))


def calibration_gaps(logits: jax.Array, labels: jax.Array, n_bins: int = ECE_BINS,
                     weights: jax.Array | None = None) -> jax.Array:
    """Per confidence bin, ``Σ_{i in bin} w_i (correct_i - conf_i)``. -> f32[n_bins].

    Confidence is the max softmax probability, correctness the strict rule of
    ``correct``.  Bin ``i`` holds confidences in ``[i / n_bins, (i + 1) /
    n_bins)``, the last bin also holds 1.0.  ``weights: f32[b]`` (e.g. 0 for
    padding rows) default to 1.  Gaps of several batches add up, so an ECE
    over data seen in chunks is ``Σ|Σ_chunks gaps| / n``.
    """
    n_bins = validate.positive("n_bins", n_bins, integer=True)
    conf = confidence(logits)
    hit = correct(logits, labels).astype(conf.dtype)
    bins = jnp.clip(jnp.floor(conf * n_bins).astype(jnp.int32), 0, n_bins - 1)
    gap = hit - conf if weights is None else (hit - conf) * weights
    return jax.ops.segment_sum(gap, bins, num_segments=n_bins)


def ece(logits: jax.Array, labels: jax.Array, n_bins: int = ECE_BINS) -> jax.Array:
    """Expected calibration error with ``n_bins`` equal-width confidence bins. -> f32[].

    ``ECE = sum_b (n_b / n) |acc_b - conf_b| = (1 / n) sum_b |calibration_gaps_b|``.
    ``n_bins`` must be a Python int (it fixes a shape under jit).
    """
    return jnp.sum(jnp.abs(calibration_gaps(logits, labels, n_bins))) / logits.shape[0]


def classifier_metrics(logits, labels) -> dict:
    """Held-out metrics of ``logits: f32[n, k]`` against ``labels: i32[n]`` as Python floats.

    accuracy, nll, ece (``ECE_BINS`` bins), confidence (mean max softmax),
    margin mean/median (``z_y − max_{j≠y} z_j``) and snr_median (median of
    ``p_y / max_{j≠y} p_j``, the paper's ratio on probabilities, by
    :func:`softmax_snr`: ``exp(margin)``, no ``eps`` cap).
    """
    check_outputs("logits", logits, labels)     # labels in [0, k) before the int32 cast
    logits, labels = jnp.asarray(logits, jnp.float32), jnp.asarray(labels, jnp.int32)
    margin = np.asarray(logit_margin(logits, labels), np.float64)
    with np.errstate(over="ignore"):
        ratio = np.exp(margin)                      # = softmax_snr(logits, labels)
    return {"accuracy": float(accuracy(logits, labels)),
            "nll": float(nll(logits, labels)),
            "ece": float(ece(logits, labels)),
            "confidence": float(jnp.mean(confidence(logits))),
            "margin_mean": float(margin.mean()), "margin_median": float(np.median(margin)),
            "snr_median": float(np.median(ratio))}
