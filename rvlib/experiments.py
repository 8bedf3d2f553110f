"""Experiment building blocks for notebooks 01, 03 and 04.

Three groups, each a handful of functions that return plain rows (lists of
dicts) for ``tables.print_rows`` / ``results.save_run`` and figures:

* **Classifiers** (notebooks 01 and 04): ``load_split`` a multi-class dataset,
  ``train_classifier`` (MLP or CNN, optional weight clip) and
  ``classifier_metrics`` on held-out data; ``gradient_clip_sweep`` trains one
  model per clip range.
* **Crossbar sweeps** (notebooks 03 and 04): ``crossbar_sweep`` trains the
  paper's per-image crossbars for several (η, init scale, clip) settings in
  ONE jitted program (η and clip are traced, so a 12-point sweep compiles
  once); ``clip_rows``, ``delta_rows`` and ``init_rows`` turn the results into
  table rows with the paper's numbers next to them.
* **Where the Hebbian SNR comes from**: ``hebbian_snr_prediction`` is the
  closed form ``1 + (iters·η / init_mean)·(x·x')/Σx'`` (PAPER.md §2).

Plot helpers for these rows are at the end (``plot_*``).  ``baseline_setup``
(01), ``hebbian_setup`` (03) and ``hardware_setup`` (04) validate a notebook's
parameters and apply ``quick`` before anything is computed.
"""
from __future__ import annotations

from functools import partial
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from flax import nnx

from rvlib import data, losses, metrics, models, paper, rules, validate
from rvlib.paper import protocol
from rvlib import train as training

MULTICLASS = ("digits", "mnist", "fashion_mnist", "cifar10")
CLASSIFIERS = ("cnn", "mlp")
INIT_SCALE = 0.01          # the paper's crossbar init U[0, 0.01] ...
INIT_MEAN = INIT_SCALE / 2  # ... whose mean sets the Hebbian control output
DEFAULT_ETA = {"hebbian": protocol.HEBB_ETA, "delta": protocol.DELTA_ETA}
# The paper's Hebbian rows by clip range: clip -> mean SNR.
PAPER_CLIP_SNR = {paper.MASTER_TABLE[k][2]: paper.MASTER_TABLE[k][4]
                  for k in ("hebbian", "hebbian_0_2", "hebbian_0_1", "hebbian_0_0.5")}


def clip_label(clip) -> str:
    """``None`` -> ``"none"``, ``(0, 1)`` -> ``"[0, 1]"``."""
    clip = validate.clip_range("clip", clip)
    return "none" if clip is None else f"[{clip[0]:g}, {clip[1]:g}]"


# =============================================================================== notebook setup
# One function per notebook: every parameter through rvlib.validate (papermill passes `-p lr 1`
# as an int, so numbers come back as floats and counts as ints), `quick` applied, nothing
# computed. Each returns a namespace of the values the notebook uses plus `params`, the dict
# the notebook hands to `nb.start_run` (its results.json records it).

def _flag(name: str, value) -> bool:
    return bool(validate.choice(name, value, (True, False)))


def _numbers(name: str, values, check) -> list:
    """A list parameter (a bare number counts as a list of one), each entry through ``check``."""
    values = [values] if isinstance(values, (int, float)) else list(values)
    return [check(f"{name}[{i}]", v) for i, v in enumerate(values)]


def _setup(params: dict, **derived) -> SimpleNamespace:
    # derived values win: e.g. notebook 04 records clip labels but computes with tuples
    return SimpleNamespace(**(params | derived), params=params)


