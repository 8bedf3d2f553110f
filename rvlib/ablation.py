"""λ ablation and corruption sweeps used by notebooks 02 (margin ablation) and 05 (noise robustness).

Three pieces:

* The paper protocol per λ (:func:`paper_lambda_rows`): the published per-image
  MLP trained with ``Σ(out − t)² − λ·log(max(out0 − out1, 0.1))`` and summarised
  by the numbers that tell what λ actually does (mean *and* median SNR, the
  logit margin ``out0 − out1``, ``out0``, how often the control output is
  negative).  :func:`paper_response` / :func:`lambda_explorer` recompute one
  image live for a slider.
* The controlled version (:func:`train_lambda_models`, :func:`classifier_metrics`,
  :func:`seed_table`, :func:`linear_fit`): multi-class models trained on a
  held-out split with cross-entropy + λ·log-margin, all (λ, seed) pairs as one
  vmapped program through :func:`rvlib.batched.fit_many`.
* The paper protocol's per-image models under all four corruptions
  (:func:`paper_protocol_under_corruptions`); the protocol itself only
  evaluates Gaussian noise.

:func:`margin_setup` (02) and :func:`robustness_setup` (05) validate a notebook's
parameters and apply ``quick`` before anything is computed.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from rvlib import batched, corruptions, experiments, metrics, paper, validate
from rvlib.paper import protocol

__all__ = [
    "binary_summary", "paper_lambda_rows", "plot_paper_lambda", "paper_response",
    "plot_paper_response",
    "lambda_explorer", "train_lambda_models", "classifier_metrics", "seed_table", "pivot",
    "linear_fit", "half_noise_summary", "paper_protocol_under_corruptions", "PROTOCOL_METHODS",
    "margin_setup", "robustness_setup",
]

# Method keys of the paper protocol (protocol.METHOD_LABELS) -> how to build them.
PROTOCOL_METHODS = {
    "hebbian": ("hebbian", None),
    "hebbian_0_1": ("hebbian", (0.0, 1.0)),
    "mlp_standard": ("mlp", 0.0),
    "mlp_margin1": ("mlp", 1.0),
    "mlp_margin10": ("mlp", 10.0),
}


def _lams(name: str, values) -> list[float]:
    values = [values] if isinstance(values, (int, float)) else list(values)
    if not values:
        validate.fail(name, values, "must contain at least one λ >= 0")
    return [validate.non_negative(f"{name}[{i}]", v) for i, v in enumerate(values)]


def _seeds(name: str, values) -> list[int]:
    values = [values] if isinstance(values, int) else list(values)
    if not values:
        validate.fail(name, values, "must contain at least one seed")
    out = [validate.non_negative(f"{name}[{i}]", v, integer=True) for i, v in enumerate(values)]
    if len(set(out)) != len(out):
        validate.fail(name, values, "must not repeat a seed")
    return out


# ----------------------------------------------------------------------------- paper protocol

def binary_summary(outputs) -> dict:
    """The paper's binary read-out of ``outputs: f[..., 2]`` (out0 target, out1 control), float64.

    ``snr = out0 / (out1 + 1e-9)``; ``margin = out0 − out1``; correct iff
    ``out0 > out1``.  Returns snr_mean, snr_median, snr_top5_share (share of
    Σ|SNR| carried by the 5 largest |SNR|), margin_median, margin_mean,
    out0_mean, out0_median, out1_median, frac_control_negative, accuracy.
    """
    out = np.asarray(outputs, np.float64)
    if out.ndim < 1 or out.shape[-1] != 2:
        validate.fail("outputs.shape", out.shape, "must end in 2 (target, control)")
    out = out.reshape(-1, 2)
    snr = out[:, 0] / (out[:, 1] + 1e-9)
    margin = out[:, 0] - out[:, 1]
    s = metrics.summarize(snr)
    return {"snr_mean": s["mean"], "snr_median": s["median"], "snr_top5_share": s["top_share"],
            "margin_median": float(np.median(margin)), "margin_mean": float(np.mean(margin)),
            "out0_mean": float(out[:, 0].mean()), "out0_median": float(np.median(out[:, 0])),
            "out1_median": float(np.median(out[:, 1])),
            "frac_control_negative": float(np.mean(out[:, 1] < 0)),
            "accuracy": float(np.mean(out[:, 0] > out[:, 1]))}


def paper_lambda_rows(images, lams, *, levels=paper.NOISE_LEVELS, seed: int = protocol.PAPER_SEED,
                      noise_seed: int = protocol.NOISE_SEED) -> list[dict]:
    """One row per λ of the paper's per-image MLP (``protocol.run_mlp``), images: f32[n, d].

    Row: ``lam``, :func:`binary_summary` over images × noise levels, and
    ``clean_margin_median`` / ``clean_snr_median`` / ``clean_out0_mean`` on the
    training images themselves.
    """
    lams = _lams("lams", lams)
    res = protocol.run_mlp(images, lams, levels=levels, seed=seed, noise_seed=noise_seed)
    rows = []
    for k, lam in enumerate(lams):
        clean = binary_summary(res["clean"][k])
        rows.append({"lam": lam} | binary_summary(res["outputs"][k]) | {
            "clean_margin_median": clean["margin_median"], "clean_snr_median": clean["snr_median"],
            "clean_out0_mean": clean["out0_mean"]})
    return rows


def paper_response(image, lam: float, *, levels=paper.NOISE_LEVELS,
                   seed: int = protocol.PAPER_SEED) -> dict:
    """The paper's MLP trained on one ``image: f32[d]`` with ``lam``, read at σ = 0 and ``levels``.

    Returns NumPy ``sigma: f64[1 + L]`` (0 first), ``out0``, ``out1``, ``snr``,
    ``margin`` (each ``f64[1 + L]``) and ``lam``.  λ is a traced value inside
    ``run_mlp``, so moving a slider does not recompile.
    """
    x = np.asarray(image, np.float32).reshape(1, -1)
    lam = validate.non_negative("lam", lam)
    res = protocol.run_mlp(x, [lam], levels=levels, seed=seed)
    out = np.concatenate([res["clean"][0], res["outputs"][0, 0]]).astype(np.float64)
    return {"lam": lam, "sigma": np.concatenate([[0.0], np.asarray(levels, np.float64)]),
            "out0": out[:, 0], "out1": out[:, 1], "margin": out[:, 0] - out[:, 1],
            "snr": out[:, 0] / (out[:, 1] + 1e-9)}


def plot_paper_lambda(rows: Sequence[dict], *, reference: dict | None = None) -> plt.Figure:
    """Three panels for :func:`paper_lambda_rows` vs λ (symlog x): what the loss moves
    (median margin, mean out0), the share of negative control outputs, and the SNR
    (mean and median, symlog y) with ``reference`` ``{λ: paper's mean SNR}`` as markers.
    """
    rows = sorted(rows, key=lambda r: r["lam"])
    lam = [r["lam"] for r in rows]
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(11.5, 3.3))
    a.plot(lam, [r["margin_median"] for r in rows], "o-", ms=4, label="margin out0 − out1 (median)")
    a.plot(lam, [r["out0_mean"] for r in rows], "s-", ms=4, label="out0 (mean)")
    a.set_ylabel("output")
    a.legend(fontsize=8)
    b.plot(lam, [r["frac_control_negative"] for r in rows], "o-", ms=4, color="C2")
    b.set_ylim(-0.05, 1.05)
    b.set_ylabel("share of rows with out1 < 0")
    c.plot(lam, [r["snr_mean"] for r in rows], "o-", ms=4, label="SNR mean (rvlib)")
    c.plot(lam, [r["snr_median"] for r in rows], "s--", ms=4, label="SNR median (rvlib)")
    if reference:
        ref = sorted(reference.items())
        c.plot([k for k, _ in ref], [v for _, v in ref], "D", color="C3", label="paper (mean)")
    c.axhline(0.0, color="k", lw=0.8)
    c.set_yscale("symlog", linthresh=1.0)
    c.set_ylabel("SNR = out0 / (out1 + 1e-9)")
    c.legend(fontsize=8)
    c.margins(y=0.08)
    for ax in (a, b, c):
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlim(-0.02, 1.5 * max(lam) if max(lam) > 0 else 1.0)
        ax.set_xlabel("λ (symlog axis)")
    fig.suptitle("paper protocol: per-image MLP, images × Gaussian noise levels")
    fig.tight_layout()
    return fig


def plot_paper_response(resp: dict) -> plt.Figure:
    """Two panels for :func:`paper_response`: outputs and margin vs σ, and SNR vs σ (symlog)."""
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.0))
    a, b = axes
    a.plot(resp["sigma"], resp["out0"], "o-", ms=3, label="out0 (target)")
    a.plot(resp["sigma"], resp["out1"], "s-", ms=3, label="out1 (control)")
    a.plot(resp["sigma"], resp["margin"], "^--", ms=3, label="margin out0 − out1")
    a.axhline(0.0, color="k", lw=0.8)
    a.set_xlabel("Gaussian noise σ (0 = training image)")
    a.set_ylabel("output")
    a.legend(fontsize=8)
    b.plot(resp["sigma"], resp["snr"], "o-", ms=3, color="C3")
    b.axhline(0.0, color="k", lw=0.8)
    if np.max(np.abs(resp["snr"])) > 50:  # near-zero control outputs: decades of SNR
        b.set_yscale("symlog", linthresh=1.0)
    b.set_xlabel("Gaussian noise σ")
    b.set_ylabel("SNR = out0 / (out1 + 1e-9)")
    fig.suptitle(f"paper protocol, one image, λ = {resp['lam']:g}")
    fig.tight_layout()
    return fig


def lambda_explorer(image, *, lams: Sequence[float] = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 20.0, 50.0),
                    value: float = 1.0, levels=paper.NOISE_LEVELS):
    """An ipywidgets slider over ``lams`` that retrains the paper's MLP on ``image`` and redraws.

    Returns the ``VBox(slider, output)``.  Nothing is drawn until the slider
    moves, so executing the cell (papermill, nbval) has a fixed output: show
    the initial state with ``plot_paper_response(paper_response(image, value))``.
    """
    import ipywidgets as widgets

    lams = _lams("lams", lams)
    value = validate.non_negative("value", value)
    if value not in lams:
        lams = sorted(set(lams) | {value})
    slider = widgets.SelectionSlider(options=[(f"{v:g}", v) for v in lams], value=value,
                                     description="λ", continuous_update=False)
    out = widgets.Output()

    def redraw(change):
        with out:
            out.clear_output(wait=True)
            plot_paper_response(paper_response(image, change["new"], levels=levels))
            plt.show()

    slider.observe(redraw, names="value")
    return widgets.VBox([slider, out])


# ----------------------------------------------------------------------------- controlled

def train_lambda_models(make_model, train, test, *, lams, seeds, epochs: int,
                        batch_size: int = 64, lr: float = 1e-3, extra=(),
                        progress: bool = False) -> dict:
    """Train one model per (λ, seed) with ``margin_loss(base="ce", lam=λ)``, Adam(``lr``).

    ``make_model(seed) -> nnx.Module``; ``train``/``test``: ``(x, y)`` pairs;
    ``extra``: additional ``(lam, seed)`` pairs to train besides the grid.
    All models train as one vmapped program (``rvlib.batched.fit_many``),
    each exactly as ``train.fit`` would train it alone.
    Returns ``{"configs": [{"lam", "seed"}...], "models": [nnx.Module...],
    "histories": [[epoch dicts]...], "fit": BatchedFit}`` in grid order
    (λ-major), extras last.
    """
    lams, seeds = _lams("lams", lams), _seeds("seeds", seeds)
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
    fit = batched.fit_many(make_model, [c | {"base": "ce"} for c in configs], train, test,
                           loss="margin_loss", epochs=epochs, batch_size=batch_size,
                           optimizer="adam", progress=progress)
    return {"configs": [{"lam": c["lam"], "seed": c["seed"]} for c in configs],
            "models": [fit.model(i) for i in range(len(configs))],
            "histories": list(fit.histories), "fit": fit}


def classifier_metrics(model, x, y, *, batch_size: int = 1024) -> dict:
    """Test metrics of a multi-class ``model`` on ``x: f32[n, ...]``, ``y: i32[n]`` (floats).

    The logits are computed in batches; the metrics are ``experiments.classifier_metrics``
    (accuracy, nll, ece, confidence, margin mean/median, snr_median).
    """
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32)
    logits = jnp.concatenate([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    return experiments.classifier_metrics(logits, y)


def seed_table(rows: Sequence[dict], by, keys: Sequence[str]) -> list[dict]:
    """Average ``keys`` over rows sharing ``by`` (e.g. the seeds of one λ): mean, ``<key>_std``, ``n``.

    ``by``: one key or a tuple of keys (e.g. ``("model", "corruption",
    "severity")``); rows come out sorted by it; std is the population std
    (0 for one seed).
    """
    if not rows:
        validate.fail("rows", list(rows), "must contain at least one row")
    by = (by,) if isinstance(by, str) else tuple(by)
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    out = []
    for g in sorted(groups):
        rs = groups[g]
        row = dict(zip(by, g)) | {"n": len(rs)}
        for k in keys:
            v = np.asarray([r[k] for r in rs], np.float64)
            row[k], row[f"{k}_std"] = float(v.mean()), float(v.std())
        out.append(row)
    return out


def pivot(rows: Sequence[dict], index: Sequence[str], column: str, value: str,
          fmt=lambda c: f"{c:g}") -> list[dict]:
    """Wide table for printing: one row per ``index`` tuple, one column per ``column`` value.

    E.g. accuracy per (model, corruption) with severities as columns; column
    names are ``fmt(column value)``; rows keep first-seen order.
    """
    out: dict = {}
    for r in rows:
        key = tuple(r[k] for k in index)
        out.setdefault(key, dict(zip(index, key)))[fmt(r[column])] = r[value]
    return list(out.values())


def linear_fit(x, y) -> dict:
    """Least-squares line ``y ≈ slope·x + intercept`` and its R² (float64).

    R² = 1 − SS_res / SS_tot; NaN when ``y`` is constant.  ``top_point_share``:
    the share of SS_tot = Σ(y − ȳ)² carried by the single point farthest from
    ȳ; near 1 means one point makes the fit (e.g. values spanning decades),
    so a high R² says little about the shape.  Needs ≥ 2 points and two
    distinct x values.
    """
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if x.shape != y.shape:
        validate.fail("y.shape", y.shape, f"must match x.shape {x.shape}")
    if x.size < 2 or np.unique(x).size < 2:
        validate.fail("x", x.tolist(), "must hold at least two distinct values")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        validate.fail("y", y.tolist(), "must be finite")
    slope, intercept = np.polyfit(x, y, 1)
    ss_res = float(np.sum((y - (slope * x + intercept)) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
    top = float(np.max((y - y.mean()) ** 2)) / ss_tot if ss_tot > 0 else math.nan
    return {"slope": float(slope), "intercept": float(intercept), "r2": r2,
            "top_point_share": top, "n": int(x.size)}


def half_noise_summary(base: dict, marg: dict, *, lam_margin: float) -> dict:
    """The paper's σ = 0.5 checkpoint: baseline vs margin model next to the paper's accuracies.

    ``base`` / ``marg``: the two models' :func:`seed_table` rows at Gaussian
    severity 0.5 (accuracy, accuracy_std, degradation, margin_median).
    Returns a flat dict with both models' numbers, the paper's
    (``paper.ACCURACY_AT_HALF``) and the two checklist items
    (``paper.CHECKLIST[2]``: margin model keeps > 85%, ``[3]``: baseline < 70%).
    """
    thr_m, thr_b = paper.CHECKLIST[2][3], paper.CHECKLIST[3][3]
    return {"lam_margin": lam_margin, "baseline_accuracy": base["accuracy"],
            "baseline_accuracy_std": base["accuracy_std"],
            "margin_accuracy": marg["accuracy"], "margin_accuracy_std": marg["accuracy_std"],
            "baseline_degradation": base["degradation"], "margin_degradation": marg["degradation"],
            "baseline_margin_median": base["margin_median"],
            "margin_margin_median": marg["margin_median"],
            "paper_baseline_accuracy": paper.ACCURACY_AT_HALF["mlp_standard"],
            "paper_margin_accuracy": paper.ACCURACY_AT_HALF["mlp_margin10"],
            "checklist_margin_keeps_85": bool(marg["accuracy"] > thr_m),
            "checklist_baseline_below_70": bool(base["accuracy"] < thr_b)}


# ----------------------------------------------------------------------------- corruptions

def paper_protocol_under_corruptions(images, *, methods: Sequence[str] = tuple(PROTOCOL_METHODS),
                                     corruption_names: Sequence[str] = tuple(
                                         corruptions.CORRUPTIONS),
                                     severities=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
                                     seed: int = protocol.PAPER_SEED, noise_seed: int = 0
                                     ) -> list[dict]:
    """The paper's per-image models, each read on corrupted copies of its own training image.

    images: f32[n, h, w, c] in [0, 1] (the protocol trains on the flattened
    images).  ``methods``: keys of :data:`PROTOCOL_METHODS` (Hebbian crossbars
    with the paper's η = 0.2 × 30, MLPs with the paper's λ).  Every
    (corruption, severity) pair gets its own key from ``key(noise_seed)``
    (``corruptions.corrupt_grid(key(noise_seed), images, corruption_names,
    severities)``: the same call gives the same images); all methods see the
    same corrupted images.
    One row per (method, corruption, severity): :func:`binary_summary` plus
    ``degradation`` (accuracy on the clean image − accuracy).
    """
    methods = [validate.choice(f"methods[{i}]", m, PROTOCOL_METHODS) for i, m in enumerate(methods)]
    if not methods:
        validate.fail("methods", methods, "must name at least one of "
                       + ", ".join(repr(m) for m in PROTOCOL_METHODS))
    names = list(corruption_names)
    sev = validate.severities("severities", severities)
    validate.image_shape("images", images)
    noise_seed = validate.non_negative("noise_seed", noise_seed, integer=True)
    imgs = jnp.asarray(images, jnp.float32)
    n = imgs.shape[0]
    x = imgs.reshape(n, -1)
    # Severity 0 returns the image bit for bit; add it only if missing, so a caller
    # that corrupt_grid-s the same images with the same key and severities gets
    # exactly these inputs (and reuses the compiled grid).
    run_sev = sev if 0.0 in sev else sev + [0.0]
    clean_idx = run_sev.index(0.0)
    grid = corruptions.corrupt_grid(jax.random.key(noise_seed), imgs, names, run_sev)
    xe = jnp.stack([grid[c].reshape(len(run_sev), n, -1) for c in names])  # f32[C, S, n, d]
    xe = xe.reshape(-1, n, x.shape[1]).swapaxes(0, 1)                      # f32[n, C·S, d]
    outs = {m: _protocol_outputs(m, x, xe, seed) for m in methods}
    rows = []
    for m in methods:
        o = outs[m].reshape(n, len(names), len(run_sev), 2)
        for j, c in enumerate(names):
            clean_acc = binary_summary(o[:, j, clean_idx])["accuracy"]
            for k, s in enumerate(sev):
                r = binary_summary(o[:, j, k])
                rows.append({"method": m, "corruption": c, "severity": s} | r
                            | {"degradation": clean_acc - r["accuracy"]})
    return rows


def _protocol_outputs(method: str, x, xe, seed: int) -> np.ndarray:
    """f32[n, m, 2]: the method's model for image i applied to ``xe[i]: f32[m, d]``."""
    kind, arg = PROTOCOL_METHODS[method]
    if kind == "hebbian":
        w = protocol.run_crossbar(x, rule="hebbian", eta=protocol.HEBB_ETA,
                                  iters=protocol.HEBB_ITERS, clip=arg, levels=[0.0],
                                  seed=seed)["weights"]
        return np.asarray(jnp.einsum("nmd,ndk->nmk", xe, jnp.asarray(w)))
    return np.asarray(_mlp_outputs(x, xe, jnp.float32(arg), seed))


@partial(jax.jit, static_argnums=3)
def _mlp_outputs(x, xe, lam, seed):
    n, d = x.shape
    p0 = protocol.init_mlps(seed, n, d)

    def per_image(p, xi, xei):
        q = protocol.train_mlp_lowrank(p, xi, lam)
        return protocol.lowrank_forward(q, p["w1"], xi, xei)

    return jax.vmap(per_image)(p0, x, xe)


# ----------------------------------------------------------------------------- notebook setup
# One function per notebook: every parameter through rvlib.validate (papermill passes `-p lam 10`
# as an int, so λ comes back as a float), `quick` applied, nothing computed. Each returns a
# namespace of the values the notebook uses plus `params`, the dict it hands to `nb.start_run`.

def _sorted_lams(name: str, values, *also: float) -> list[float]:
    """``values`` (a bare number: a list of one) as sorted distinct floats, with ``also`` added."""
    values = [values] if isinstance(values, (int, float)) else list(values)
    return sorted({validate.non_negative(f"{name}[{i}]", v) for i, v in enumerate(values)}
                  | set(also))


def _training(seeds, epochs, lr, batch_size, hidden) -> dict:
    return dict(seeds=_seeds("seeds", seeds),
                epochs=validate.positive("epochs", epochs, integer=True),
                lr=validate.positive("lr", lr),
                batch_size=validate.positive("batch_size", batch_size, integer=True),
                hidden=validate.positive("hidden", hidden, integer=True))


def margin_setup(*, seed, quick, run_name, lam, lams_paper, lams_controlled, seeds, epochs, lr,
                 batch_size, hidden, n_images) -> SimpleNamespace:
    """Notebook 02's parameters, validated, with ``quick`` applied.

    ``lam`` is added to both λ lists (sorted, no repeats), so its model is
    always part of the sweeps.  ``quick`` trains one seed (``seed``) for at
    most 20 epochs.  Returns the validated values as attributes plus
    ``params`` for ``nb.start_run``.
    """
    quick = bool(validate.choice("quick", quick, (True, False)))
    seed = validate.non_negative("seed", seed, integer=True)
    lam = validate.non_negative("lam", lam)
    lams_paper = _sorted_lams("lams_paper", lams_paper, lam)
    lams_controlled = _sorted_lams("lams_controlled", lams_controlled, lam)
    train = _training(seeds, epochs, lr, batch_size, hidden)
    n_images = validate.positive("n_images", n_images, integer=True)
    if quick:  # one seed, a short schedule: same code path, minutes -> seconds
        train["seeds"], train["epochs"] = [seed], min(train["epochs"], 20)
    params = dict(seed=seed, quick=quick, run_name=run_name, lam=lam, lams_paper=lams_paper,
                  lams_controlled=lams_controlled, **train, n_images=n_images)
    return SimpleNamespace(**params, params=params)


def robustness_setup(*, seed, quick, run_name, lams, lam_margin, seeds, epochs, lr, batch_size,
                     hidden, severities, n_scenes) -> SimpleNamespace:
    """Notebook 05's parameters, validated, with ``quick`` applied.

    ``lams`` (sorted, no repeats) must hold 0 (the cross-entropy baseline) and
    ``lam_margin > 0`` (the margin model); ``severities`` must hold 0.0
    (clean) and 0.5 (the paper's checkpoint).  ``quick`` keeps the first
    seed, at most 15 epochs and 10 depth scenes.  Returns the validated
    values as attributes plus ``params`` for ``nb.start_run``.
    """
    quick = bool(validate.choice("quick", quick, (True, False)))
    seed = validate.non_negative("seed", seed, integer=True)
    lams = _sorted_lams("lams", lams)
    lam_margin = validate.non_negative("lam_margin", lam_margin)
    if 0.0 not in lams or lam_margin not in lams or lam_margin == 0.0:
        validate.fail("lams", lams,
                       f"must contain 0 (the baseline) and lam_margin={lam_margin} > 0")
    train = _training(seeds, epochs, lr, batch_size, hidden)
    n_scenes = validate.positive("n_scenes", n_scenes, integer=True)
    severities = validate.severities("severities", severities)
    if 0.0 not in severities or 0.5 not in severities:
        validate.fail("severities", severities, "must contain 0.0 (clean) and 0.5")
    if quick:  # one seed, a shorter schedule, fewer scenes: same code path
        train["seeds"], train["epochs"] = train["seeds"][:1], min(train["epochs"], 15)
        n_scenes = min(n_scenes, 10)
    params = dict(seed=seed, quick=quick, run_name=run_name, lams=lams, lam_margin=lam_margin,
                  **train, severities=severities, n_scenes=n_scenes)
    return SimpleNamespace(**params, params=params)
