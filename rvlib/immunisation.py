"""The two-generation scheme ("immunisation") of "Learning Dynamics and the Core of Learners".

1. **Generation 1**: an ensemble; its uncertainty score ``s`` (higher = less
   sure, :mod:`rvlib.uncertainty`) splits inputs at a threshold ``τ`` chosen
   on validation data into the **core** (``s <= τ``) and the rest.
2. **Generation 2** (the specialists): every first-generation member
   fine-tuned from its own weights on the *out-of-core* part of a pool of
   training inputs (clean, corrupted, adversarial; true labels), i.e. on what
   the first generation disagrees about (:func:`immunise`).
3. **The gate**: an input in generation 1's core gets generation 1's
   prediction, any other the specialists' (:func:`gated_log_probs`).

Reported (:func:`two_generation_metrics`): generation 1's overall accuracy,
its core accuracy and core coverage, and the gated ensemble's accuracy; the
seed paper reports these on clean + transfer-attacked test sets.

Attacks enter as an ``adversary(logits_fn, x, y, key) -> x_adv`` callable
(e.g. ``lambda f, x, y, k: attacks.pgd(f, x, y, k, eps=..., ...)``), so this
module does not depend on how an attack is built.
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from rvlib import selective, uncertainty, validate
from rvlib.ensembles import Ensemble, fine_tune

__all__ = ["Adversary", "adversarial_set", "out_of_core", "immunise", "gated_log_probs",
           "two_generation_metrics"]

Adversary = Callable[[Callable[[jax.Array], jax.Array], jax.Array, jax.Array, jax.Array],
                     jax.Array]


def adversarial_set(adversary: Adversary, logits_fn, x, y, key, *,
                    batch_size: int = 512) -> np.ndarray:
    """``adversary(logits_fn, x_b, y_b, key_b)`` over ``x: f32[n, ...]`` in batches -> f32[n, ...].

    Each batch gets its own key split from ``key``.  For a transfer attack,
    ``logits_fn`` is a separately trained surrogate's, not the evaluated model's.
    """
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    x, y = np.asarray(x, np.float32), np.asarray(y, np.int32)
    starts = range(0, x.shape[0], batch_size)
    keys = jax.random.split(key, len(starts))
    out = []
    for i, k in zip(starts, keys):
        xb = x[i:i + batch_size]
        adv = np.asarray(adversary(logits_fn, jnp.asarray(xb), jnp.asarray(y[i:i + batch_size]),
                                   k), np.float32)
        if adv.shape != xb.shape:
            validate.fail("adversary(...).shape", adv.shape, f"must equal the input's {xb.shape}")
        out.append(adv)
    return np.concatenate(out)


def out_of_core(ens: Ensemble, x, y, *, score: str, threshold: float) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
    """The examples of ``(x, y)`` outside ``ens``'s core (``score > threshold``)."""
    validate.choice("score", score, uncertainty.SCORES)
    s = np.asarray(uncertainty.score(score, ens.member_logits(x)))
    keep = ~selective.core_mask(s, threshold)
    return np.asarray(x)[keep], np.asarray(y)[keep]


def immunise(gen1: Ensemble, pool, *, score: str, threshold: float, epochs: int,
             batch_size: int, lr: float = 1e-3, progress: bool = False) -> tuple[Ensemble, dict]:
    """Generation 2: ``gen1``'s members fine-tuned on the out-of-core part of ``pool = (x, y)``.

    Returns ``(gen2, info)`` with ``info = {n_pool, n_selected}``.  Fails with a
    message if fewer than ``batch_size`` pool examples are out of core.
    """
    threshold = validate.number("threshold", threshold)
    x, y = pool
    xs, ys = out_of_core(gen1, x, y, score=score, threshold=threshold)
    if xs.shape[0] < batch_size:
        validate.fail("threshold", threshold,
                      f"leaves {xs.shape[0]} out-of-core pool examples, fewer than "
                      f"batch_size={batch_size}: lower it or give a larger pool")
    gen2 = fine_tune(gen1, (xs, ys), epochs=epochs, batch_size=batch_size, lr=lr,
                     progress=progress)
    return gen2, {"n_pool": int(np.shape(x)[0]), "n_selected": int(xs.shape[0])}


def gated_log_probs(gen1_logits, gen2_logits, *, score: str,
                    threshold: float) -> tuple[jax.Array, np.ndarray]:
    """The gated ensemble: generation 1's ``log p̄`` on its core, generation 2's elsewhere.

    ``gen*_logits: f32[K, n, c]`` (member logits of both generations on the same
    inputs) -> ``(log_probs: f32[n, c], core: bool[n])``; the gate is generation 1's score.
    """
    z1 = uncertainty.check_members(gen1_logits, "gen1_logits")
    z2 = uncertainty.check_members(gen2_logits, "gen2_logits")
    if z1.shape[1:] != z2.shape[1:]:
        validate.fail("gen2_logits.shape", tuple(z2.shape),
                      f"must cover the same [batch, classes] as gen1_logits {tuple(z1.shape)}")
    core = selective.core_mask(np.asarray(uncertainty.score(score, z1)), threshold)
    lp = jnp.where(core[:, None], uncertainty.ensemble_log_probs(z1),
                   uncertainty.ensemble_log_probs(z2))
    return lp, core


def two_generation_metrics(gen1_logits, gen2_logits, labels, *, score: str,
                           threshold: float) -> dict[str, float]:
    """Accuracies of the scheme on one test set (ties of ``p̄`` count as argmax's pick).

    ``gen1_accuracy`` (generation 1 on everything), ``coverage`` (share in its
    core), ``core_accuracy`` (generation 1 on its core; NaN if empty),
    ``out_of_core_gen1_accuracy`` / ``out_of_core_gen2_accuracy`` (each generation
    on the rest), ``gen2_accuracy`` (specialists on everything) and
    ``gated_accuracy`` (the gated ensemble).
    """
    y = np.asarray(labels)
    lp, core = gated_log_probs(gen1_logits, gen2_logits, score=score, threshold=threshold)
    hit1 = np.asarray(jnp.argmax(uncertainty.ensemble_log_probs(gen1_logits), -1)) == y
    hit2 = np.asarray(jnp.argmax(uncertainty.ensemble_log_probs(gen2_logits), -1)) == y
    gated = np.asarray(jnp.argmax(lp, -1)) == y
    mean = lambda a: float(a.mean()) if a.size else float("nan")  # noqa: E731
    return {"n": int(y.shape[0]), "gen1_accuracy": mean(hit1), "coverage": mean(core),
            "core_accuracy": mean(hit1[core]), "out_of_core_gen1_accuracy": mean(hit1[~core]),
            "out_of_core_gen2_accuracy": mean(hit2[~core]), "gen2_accuracy": mean(hit2),
            "gated_accuracy": mean(gated)}
