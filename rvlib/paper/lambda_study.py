"""The λ study: what the margin weight λ of the paper's loss really changes.

* On the paper's protocol (:func:`paper_lambda_rows`): the published per-image
  MLP per λ, summarised by the numbers that tell what λ does (mean *and*
  median SNR, the margin ``out0 − out1``, ``out0``, how often the control
  output is negative); :func:`paper_response` retrains one image for a
  slider (``nb.widgets.lambda_explorer``).
* Controlled (:func:`train_lambda_models`): multi-class models on held-out
  data with cross-entropy + λ·log-margin, all (λ, seed) pairs as one program
  (``training.fit_many``); :func:`half_noise_summary` puts the σ = 0.5
  checkpoint next to the paper's accuracies and the checklist.
"""
from __future__ import annotations

import math

import numpy as np

from rvlib import stats, training, validate
from rvlib.training.divergence import divergence
from rvlib.paper import protocol
from rvlib.paper.reference import CHECKLIST, METHODS, NOISE_LEVELS, NOISE_SEED, PAPER_SEED

__all__ = ["check_mlp_update", "paper_lambda_rows", "paper_response", "paper_snr_by_lambda",
           "train_lambda_models", "half_noise_summary", "snr_linearity"]


def paper_snr_by_lambda() -> dict[float, float]:
    """``{λ: the paper's mean SNR}`` for the MLP rows of the master table."""
    return {m.lam: m.paper_snr for m in METHODS.values() if m.rule == "gradient" and m.in_paper}


def check_mlp_update(name: str) -> protocol.MlpUpdate:
    """The ``protocol.MLP_UPDATES`` entry called ``name`` (a notebook's ``update`` parameter)."""
    return protocol.MLP_UPDATES[validate.choice("update", name, protocol.MLP_UPDATES)]


def paper_lambda_rows(images, lams, *, levels=NOISE_LEVELS, seed: int = PAPER_SEED,
                      noise_seed: int = NOISE_SEED, update: str = "published") -> list[dict]:
    """One row per λ of the paper's per-image MLP (``protocol.run_mlp``), images: f32[n, d].

    ``update``: a name of ``protocol.MLP_UPDATES`` (the authors' published step
    by default).  Row: ``lam``, ``update``, ``stats.binary_summary`` over
    images × noise levels, and ``clean_margin_median`` / ``clean_snr_median`` /
    ``clean_out0_mean`` on the training images themselves.
    """
    u = check_mlp_update(update)
    lams = validate.each("lams", lams, validate.non_negative, nonempty="λ >= 0")
    res = protocol.run_mlp(images, lams, levels=levels, seed=seed, noise_seed=noise_seed,
                           update=u.update, bias=u.bias)
    rows = []
    for k, lam in enumerate(lams):
        clean = stats.binary_summary(res["clean"][k])
        rows.append({"lam": lam, "update": u.name} | stats.binary_summary(res["outputs"][k]) | {
            "clean_margin_median": clean["margin_median"], "clean_snr_median": clean["snr_median"],
            "clean_out0_mean": clean["out0_mean"]})
    return rows


def paper_response(image, lam: float, *, levels=NOISE_LEVELS, seed: int = PAPER_SEED,
                   update: str = "published") -> dict:
    """The paper's MLP trained on one ``image: f32[d]`` with ``lam``, read at σ = 0 and ``levels``.

    Returns NumPy ``sigma: f64[1 + L]`` (0 first), ``out0``, ``out1``, ``snr``,
    ``margin`` (each ``f64[1 + L]``) and ``lam``.  λ is a traced value inside
    ``run_mlp``, so moving a slider does not recompile.
    """
    u = check_mlp_update(update)
    x = np.asarray(image, np.float32).reshape(1, -1)
    lam = validate.non_negative("lam", lam)
    res = protocol.run_mlp(x, [lam], levels=levels, seed=seed, update=u.update, bias=u.bias)
    out = np.concatenate([res["clean"][0], res["outputs"][0, 0]]).astype(np.float64)
    return {"lam": lam, "update": u.name, "sigma": np.concatenate([[0.0], np.asarray(levels, np.float64)]),
            "out0": out[:, 0], "out1": out[:, 1], "margin": out[:, 0] - out[:, 1],
            "snr": out[:, 0] / (out[:, 1] + 1e-9)}


