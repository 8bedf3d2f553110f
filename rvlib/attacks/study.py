"""The adversarial-robustness study of notebook 06: train model variants, attack them over an ε grid.

A :class:`Variant` is a training recipe (loss, its hyperparameters, an
optional :class:`~rvlib.attacks.Adversary`); :func:`run_study` trains every
variant for every seed with ``training.fit`` and evaluates each model with
``robust_eval_params`` (one compiled attack program for the whole family),
returning one row per (variant, seed, ε) and the per-example results.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
import optax
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from rvlib import losses, metrics, validate
from rvlib.attacks import apply_fn
from rvlib.attacks.adversary import Adversary
from rvlib.attacks.evaluate import RobustEval, robust_eval_params
from rvlib.training.loop import fit, predict
from rvlib.training.state import to_model

__all__ = ["Variant", "make_variants", "run_study", "catastrophic_overfitting", "margin_survival"]


@dataclass(frozen=True)
class Variant:
    """A training recipe: ``loss`` (``losses.LOSSES``) with ``loss_kwargs``, optional ``adversary``."""
    name: str
    loss: str = "cross_entropy"
    loss_kwargs: tuple = ()
    adversary: Adversary | None = None

    def loss_fn(self):
        return losses.get_loss(self.loss, **dict(self.loss_kwargs))


def make_variants(*, lams=(), smoothing: float = 0.0, train_eps: float = 0.0, at_steps: int = 7,
                  fast_at: bool = False) -> list[Variant]:
    """CE, CE + λ·log-margin for each λ (the paper's margin term), label smoothing,
    PGD adversarial training at ``train_eps`` (``at_steps`` steps) and FGSM-RS "fast" AT."""
    out = [Variant("CE")]
    out += [Variant(f"margin λ={lam:g}", "margin_loss", (("lam", float(lam)), ("base", "ce")))
            for lam in lams]
    if smoothing > 0:
        out.append(Variant(f"smoothing {smoothing:g}", "label_smoothing_cross_entropy",
                           (("smoothing", float(smoothing)),)))
    if train_eps > 0:
        out.append(Variant(f"PGD-AT ε={train_eps:g}",
                           adversary=Adversary(eps=train_eps, steps=at_steps)))
        if fast_at:
            out.append(Variant(f"FGSM-RS AT ε={train_eps:g}",
                               adversary=Adversary(eps=train_eps, kind="fgsm_rs")))
    return out


def run_study(make_model, train, test, variants, seeds, *, eps_grid, attacks, attack_kwargs=None,
              epochs: int, batch_size: int = 64, lr: float = 3e-3, large_eps: float = 0.5,
              eval_seed: int = 0, progress: bool = False) -> dict:
    """Train ``make_model(seed)`` per (variant, seed) on ``train`` and attack it on ``test``.

    Returns ``rows`` (variant, seed, eps, clean_accuracy, acc_<attack>, acc_worst),
    ``evals[(variant, seed)]``: :class:`RobustEval`, ``margins[(variant, seed)]``:
    f32[n] clean logit margins, ``flags`` rows (one per model) and ``models``
    ``[(variant, seed)] -> (graphdef, (params, rest))``.  Flag rows add
    ``catastrophic_overfitting`` (:func:`catastrophic_overfitting`).
    """
    seeds = validate.each("seeds", seeds, lambda n, v: validate.non_negative(n, v, integer=True),
                          nonempty="seed")
    x_test, y_test = np.asarray(test[0], np.float32), np.asarray(test[1], np.int32)
    rows, flag_rows, evals, margins, models = [], [], {}, {}, {}
    todo = [(v, s) for v in variants for s in seeds]
    for v, seed in tqdm(todo, desc="train + attack", disable=not progress):
        graphdef, state = _fit_variant(make_model, train, v, seed, epochs, batch_size, lr)
        weights = (state.params, state.rest)
        key = jax.random.fold_in(jax.random.key(eval_seed), seed)
        ev: RobustEval = robust_eval_params(
            apply_fn(graphdef), weights, x_test, y_test, key, eps_grid=eps_grid, attacks=attacks,
            attack_kwargs=attack_kwargs, large_eps=large_eps)
        logits = predict(graphdef, state, x_test)
        models[(v.name, seed)] = (graphdef, weights)
        evals[(v.name, seed)] = ev
        margins[(v.name, seed)] = np.asarray(metrics.logit_margin(logits, y_test))
        rows += [{"variant": v.name, "seed": seed} | r for r in ev.rows()]
        flag_rows.append({"variant": v.name, "seed": seed} | ev.flags
                         | {"catastrophic_overfitting": catastrophic_overfitting(ev, v.adversary),
                            "notes": "; ".join(ev.notes)})
    return dict(rows=rows, flags=flag_rows, evals=evals, margins=margins, models=models)


def train_variant(make_model, train, variant: Variant, seeds, *, epochs: int,
                  batch_size: int = 64, lr: float = 3e-3, progress: bool = False) -> list:
    """``make_model(seed)`` trained as ``variant`` (its loss, its adversary) with Adam, per seed.

    ``train = (x: f32[n, ...], y: i32[n])``.  Returns the trained ``nnx.Module``
    per seed, for evaluations that take models (e.g. ``robustness.evaluate_suite``).
    """
    seeds = validate.each("seeds", seeds, lambda n, v: validate.non_negative(n, v, integer=True),
                          nonempty="seed")
    out = []
    for seed in tqdm(seeds, desc=variant.name, disable=not progress):
        out.append(to_model(*_fit_variant(make_model, train, variant, seed, epochs, batch_size, lr)))
    return out


def _fit_variant(make_model, train, variant: Variant, seed: int, epochs: int, batch_size: int,
                 lr: float):
    """``make_model(seed)`` trained as ``variant`` with Adam: ``(graphdef, TrainState)``."""
    graphdef, state, _ = fit(make_model(seed), optax.adam(lr), variant.loss_fn(), train,
                             epochs=epochs, batch_size=batch_size, seed=seed, progress=False,
                             adversary=variant.adversary)
    return graphdef, state


def catastrophic_overfitting(ev: RobustEval, adversary: Adversary | None) -> bool:
    """Whether an adversarially trained model shows catastrophic overfitting (Wong et al. 2020):
    at its training ε, PGD accuracy below half the FGSM accuracy (robust to the training attack
    only).  False for models without ``adversary`` or when the training ε is not in the grid."""
    if adversary is None or "pgd" not in ev.attacks or "fgsm" not in ev.attacks:
        return False
    hit = np.flatnonzero(np.isclose(ev.eps, adversary.eps))
    if not hit.size:
        return False
    i = hit[0]
    return bool(ev.accuracy("pgd")[i] < 0.5 * ev.accuracy("fgsm")[i])


def margin_survival(margins, survived, n_bins: int = 5) -> dict:
    """Does a larger clean logit margin predict surviving the attack?

    ``margins: f32[n]`` (clean, correctly classified examples only make
    sense: pass those), ``survived: bool[n]``.  Returns the survival rate per
    margin quantile bin (``bins``: list of dicts with margin_lo, margin_hi,
    margin_mid, survival, n) and the Spearman rank correlation ``rho``.
    """
    margins, survived = np.asarray(margins, float), np.asarray(survived, bool)
    n_bins = validate.positive("n_bins", n_bins, integer=True)
    edges = np.quantile(margins, np.linspace(0, 1, n_bins + 1))
    idx = np.clip(np.searchsorted(edges, margins, side="right") - 1, 0, n_bins - 1)
    bins = [{"margin_lo": float(edges[i]), "margin_hi": float(edges[i + 1]),
             "margin_mid": float(np.median(margins[idx == i])) if np.any(idx == i) else np.nan,
             "survival": float(survived[idx == i].mean()) if np.any(idx == i) else np.nan,
             "n": int(np.sum(idx == i))} for i in range(n_bins)]
    varied = survived.std() > 0 and margins.std() > 0  # ties share their average rank
    rho = float(spearmanr(margins, survived).statistic) if varied else float("nan")
    return {"bins": bins, "rho": rho}