def baseline_setup(*, seed, quick, run_name, n_images, dataset, size, epochs, batch_size, lr,
                   cnn_seed, limit) -> SimpleNamespace:
    """Notebook 01's parameters, validated, with ``quick`` applied.

    ``quick`` keeps the paper protocol (closed-form updates, cheap) and shrinks
    only the CNN: at most 4 epochs and 4000 TFDS training examples.  Returns
    the validated values as attributes plus ``params`` for ``nb.start_run``.
    """
    quick = _flag("quick", quick)
    seed = validate.non_negative("seed", seed, integer=True)
    n_images = validate.positive("n_images", n_images, integer=True)
    dataset = validate.choice("dataset", dataset, MULTICLASS)
    size = None if size is None else validate.positive("size", size, integer=True)
    epochs = validate.positive("epochs", epochs, integer=True)
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    lr = validate.positive("lr", lr)
    cnn_seed = validate.non_negative("cnn_seed", cnn_seed, integer=True)
    limit = validate.positive("limit", limit, integer=True)
    if quick:
        epochs, limit = min(epochs, 4), min(limit, 4000)
    return _setup(dict(seed=seed, quick=quick, run_name=run_name, n_images=n_images,
                       dataset=dataset, size=size, epochs=epochs, batch_size=batch_size, lr=lr,
                       cnn_seed=cnn_seed, limit=limit))


def hebbian_setup(*, seed, quick, run_name, n_images, hebb_eta, delta_eta, iters, eta_ratios,
                  init_scales) -> SimpleNamespace:
    """Notebook 03's parameters, validated, with ``quick`` applied.

    ``eta_ratios`` come back sorted; ``init_scales`` always include the
    paper's ``INIT_SCALE`` (the reference row).  ``quick`` keeps every other
    η ratio.  Returns the validated values as attributes plus ``params`` for
    ``nb.start_run``.
    """
    quick = _flag("quick", quick)
    seed = validate.non_negative("seed", seed, integer=True)
    n_images = validate.positive("n_images", n_images, integer=True)
    hebb_eta = validate.positive("hebb_eta", hebb_eta)
    delta_eta = validate.positive("delta_eta", delta_eta)
    iters = validate.positive("iters", iters, integer=True)
    eta_ratios = sorted(_numbers("eta_ratios", eta_ratios, validate.positive))
    init_scales = _numbers("init_scales", init_scales, validate.positive)
    if INIT_SCALE not in init_scales:
        init_scales.append(INIT_SCALE)
    if quick:
        eta_ratios = eta_ratios[::2]
    return _setup(dict(seed=seed, quick=quick, run_name=run_name, n_images=n_images,
                       hebb_eta=hebb_eta, delta_eta=delta_eta, iters=iters,
                       eta_ratios=eta_ratios, init_scales=init_scales))


def hardware_setup(*, seed, quick, run_name, n_images, eta, iters, clip_ranges, custom_clip,
                   dataset, size, grad_model, epochs, lr, batch_size, grad_seed, signed_clip,
                   limit) -> SimpleNamespace:
    """Notebook 04's parameters, validated, with ``quick`` applied.

    ``clips``: the crossbar ranges as ``(g_min, g_max)`` tuples, unconstrained
    (``None``, the reference) first, then ``clip_ranges`` and ``custom_clip``
    without repeats; ``grad_clips``: ``clips`` plus ``signed_clip`` (gradient
    part).  ``quick`` trains at most 4 epochs.  Returns the validated values
    as attributes plus ``params`` for ``nb.start_run`` (ranges as labels).
    """
    quick = _flag("quick", quick)
    seed = validate.non_negative("seed", seed, integer=True)
    n_images = validate.positive("n_images", n_images, integer=True)
    eta = validate.positive("eta", eta)
    iters = validate.positive("iters", iters, integer=True)
    custom_clip = validate.clip_range("custom_clip", custom_clip)
    signed_clip = validate.clip_range("signed_clip", signed_clip)
    clips = [validate.clip_range(f"clip_ranges[{i}]", c) for i, c in enumerate(clip_ranges)]
    clips = list(dict.fromkeys([None] + clips + [custom_clip]))
    dataset = validate.choice("dataset", dataset, MULTICLASS)
    size = None if size is None else validate.positive("size", size, integer=True)
    grad_model = validate.choice("grad_model", grad_model, CLASSIFIERS)
    epochs = validate.positive("epochs", epochs, integer=True)
    lr = validate.positive("lr", lr)
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    grad_seed = validate.non_negative("grad_seed", grad_seed, integer=True)
    limit = validate.positive("limit", limit, integer=True)
    if quick:
        epochs = min(epochs, 4)
    params = dict(seed=seed, quick=quick, run_name=run_name, n_images=n_images, eta=eta,
                  iters=iters, clips=[clip_label(c) for c in clips], dataset=dataset, size=size,
                  grad_model=grad_model, epochs=epochs, lr=lr, batch_size=batch_size,
                  grad_seed=grad_seed, signed_clip=signed_clip)
    return _setup(params, clips=clips, custom_clip=custom_clip, limit=limit,
                  grad_clips=clips + ([signed_clip] if signed_clip not in clips else []))


