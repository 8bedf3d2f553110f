"""A multi-class classifier trained with Adam and measured on held-out data, in one call.

``train_classifier`` builds an ``mlp`` or ``cnn`` for the data, ``fit``s it
(optionally with a conductance clip on every kernel) and returns
``metrics.classifier_metrics`` on the test split plus where the kernel
weights sit; ``gradient_clip_sweep`` does it once per clip range.
"""
from __future__ import annotations

import numpy as np
import optax

from rvlib import losses, metrics, models, stats, validate
from rvlib.hardware.clip import clip_label, kernel_weights
from rvlib.training.loop import fit, predict
from rvlib.training.state import to_model

__all__ = ["CLASSIFIERS", "make_classifier", "train_classifier", "gradient_clip_sweep"]

CLASSIFIERS = ("cnn", "mlp")


def make_classifier(model: str, input_shape, classes: int, *, seed: int = 0,
                    hidden: int = 128):
    """A ``cnn`` or ``mlp`` (``hidden`` units) for images of ``input_shape = (h, w, c)``."""
    validate.choice("model", model, CLASSIFIERS)
    if model == "cnn":
        return models.make_model("cnn", seed=seed, input_shape=tuple(input_shape),
                                 classes=classes)
    return models.make_model("mlp", seed=seed, in_features=int(np.prod(input_shape)),
                             hidden=hidden, classes=classes)


def train_classifier(train, test, *, model: str = "cnn", loss: str = "cross_entropy",
                     loss_kwargs: dict | None = None, epochs: int = 10, batch_size: int = 64,
                     lr: float = 1e-3, seed: int = 0, clip=None, hidden: int = 128,
                     progress: bool = False, checkpoint=None):
    """Train a ``cnn`` or ``mlp`` with Adam on ``train`` and evaluate it on the held-out ``test``.

    ``train``/``test``: ``(x: f32[n, h, w, c], y: i32[n])``.  ``clip=(g_min,
    g_max)`` projects every kernel into the range after each update (the
    paper's conductance constraint, ``fit(clip=...)``).  ``checkpoint``: a
    folder where ``fit`` keeps Orbax checkpoints; a rerun resumes from it, or
    skips training when it had finished (``fit`` prints which).
    Returns ``(model, history, test_metrics)``: the trained ``nnx.Module``,
    ``fit``'s per-epoch history, and ``metrics.classifier_metrics`` plus the
    kernels' ``stats.weight_stats`` (prefixed ``w_``) and ``w_frac_negative``.
    """
    validate.choice("model", model, CLASSIFIERS)
    loss_fn = losses.get_loss(loss, **(loss_kwargs or {}))
    lr = validate.positive("lr", lr)
    hidden = validate.positive("hidden", hidden, integer=True)
    clip = validate.clip_range("clip", clip)
    classes = int(max(np.max(train[1]), np.max(test[1]))) + 1
    net = make_classifier(model, np.shape(train[0])[1:], classes, seed=seed, hidden=hidden)
    graphdef, state, history = fit(net, optax.adam(lr), loss_fn, train, test, epochs=epochs,
                                   batch_size=batch_size, seed=seed, clip=clip,
                                   progress=progress, checkpoint=checkpoint)
    logits = predict(graphdef, state, test[0])
    trained = to_model(graphdef, state)
    w = kernel_weights(trained)
    ws = {f"w_{k}": v for k, v in stats.weight_stats(w, clip=clip).items()}
    return trained, history, (metrics.classifier_metrics(logits, test[1]) | ws
                              | {"w_frac_negative": float(np.mean(w < 0))})


def gradient_clip_sweep(train, test, clips, *, model: str = "mlp", **kwargs) -> list[dict]:
    """One :func:`train_classifier` per clip range (same seed and data) -> rows.

    Each row: ``clip`` (label), g_min, g_max, train_accuracy, the test
    metrics and, when ``clips`` holds ``None``, ``accuracy_change_pts`` and
    ``margin_change`` against that unconstrained model.
    """
    clips = [validate.clip_range(f"clips[{i}]", c) for i, c in enumerate(clips)]
    rows = []
    for clip in clips:
        _, hist, m = train_classifier(train, test, model=model, clip=clip, **kwargs)
        rows.append({"clip": clip_label(clip), "g_min": None if clip is None else clip[0],
                     "g_max": None if clip is None else clip[1],
                     "train_accuracy": hist[-1]["train_accuracy"]} | m)
    base = next((r for r, c in zip(rows, clips) if c is None), None)
    for r in rows if base is not None else ():
        r["accuracy_change_pts"] = 100.0 * (r["accuracy"] - base["accuracy"])
        r["margin_change"] = r["margin_median"] - base["margin_median"]
    return rows
