"""Divergence as data: where a training run's loss or weights first ran away.

A run that blows up (a learning rate of 1e6, a margin term that runs away) is
a result, not an error: the run finishes, its record says when it diverged,
and plots and claims use the finite part.  ``divergence(history, weights)``
reads one run's history (``training.fit`` / ``fit_many``: one dict per
epoch) and, optionally, its final weights::

    {"diverged": True, "epoch": 1, "step": 22, "what": "train_loss", "value": 2.1e13}

``epoch``/``step`` are the first epoch (1-based) whose training loss (or
test loss) is not finite or above ``loss_limit``, and the optimiser steps done
by its end; ``what`` says which quantity showed it first (``"weights"`` if
only the final weights are non-finite) and ``value`` its value.  Adam with a
learning rate of 1e6 keeps the weights finite but near 1e6 and the loss near
1e13, so a loss above ``loss_limit`` (default 1e6, far above any
classification loss of a working model: cross-entropy at chance is ln K) is
divergence too.  A run that did not diverge gives ``{"diverged": False,
"epoch": None, "step": None, "what": None, "value": None}``.
"""
from __future__ import annotations

import math

import jax
import numpy as np

__all__ = ["divergence", "weights_finite", "DIVERGENCE_KEYS", "LOSS_LIMIT"]

DIVERGENCE_KEYS = ("train_loss", "test_loss")   # checked in this order within an epoch
LOSS_LIMIT = 1e6


def weights_finite(tree) -> bool:
    """Whether every array leaf of ``tree`` (params, a TrainState, a model's state) is finite."""
    leaves = [np.asarray(v) for v in jax.tree.leaves(tree) if hasattr(v, "dtype")]
    return all(bool(np.all(np.isfinite(v))) for v in leaves
               if np.issubdtype(v.dtype, np.inexact))


def _ran_away(v, limit: float) -> bool:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return False         # absent / not a number: says nothing about divergence
    return not math.isfinite(v) or abs(v) > limit


def divergence(history: list[dict], weights=None, *, loss_limit: float = LOSS_LIMIT) -> dict:
    """The first epoch whose loss ran away (or the final ``weights``), as a small dict."""
    for i, rec in enumerate(history):
        for key in DIVERGENCE_KEYS:
            if key in rec and _ran_away(rec[key], loss_limit):
                return {"diverged": True, "epoch": int(rec.get("epoch", i + 1)),
                        "step": None if rec.get("step") is None else int(rec["step"]),
                        "what": key, "value": float(rec[key])}
    if weights is not None and not weights_finite(weights):
        last = history[-1] if history else {}
        return {"diverged": True, "epoch": last.get("epoch"), "step": last.get("step"),
                "what": "weights", "value": None}
    return {"diverged": False, "epoch": None, "step": None, "what": None, "value": None}
