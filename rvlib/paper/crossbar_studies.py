"""The paper's crossbar studies: where the Hebbian SNR comes from, the delta rule's
stability limit, and what a conductance range costs.

* ``crossbar_sweep`` trains the paper's per-image crossbars for K settings
  (η, init scale, clip range) in ONE jitted program (η and the clip bounds
  are traced, so a 12-point sweep compiles once);
* ``clip_rows``, ``delta_rows`` and ``init_rows`` turn its results into table
  rows with the paper's numbers next to them;
* ``hebbian_snr_prediction`` is the closed form ``1 + (iters·η / init_mean)·(x·x')/Σx'``.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rvlib import rules, validate
from rvlib.hardware.clip import bounds, clip_label
from rvlib.paper import protocol
from rvlib.paper.reference import (DELTA_ETA, HEBB_ETA, HEBB_ITERS, INIT_SCALE, METHODS,
                                   NOISE_LEVELS, NOISE_SEED, PAPER_SEED, TARGET)

__all__ = ["crossbar_sweep", "clip_rows", "delta_rows", "init_rows", "hebbian_snr_prediction",
           "INIT_MEAN", "PAPER_CLIP_SNR"]

INIT_MEAN = INIT_SCALE / 2  # the mean of the init U[0, 0.01] sets the Hebbian control output
DEFAULT_ETA = {"hebbian": HEBB_ETA, "delta": DELTA_ETA}
# The paper's Hebbian rows by clip range: clip -> mean SNR.
PAPER_CLIP_SNR = {m.clip: m.paper_snr for m in METHODS.values()
                  if m.rule == "hebbian" and m.in_paper}


def _check_configs(configs, rule: str) -> list[dict]:
    if not configs:
        validate.fail("configs", list(configs), "must hold at least one setting")
    out = []
    for i, c in enumerate(configs):
        unknown = set(c) - {"eta", "init_scale", "clip"}
        if unknown:
            validate.fail(f"configs[{i}]", c, "keys must be among 'eta', 'init_scale', 'clip'")
        out.append({"eta": validate.non_negative(f"configs[{i}].eta", c.get("eta",
                                                                             DEFAULT_ETA[rule])),
                    "init_scale": validate.positive(f"configs[{i}].init_scale",
                                                    c.get("init_scale", INIT_SCALE)),
                    "clip": validate.clip_range(f"configs[{i}].clip", c.get("clip"))})
    return out


def crossbar_sweep(images, configs, *, rule: str = "hebbian", iters: int = HEBB_ITERS,
                   levels=NOISE_LEVELS, seed: int = PAPER_SEED,
                   noise_seed: int = NOISE_SEED) -> list[dict]:
    """The paper's per-image crossbar protocol for K settings at once.

    images: f32[n, d]; configs: K dicts with optional ``eta`` (default the
    paper's η for ``rule``), ``init_scale`` (init U[0, s], default 0.01) and
    ``clip``.  The init draws are the published ones (key ``seed + i``) scaled
    by ``s / 0.01``, so only the scale changes between settings.  Returns K
    dicts shaped like ``protocol.run_crossbar``'s (NumPy ``outputs: f32[n, L,
    2]``, ``clean: f32[n, 2]``, ``weights: f32[n, d, 2]``, ``diverged:
    bool[n]``) plus ``rule``, ``eta``, ``init_scale``, ``clip`` and ``iters``.
    """
    validate.image_shape("images", images, ndim=2)
    validate.choice("rule", rule, rules.RULES)
    iters = validate.non_negative("iters", iters, integer=True)
    levels = tuple(validate.severities("levels", levels))
    cfg = _check_configs(configs, rule)
    col = lambda k: jnp.asarray([c[k] for c in cfg], jnp.float32)  # noqa: E731
    lo, hi = (jnp.asarray(b, jnp.float32) for b in zip(*(bounds(c["clip"]) for c in cfg)))
    out = jax.tree.map(np.asarray, _sweep_program(
        jnp.asarray(images, jnp.float32), col("eta"), col("init_scale"), lo, hi, rule, iters,
        levels, int(seed), int(noise_seed)))
    return [{k: v[i] for k, v in out.items()} | cfg[i] | {"rule": rule, "iters": iters}
            for i in range(len(cfg))]


@partial(jax.jit, static_argnums=(5, 6, 7, 8, 9))
def _sweep_program(x, etas, scales, lo, hi, rule, iters, levels, seed, noise_seed):
    n, d = x.shape
    w_paper = protocol.init_crossbars(seed, n, d)           # U[0, 0.01], key seed + i
    t = jnp.asarray(TARGET, jnp.float32)

    def one_setting(eta, s, lo, hi):
        return rules.crossbars_scan(w_paper * (s / INIT_SCALE), x, t, eta, lo, hi, rule=rule,
                                    iters=iters).w

    w = jax.vmap(one_setting)(etas, scales, lo, hi)         # f32[K, n, d, 2]
    xn = protocol.noisy_images(x, levels, noise_seed)        # f32[L, n, d]
    return {"outputs": jnp.einsum("lnd,kndc->knlc", xn, w),
            "clean": jnp.einsum("nd,kndc->knc", x, w),
            "weights": w, "diverged": ~jnp.all(jnp.isfinite(w), axis=(2, 3))}


def _summary(r: dict, levels) -> dict:
    row = protocol.summarize_method(r, levels)
    keep = ("snr_mean", "snr_median", "snr_top5_share", "snr_n_nonfinite", "accuracy",
            "accuracy_at_0.5", "out0_mean", "out1_mean", "frac_control_negative")
    return {k: row[k] for k in keep if k in row} | {
        k: row[k] for k in row if k.startswith("w_") or k == "diverged"}


def clip_rows(results: list[dict], *, levels=NOISE_LEVELS) -> list[dict]:
    """Rows for a Hebbian clip sweep: SNR, accuracy, weights, ceiling and penalty.

    ``results`` from ``crossbar_sweep`` must hold one unconstrained (``clip
    None``) setting, the reference of ``penalty_*_pct = 100·(SNR / SNR_none −
    1)``.  ``ceiling = g_max / init_mean``: the SNR when every target weight
    sits at g_max while the control column keeps its init (mean
    ``init_scale / 2``).  ``paper_snr`` / ``paper_penalty_pct`` where the paper
    has the range.
    """
    base = next((r for r in results if r["clip"] is None), None)
    if base is None:
        validate.fail("results", [clip_label(r["clip"]) for r in results],
                       "must include an unconstrained setting (clip=None) as the reference")
    ref = _summary(base, levels)
    paper_none = PAPER_CLIP_SNR[None]
    rows = []
    for r in results:
        s = _summary(r, levels)
        clip = r["clip"]
        ceiling = np.nan if clip is None else clip[1] / (r["init_scale"] / 2)
        p = PAPER_CLIP_SNR.get(clip)
        rows.append({"clip": clip_label(clip), "g_min": None if clip is None else clip[0],
                     "g_max": None if clip is None else clip[1]} | s | {
            "ceiling": ceiling, "snr_over_ceiling": s["snr_mean"] / ceiling,
            "penalty_mean_pct": 100.0 * (s["snr_mean"] / ref["snr_mean"] - 1.0),
            "penalty_median_pct": 100.0 * (s["snr_median"] / ref["snr_median"] - 1.0),
            "paper_snr": p,
            "paper_penalty_pct": None if p is None else 100.0 * (p / paper_none - 1.0)})
    return rows


def delta_rows(images, results: list[dict], *, levels=NOISE_LEVELS) -> list[dict]:
    """Rows for a delta-rule η sweep: η against the stability limit ``2/‖x‖²`` and the outcome.

    ``eta_over_limit`` = η / median limit; ``fraction_stable`` = share of
    images with ``η·‖x‖² < 2`` (the rule converges on them);
    ``agreement`` = share of images whose majority-correct outcome over the
    noise levels equals "stable"; weight scale as ``w_absmax``.
    """
    limit = rules.delta_stability_limit(images)               # f64[n]
    rows = []
    for r in results:
        out = np.asarray(r["outputs"], np.float64)
        ok_img = (out[..., 0] > out[..., 1]).mean(axis=1) > 0.5
        stable = r["eta"] < limit
        rows.append({"eta": r["eta"], "eta_over_limit": r["eta"] / float(np.median(limit)),
                     "fraction_stable": float(stable.mean()),
                     "agreement": float((ok_img == stable).mean()),
                     "w_absmax": float(np.max(np.abs(np.asarray(r["weights"], np.float64))))}
                    | _summary(r, levels))
    return rows


def init_rows(images, results: list[dict], *, levels=NOISE_LEVELS) -> list[dict]:
    """Rows for a Hebbian init-scale sweep: measured SNR next to the closed form.

    ``predicted_snr_mean``: mean of ``hebbian_snr_prediction`` with
    ``init_mean = init_scale / 2``; ``excess_times_scale`` = (median SNR − 1)
    · init_scale, constant if the SNR is η·iters over the init scale.
    """
    rows = []
    for r in results:
        pred = hebbian_snr_prediction(images, eta=r["eta"], iters=r["iters"],
                                      init_mean=r["init_scale"] / 2, levels=levels)
        s = _summary(r, levels)
        rows.append({"init_scale": r["init_scale"], "eta": r["eta"]} | s | {
            "predicted_snr_mean": float(pred.mean()),
            "excess_times_scale": (s["snr_median"] - 1.0) * r["init_scale"]})
    return rows


def hebbian_snr_prediction(images, *, eta: float = HEBB_ETA,
                           iters: int = HEBB_ITERS, init_mean: float = INIT_MEAN,
                           levels=NOISE_LEVELS,
                           noise_seed: int = NOISE_SEED) -> np.ndarray:
    """The Hebbian SNR without training: ``1 + (iters·η / init_mean)·(x·x')/Σx'`` -> f64[n, L].

    The rule adds ``iters·η·x`` to the target column and never touches the
    control column, so ``out1 = w0_1·x' ≈ init_mean·Σx'`` and ``out0 ≈
    init_mean·Σx' + iters·η·(x·x')``.  ``x'`` are the protocol's noisy copies
    (``protocol.noisy_images``, same keys), images: f32[n, d].
    """
    validate.image_shape("images", images, ndim=2)
    eta = validate.non_negative("eta", eta)
    iters = validate.non_negative("iters", iters, integer=True)
    init_mean = validate.positive("init_mean", init_mean)
    levels = validate.severities("levels", levels)
    x = np.asarray(images, np.float64)
    xn = np.asarray(protocol.noisy_images(jnp.asarray(images, jnp.float32), levels, noise_seed),
                    np.float64)                                # f64[L, n, d]
    corr = np.einsum("nd,lnd->nl", x, xn) / xn.sum(axis=-1).T
    return 1.0 + (iters * eta / init_mean) * corr