# =============================================================================== classifiers

def _resize(images, size):
    if size is None or images.shape[1:3] == (size, size):
        return images
    return data.resize(jnp.asarray(images), (size, size))


def load_split(dataset: str = "digits", *, size: int | None = 16, limit: int | None = None,
               test_limit: int | None = None, test_fraction: float = 0.2, seed: int = 0,
               data_dir=None):
    """A multi-class dataset as ``((x_train, y_train), (x_test, y_test))``, images ``f32[n, h, w, c]``.

    ``digits`` (bundled with scikit-learn, 8x8) is split with a stratified
    ``test_fraction``; the TFDS datasets use their own train/test splits and
    must be prepared beforehand (``data.load_tfds`` explains how when they are
    not).  ``size`` resizes to ``size × size`` (None keeps the native size);
    ``limit`` / ``test_limit`` keep the first examples of each split.
    """
    validate.choice("dataset", dataset, MULTICLASS)
    if size is not None:
        size = validate.positive("size", size, integer=True)
    if dataset == "digits":
        x, y = data.load_digits(size=size)
        train, test = data.train_test_split(x, y, test_fraction=test_fraction, seed=seed)
        cut = lambda s, k: s if k is None else (s[0][:k], s[1][:k])  # noqa: E731
        return cut(train, limit), cut(test, test_limit)
    train = _load_tfds(dataset, "train", limit, data_dir)
    test = _load_tfds(dataset, "test", test_limit, data_dir)
    return (_resize(train[0], size), train[1]), (_resize(test[0], size), test[1])


def _load_tfds(name, split, limit, data_dir):
    return data.load(name, split=split, limit=limit, data_dir=data_dir)


def classifier_metrics(logits, labels) -> dict:
    """Held-out metrics of ``logits: f32[n, k]`` against ``labels: i32[n]``.

    accuracy, nll, ece (15 bins), confidence (mean max softmax), margin
    mean/median (``z_y − max_{j≠y} z_j``) and snr_median (median of
    ``p_y / max_{j≠y} p_j``, the paper's ratio on probabilities).
    """
    logits, labels = jnp.asarray(logits, jnp.float32), jnp.asarray(labels, jnp.int32)
    margin = np.asarray(metrics.logit_margin(logits, labels), np.float64)
    snr = metrics.snr(jax.nn.softmax(logits, axis=-1), labels)
    return {"accuracy": float(metrics.accuracy(logits, labels)),
            "nll": float(metrics.nll(logits, labels)),
            "ece": float(metrics.ece(logits, labels)),
            "confidence": float(jnp.mean(metrics.confidence(logits))),
            "margin_mean": float(margin.mean()), "margin_median": float(np.median(margin)),
            "snr_median": float(np.median(np.asarray(snr, np.float64)))}


def kernel_weights(model: nnx.Module) -> np.ndarray:
    """All ``kernel`` entries of a model (the weights a clip constrains) as one ``f32[m]``."""
    flat = jax.tree_util.tree_flatten_with_path(nnx.state(model, nnx.Param))[0]
    return np.concatenate([np.asarray(a).ravel() for p, a in flat
                           if "kernel" in jax.tree_util.keystr(p)])


