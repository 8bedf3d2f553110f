"""Divergence as data: where a training run's loss or weights first became non-finite.

A run that blows up (a learning rate of 1e6, a margin term that runs away) is
a result, not an error: the run finishes, its record says when it diverged,
and plots and claims use the finite part.  ``divergence(history, weights)``
reads one run's history (``training.fit`` / ``fit_many``: one dict per
epoch) and, optionally, its final weights::

    {"diverged": True, "epoch": 1, "step": 22, "what": "train_loss"}

``epoch``/``step`` are the first epoch (1-based) whose training loss (or
test loss) is not finite, and the optimiser steps done by its end; ``what``
says which quantity showed it first (``"weights"`` if only the final weights
do).  A finite run gives ``{"diverged": False, "epoch": None, "step": None,
"what": None}``.
"""
from __future__ import annotations

import math

import jax
import numpy as np

__all__ = ["divergence", "weights_finite", "DIVERGENCE_KEYS"]

DIVERGENCE_KEYS = ("train_loss", "test_loss")   # checked in this order within an epoch


def weights_finite(tree) -> bool:
    """Whether every array leaf of ``tree`` (params, a TrainState, a model's state) is finite."""
    leaves = [np.asarray(v) for v in jax.tree.leaves(tree) if hasattr(v, "dtype")]
    return all(bool(np.all(np.isfinite(v))) for v in leaves
               if np.issubdtype(v.dtype, np.inexact))


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return True          # absent / not a number: says nothing about divergence


def divergence(history: list[dict], weights=None) -> dict:
    """The first epoch whose loss is non-finite (or the final ``weights``), as a small dict."""
    for i, rec in enumerate(history):
        for key in DIVERGENCE_KEYS:
            if key in rec and not _finite(rec[key]):
                return {"diverged": True, "epoch": int(rec.get("epoch", i + 1)),
                        "step": None if rec.get("step") is None else int(rec["step"]),
                        "what": key}
    if weights is not None and not weights_finite(weights):
        last = history[-1] if history else {}
        return {"diverged": True, "epoch": last.get("epoch"), "step": last.get("step"),
                "what": "weights"}
    return {"diverged": False, "epoch": None, "step": None, "what": None}