def train_lambda_models(make_model, train, test, *, lams, seeds, epochs: int,
                        batch_size: int = 64, lr: float = 1e-3, extra=(),
                        progress: bool = False) -> dict:
    """Train one model per (λ, seed) with ``margin_loss(base="ce", lam=λ)``, Adam(``lr``).

    ``make_model(seed) -> nnx.Module``; ``train``/``test``: ``(x, y)`` pairs;
    ``extra``: additional ``(lam, seed)`` pairs to train besides the grid.
    All models train as one program (``training.fit_many``), each exactly as
    ``training.fit`` would train it alone.
    Returns ``{"configs": [{"lam", "seed"}...], "models": [nnx.Module...],
    "histories": [[epoch dicts]...], "divergence": [{"lam", "seed", "diverged",
    "epoch", "step", "what"}...], "fit": ManyFit}`` in grid order (λ-major),
    extras last.  A model whose loss or weights become non-finite (a huge
    ``lr``) is kept and recorded in ``divergence`` (``training.divergence``).
    """
    lams = validate.each("lams", lams, validate.non_negative, nonempty="λ >= 0")
    seeds = validate.each("seeds", seeds, lambda n, v: validate.non_negative(n, v, integer=True),
                          nonempty="seed", distinct="seed")
    epochs = validate.positive("epochs", epochs, integer=True)
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    lr = validate.positive("lr", lr)
    pairs = [(lam, s) for lam in lams for s in seeds]
    for i, (lam, s) in enumerate(extra):
        pair = (validate.non_negative(f"extra[{i}].lam", lam),
                validate.non_negative(f"extra[{i}].seed", s, integer=True))
        if pair not in pairs:
            pairs.append(pair)
    configs = [{"seed": s, "lr": lr, "lam": lam, "clip": None} for lam, s in pairs]
    # base="ce" is a string: the same for every config, so it is part of the one program.
    fit = training.fit_many(make_model, [c | {"base": "ce"} for c in configs], train, test,
                            loss="margin_loss", epochs=epochs, batch_size=batch_size,
                            optimizer="adam", progress=progress)
    return {"configs": [{"lam": c["lam"], "seed": c["seed"]} for c in configs],
            "models": [fit.model(i) for i in range(len(configs))],
            "histories": list(fit.histories),
            "divergence": [{"lam": c["lam"], "seed": c["seed"]}
                           | divergence(h, fit.state(i).params)
                           for i, (c, h) in enumerate(zip(configs, fit.histories))],
            "fit": fit}


def snr_linearity(controlled: list[dict], *, max_lam: float = 10.0) -> tuple[dict, dict]:
    """The checklist's line fit of median SNR vs λ (λ <= ``max_lam``) and a power-law fit.

    ``controlled``: ``stats.group_table`` rows (``lam``, ``snr_median``).
    Points whose SNR is not finite (diverged models) are left out; with fewer
    than two usable points a fit is all NaN (``n`` says how many were used),
    so a diverged run still reports instead of raising.  Returns ``(line,
    power)``: ``line`` from ``stats.linear_fit`` on (λ, SNR); ``power`` on
    (log10 λ, log10 SNR) for λ > 0, SNR > 0.
    """
    def fit(x, y):
        if len(x) < 2 or len(set(x)) < 2:
            nan = math.nan
            return {"slope": nan, "intercept": nan, "r2": nan, "top_point_share": nan,
                    "n": len(x)}
        return stats.linear_fit(x, y)

    rows = [r for r in controlled if r["lam"] <= max_lam and np.isfinite(r["snr_median"])]
    line = fit([r["lam"] for r in rows], [r["snr_median"] for r in rows])
    pos = [r for r in rows if r["lam"] > 0 and r["snr_median"] > 0]
    power = fit(list(np.log10([r["lam"] for r in pos])),
                list(np.log10([r["snr_median"] for r in pos])))
    return line, power


def half_noise_summary(base: dict, marg: dict, *, lam_margin: float) -> dict:
    """The paper's σ = 0.5 checkpoint: baseline vs margin model next to the paper's accuracies.

    ``base`` / ``marg``: the two models' ``stats.group_table`` rows at Gaussian
    severity 0.5 (accuracy, accuracy_std, degradation, margin_median).
    Returns a flat dict with both models' numbers, the paper's
    (``METHODS[...].paper_accuracy_at_half``) and the two checklist items
    (``CHECKLIST["margin_acc_half"]``, ``CHECKLIST["baseline_acc_half"]``).
    """
    return {"lam_margin": lam_margin, "baseline_accuracy": base["accuracy"],
            "baseline_accuracy_std": base["accuracy_std"],
            "margin_accuracy": marg["accuracy"], "margin_accuracy_std": marg["accuracy_std"],
            "baseline_degradation": base["degradation"], "margin_degradation": marg["degradation"],
            "baseline_margin_median": base["margin_median"],
            "margin_margin_median": marg["margin_median"],
            "paper_baseline_accuracy": METHODS["mlp_standard"].paper_accuracy_at_half,
            "paper_margin_accuracy": METHODS["mlp_margin10"].paper_accuracy_at_half,
            "checklist_margin_keeps_85": CHECKLIST["margin_acc_half"].passes(marg["accuracy"]),
            "checklist_baseline_below_70": CHECKLIST["baseline_acc_half"].passes(
                base["accuracy"])}