def _build(model: str, x, classes: int, seed: int, hidden: int):
    if model == "cnn":
        return models.make_model("cnn", seed=seed, input_shape=x.shape[1:], classes=classes)
    return models.make_model("mlp", seed=seed, in_features=int(np.prod(x.shape[1:])),
                             hidden=hidden, classes=classes)


def train_classifier(train, test, *, model: str = "cnn", loss: str = "cross_entropy",
                     loss_kwargs: dict | None = None, epochs: int = 10, batch_size: int = 64,
                     lr: float = 1e-3, seed: int = 0, clip=None, hidden: int = 128,
                     progress: bool = False):
    """Train a ``cnn`` or ``mlp`` with Adam on ``train`` and evaluate it on the held-out ``test``.

    ``train``/``test``: ``(x: f32[n, h, w, c], y: i32[n])``.  ``clip=(g_min,
    g_max)`` projects every kernel into the range after each update (the
    paper's conductance constraint, ``train.fit(clip=...)``).
    Returns ``(model, history, test_metrics)``: the trained ``nnx.Module``,
    ``train.fit``'s per-epoch history, and ``classifier_metrics`` plus the
    kernels' ``metrics.weight_stats`` (prefixed ``w_``) and ``w_frac_negative``.
    """
    validate.choice("model", model, CLASSIFIERS)
    loss_fn = losses.get_loss(loss, **(loss_kwargs or {}))
    lr = validate.positive("lr", lr)
    hidden = validate.positive("hidden", hidden, integer=True)
    clip = validate.clip_range("clip", clip)
    classes = int(max(np.max(train[1]), np.max(test[1]))) + 1
    net = _build(model, np.asarray(train[0]), classes, seed, hidden)
    graphdef, state, history = training.fit(
        net, optax.adam(lr), loss_fn, train, test, epochs=epochs, batch_size=batch_size,
        seed=seed, clip=clip, progress=progress)
    logits = training.predict(graphdef, state, test[0])
    trained = training.to_model(graphdef, state)
    w = kernel_weights(trained)
    stats = {f"w_{k}": v for k, v in metrics.weight_stats(w, clip=clip).items()}
    return trained, history, (classifier_metrics(logits, test[1]) | stats
                              | {"w_frac_negative": float(np.mean(w < 0))})


def gradient_clip_sweep(train, test, clips, *, model: str = "mlp", **kwargs) -> list[dict]:
    """One ``train_classifier`` per clip range (same seed and data) -> rows.

    Each row: ``clip`` (label), g_min, g_max, the test metrics and, when
    ``clips`` holds ``None``, ``accuracy_change_pts`` and ``margin_change``
    against that unconstrained model.
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


# =============================================================================== crossbars

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


def crossbar_sweep(images, configs, *, rule: str = "hebbian", iters: int = protocol.HEBB_ITERS,
                   levels=paper.NOISE_LEVELS, seed: int = protocol.PAPER_SEED,
                   noise_seed: int = protocol.NOISE_SEED) -> list[dict]:
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
    lo = jnp.asarray([-np.inf if c["clip"] is None else c["clip"][0] for c in cfg], jnp.float32)
    hi = jnp.asarray([np.inf if c["clip"] is None else c["clip"][1] for c in cfg], jnp.float32)
    out = jax.tree.map(np.asarray, _sweep_program(
        jnp.asarray(images, jnp.float32), col("eta"), col("init_scale"), lo, hi, rule, iters,
        levels, int(seed), int(noise_seed)))
    return [{k: v[i] for k, v in out.items()} | cfg[i] | {"rule": rule, "iters": iters}
            for i in range(len(cfg))]


@partial(jax.jit, static_argnums=(5, 6, 7, 8, 9))
def _sweep_program(x, etas, scales, lo, hi, rule, iters, levels, seed, noise_seed):
    n, d = x.shape
    w_paper = protocol.init_crossbars(seed, n, d)           # U[0, 0.01], key seed + i
    t = jnp.asarray(protocol.TARGET, jnp.float32)
    update = {"hebbian": rules.hebbian_update, "delta": rules.delta_update}[rule]

    def train_one(w, xi, eta, lo, hi):
        # clip to (-inf, inf) is the identity, so "no clip" needs no separate program
        body = lambda w, _: (jnp.clip(update(w, xi, t, eta), lo, hi), None)  # noqa: E731
        return jax.lax.scan(body, w, None, length=iters)[0]

    def one_setting(eta, s, lo, hi):
        return jax.vmap(train_one, (0, 0, None, None, None))(w_paper * (s / INIT_SCALE), x,
                                                             eta, lo, hi)

    w = jax.vmap(one_setting)(etas, scales, lo, hi)         # f32[K, n, d, 2]
    xn = protocol.noisy_images(x, levels, noise_seed)        # f32[L, n, d]
    return {"outputs": jnp.einsum("lnd,kndc->knlc", xn, w),
            "clean": jnp.einsum("nd,kndc->knc", x, w),
            "weights": w, "diverged": ~jnp.all(jnp.isfinite(w), axis=(2, 3))}


def _summary(r: dict, levels) -> dict:
    row = protocol.summarize_method(r, levels)
    keep = ("snr_mean", "snr_median", "snr_top5_share", "accuracy", "accuracy_at_0.5",
            "out0_mean", "out1_mean", "frac_control_negative")
    return {k: row[k] for k in keep if k in row} | {
        k: row[k] for k in row if k.startswith("w_") or k == "diverged"}


def clip_rows(results: list[dict], *, levels=paper.NOISE_LEVELS) -> list[dict]:
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


def delta_rows(images, results: list[dict], *, levels=paper.NOISE_LEVELS) -> list[dict]:
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


def init_rows(images, results: list[dict], *, levels=paper.NOISE_LEVELS) -> list[dict]:
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


def hebbian_snr_prediction(images, *, eta: float = protocol.HEBB_ETA,
                           iters: int = protocol.HEBB_ITERS, init_mean: float = INIT_MEAN,
                           levels=paper.NOISE_LEVELS,
                           noise_seed: int = protocol.NOISE_SEED) -> np.ndarray:
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


# =============================================================================== plots

def plot_snr_comparison(rows: list[dict], *, title: str = "") -> plt.Figure:
    """Mean and median SNR per method (bars) with the paper's mean SNR (diamonds), symlog y.

    rows: ``protocol.paper_table`` rows (label, snr_mean, snr_median, paper_snr).
    """
    fig, ax = plt.subplots(figsize=(max(6.0, 0.95 * len(rows)), 3.8))
    xs = np.arange(len(rows))
    ax.bar(xs - 0.2, [r["snr_mean"] for r in rows], 0.4, label="measured mean")
    ax.bar(xs + 0.2, [r["snr_median"] for r in rows], 0.4, label="measured median")
    ax.plot(xs, [r.get("paper_snr") or np.nan for r in rows], "D", color="C3", ms=7,
            label="paper (mean)")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_yscale("symlog", linthresh=1.0)
    vals = np.array([[r["snr_mean"], r["snr_median"], r.get("paper_snr") or 0.0] for r in rows])
    vals = vals[np.isfinite(vals)]
    # headroom above the largest value for the legend, symmetric decades below zero
    ax.set_ylim(-10 * max(1.0, -vals.min()), 30 * max(1.0, vals.max()))
    ax.set_xticks(xs, [r["label"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel("SNR = out0 / (out1 + 1e-9)\n(symlog: linear in [-1, 1])")
    ax.legend(fontsize=8, ncols=3, loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_clip_sweep(rows: list[dict], *, title: str = "") -> plt.Figure:
    """Left: SNR mean/median per clip range with ceilings and the paper; right: penalty vs paper."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    xs = np.arange(len(rows))
    labels = [r["clip"] for r in rows]
    a.bar(xs - 0.2, [r["snr_mean"] for r in rows], 0.4, label="measured mean")
    a.bar(xs + 0.2, [r["snr_median"] for r in rows], 0.4, label="measured median")
    a.plot(xs, [r["ceiling"] for r in rows], "_", color="k", ms=28, mew=2,
           label="ceiling g_max / 0.005")
    a.plot(xs, [np.nan if r["paper_snr"] is None else r["paper_snr"] for r in rows], "D",
           color="C3", label="paper")
    a.set_yscale("log")
    a.set_xticks(xs, labels)
    a.set_xlabel("conductance range [g_min, g_max]")
    a.set_ylabel("SNR (log scale)")
    a.legend(fontsize=8)
    b.bar(xs - 0.2, [r["penalty_mean_pct"] for r in rows], 0.4, label="measured (mean SNR)")
    b.bar(xs + 0.2, [np.nan if r["paper_penalty_pct"] is None else r["paper_penalty_pct"]
                     for r in rows], 0.4, color="C3", label="paper")
    b.set_xticks(xs, labels)
    b.set_xlabel("conductance range [g_min, g_max]")
    b.set_ylabel("SNR change vs unconstrained (%)")
    b.axhline(0, color="k", lw=0.8)
    b.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_eta_sweep(rows: list[dict], *, paper_eta: float | None = None,
                   title: str = "") -> plt.Figure:
    """Delta rule vs η / (median 2/‖x‖²): accuracy and share of stable images, SNR, weight scale."""
    rows = sorted(rows, key=lambda r: r["eta_over_limit"])
    r_ = [r["eta_over_limit"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    axes[0].plot(r_, [r["accuracy"] for r in rows], "o-", label="accuracy (noisy inputs)")
    axes[0].plot(r_, [r["fraction_stable"] for r in rows], "s--", label="share with η‖x‖² < 2")
    axes[0].set_ylabel("fraction")
    axes[0].legend(fontsize=8)
    axes[1].plot(r_, [r["snr_median"] for r in rows], "o-", label="median")
    axes[1].plot(r_, [r["snr_mean"] for r in rows], "s--", label="mean")
    axes[1].set_ylabel("SNR")
    axes[1].legend(fontsize=8)
    axes[2].plot(r_, [r["w_absmax"] for r in rows], "o-")
    axes[2].set_yscale("log")
    axes[2].set_ylabel("max |w| after 30 updates")
    for ax in axes:
        ax.set_xscale("log")
        ax.axvline(1.0, color="k", ls=":", lw=1)
        if paper_eta is not None:
            ax.axvline(paper_eta, color="C3", ls="--", lw=1)
        ax.set_xlabel("η / median(2/‖x‖²)")
    axes[0].text(1.0, 0.5, " limit", fontsize=8, transform=axes[0].get_xaxis_transform())
    if paper_eta is not None:
        axes[0].text(paper_eta, 0.3, " paper η", color="C3", fontsize=8,
                     transform=axes[0].get_xaxis_transform())
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_gradient_clips(rows: list[dict], *, title: str = "") -> plt.Figure:
    """Held-out accuracy, median margin, and where the kernel weights sit, per clip range."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    xs = np.arange(len(rows))
    colors = [f"C{i}" for i in range(len(rows))]
    for ax, key, label in [(axes[0], "accuracy", "test accuracy"),
                           (axes[1], "margin_median", "median test margin z_y − max z_j")]:
        ax.bar(xs, [r[key] for r in rows], color=colors)
        ax.set_ylabel(label)
    axes[0].set_ylim(max(0.0, min(r["accuracy"] for r in rows) - 0.1), 1.0)
    axes[2].bar(xs - 0.2, [r["w_frac_negative"] for r in rows], 0.4, color="C7", label="w < 0")
    axes[2].bar(xs + 0.2, [r["w_frac_at_min"] for r in rows], 0.4, color="C3",
                label="pinned at g_min")
    axes[2].set_ylabel("share of kernel weights")
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.set_xticks(xs, [r["clip"] for r in rows], rotation=30, ha="right")
        ax.set_xlabel("weight range during training")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
