"""The paper's per-image protocol, run for every image (and every λ) at once.

Protocol (docs/protocol.md, from the authors' script "HONEST SCIENTIFIC
INVESTIGATION: What REALLY Improves Robustness?" v2.0): one model per image
``x: f32[4096]``, target ``t = [1, 0]`` (output 0 "target", output 1
"control"); crossbars trained with the Hebbian or delta rule; a 2-layer MLP
4096→128→2 (ReLU, no biases) trained by the authors' hand-written update
(``update="published"``, the default) or, as a named variant, by the exact
gradient of the stated loss ``Σ(out − t)² − λ·log(max(m, 0.1))``
(``update="gradient"``, optionally with biases); evaluation on
``clip(x + σ·N(0, 1), 0, 1)`` for σ in 0.1..0.7 with one noise draw per image
(key ``99 + i``, reused across levels as published);
``SNR = out0 / (out1 + 1e-9)``, correct iff ``out0 > out1``.

Two engines train the MLP:

* ``"dense"`` iterates the update on the full ``W1: f32[4096, 128]``.
* ``"lowrank"`` (default) uses that every W1 step (published or gradient) is an
  outer product with the one training image: ``W1(t) = W1(0) + outer(x, c(t))``,
  so the hidden pre-activation is ``x·W1(0) + ‖x‖²·c (+ b1)`` and training is
  a 128-dim recurrence on ``c``.  Exact in exact arithmetic (tests compare both
  engines with a NumPy transcription of the authors' loop); it removes the
  4096×128 matrix from the training loop entirely.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rvlib import data, losses, paper, rules, stats, validate
from rvlib.hardware.clip import bounds

from rvlib.paper.reference import (DELTA_ETA, DELTA_ITERS, HEBB_ETA, HEBB_ITERS,  # noqa: F401
                                   MARGIN_FLOOR, METHODS, MLP_HIDDEN, MLP_ITERS, MLP_LR,
                                   NOISE_SEED, PAPER_SEED, TARGET)

ENGINES = ("lowrank", "dense")
# "published": the authors' hand-written step; "gradient": exact gradient of the stated loss.
UPDATES = ("published", "gradient")


@dataclass(frozen=True)
class MlpUpdate:
    """One named MLP training choice of the notebooks: ``update`` and ``bias`` for :func:`run_mlp`."""
    name: str
    update: str
    bias: bool
    label: str


# The notebooks' ``update`` parameter picks one; they show the others next to it.
MLP_UPDATES = {u.name: u for u in (
    MlpUpdate("published", "published", False, "published (authors' script, no biases)"),
    MlpUpdate("gradient", "gradient", False, "exact gradient, no biases"),
    MlpUpdate("gradient_bias", "gradient", True, "exact gradient, with biases"),
)}


def per_image_keys(seed: int, n: int):
    """The published scheme: image ``i`` uses ``key(seed + i)`` (one key per image)."""
    return jax.vmap(jax.random.key)(seed + jnp.arange(n))


def init_crossbars(seed: int, n: int, d: int, k: int = 2):
    """``f32[n, d, k]`` conductances, U[0, 0.01] per image with key ``seed + i``."""
    return jax.vmap(lambda key: jax.random.uniform(key, (d, k), jnp.float32, 0.0, 0.01))(
        per_image_keys(seed, n))


def init_mlps(seed: int, n: int, d: int, hidden: int = MLP_HIDDEN, *, bias: bool = False) -> dict:
    """Stacked per-image MLP weights drawn as the authors do: ``k1, k2 = split(key(seed + i))``.

    ``w1: f32[n, d, h] = U(k1, [d, h], −0.01, 0.01)``, ``w2: f32[n, h, 2] =
    U(k2, [h, 2], −0.01, 0.01)``; no biases (the published MLP has none).
    ``bias=True`` adds zero ``b1: f32[n, h]`` and ``b2: f32[n, 2]`` for the
    gradient variant; the weights are the same draws either way.
    """
    def one(key):
        k1, k2 = jax.random.split(key)
        p = {"w1": jax.random.uniform(k1, (d, hidden), jnp.float32, -0.01, 0.01),
             "w2": jax.random.uniform(k2, (hidden, 2), jnp.float32, -0.01, 0.01)}
        return p | ({"b1": jnp.zeros(hidden), "b2": jnp.zeros(2)} if bias else {})
    return jax.vmap(one)(per_image_keys(seed, n))


def noisy_images(x, levels, seed: int = NOISE_SEED):
    """``x: f32[n, d]`` -> ``f32[L, n, d]``: ``clip(x + σ·ε_i, 0, 1)``, ε_i drawn with key ``seed + i``."""
    eps = jax.vmap(lambda key: jax.random.normal(key, x.shape[1:]))(per_image_keys(seed, len(x)))
    levels = jnp.asarray(levels, jnp.float32)
    return jnp.clip(x[None] + levels[:, None, None] * eps[None], 0.0, 1.0)


def load_paper_images(path, n: int = 50, *, size: int = 64):
    """The authors' 50 images from a folder: ``f32[n, size·size]`` in [0, 1].

    As their script: every ``*.png`` under ``path`` (``glob("**/*.png",
    recursive=True)``, in file-system order, so the pick can differ between
    machines), ``n`` indices ``linspace(0, N − 1, n)`` rounded down, Pillow's
    ``convert("L")``, resize to ``size × size`` with Pillow's default filter,
    divide by 255 (16-bit depth PNGs saturate: see
    :func:`rvlib.data.load_image_folder`, ``convert="authors"``).
    """
    images, _ = data.load_image_folder(path, size=size, convert="authors", order="glob",
                                       evenly=n)
    return data.flatten(images)


def _check_images(images):
    validate.image_shape("images", images, ndim=2)
    return jnp.asarray(images, jnp.float32)


# ---------------------------------------------------------------- crossbars
def run_crossbar(images, *, rule: str, eta: float, iters: int, clip=None,
                 levels=paper.NOISE_LEVELS, seed: int = PAPER_SEED,
                 noise_seed: int = NOISE_SEED) -> dict:
    """Train one crossbar per image and evaluate it on the noisy copies.

    images: f32[n, d]. Returns ``outputs: f32[n, L, 2]``, ``clean: f32[n, 2]``,
    ``weights: f32[n, d, 2]``, ``diverged: bool[n]`` (NumPy).
    """
    x = _check_images(images)
    rule, eta, iters, clip = rules.check_rule(rule, eta, iters, clip)
    levels = validate.severities("levels", levels)
    out = _crossbar_program(x, tuple(levels), rule, eta, iters, clip, seed, noise_seed)
    return jax.tree.map(np.asarray, out)


@partial(jax.jit, static_argnums=(1, 2, 4, 5, 6, 7))
def _crossbar_program(x, levels, rule, eta, iters, clip, seed, noise_seed):
    n, d = x.shape
    res = rules.crossbars_scan(init_crossbars(seed, n, d), x, jnp.asarray(TARGET), eta,
                               *bounds(clip), rule=rule, iters=iters)
    xn = noisy_images(x, levels, noise_seed)
    return {"outputs": jnp.einsum("lnd,ndk->nlk", xn, res.w),
            "clean": jnp.einsum("nd,ndk->nk", x, res.w),
            "weights": res.w, "diverged": res.diverged}


# ---------------------------------------------------------------- MLP
def paper_objective(out, lam, floor=MARGIN_FLOOR):
    """The stated loss ``Σ(out − t)² − λ·log(max(out0 − out1, floor))`` for one image's ``out: f32[2]``.

    The ``"gradient"`` update descends it exactly; the authors' ``"published"``
    update does not (see :func:`published_error`).
    """
    return losses.margin_loss(out[None], jnp.zeros((1,), jnp.int32), lam=lam, base="mse",
                              floor=floor)


def published_error(out, lam, floor=MARGIN_FLOOR):
    """The authors' output error for one forward pass: ``e = out − t``, then ``e0 −= λ/max(m, floor)``.

    out: f32[2] -> f32[2]; m = out0 − out1.  Compared with the gradient of
    :func:`paper_objective` (``2·(out − t)`` plus ``−λ/m`` on out0 and ``+λ/m``
    on out1 while ``m > floor``): the MSE part is halved, the margin push
    only raises out0 (out1 is never pushed down), and the push stays on, at
    ``λ/floor``, below the floor where the stated loss is flat.
    """
    e = out - jnp.asarray(TARGET, out.dtype)
    return e.at[0].add(-lam / jnp.maximum(out[0] - out[1], floor))


def check_update(update, bias) -> bool:
    """Validate the MLP training choice; returns ``bias`` as a bool."""
    validate.choice("update", update, UPDATES)
    bias = validate.flag("bias", bias)
    if bias and update == "published":
        validate.fail("bias", bias, "the published update has no biases; "
                      "bias=True needs update='gradient'")
    return bias


def _forward(p, x):
    """The MLP on ``x: f32[..., d]`` -> ``f32[..., 2]``; biases only where ``p`` has them."""
    pre = x @ p["w1"] + p["b1"] if "b1" in p else x @ p["w1"]
    out = jax.nn.relu(pre) @ p["w2"]
    return out + p["b2"] if "b2" in p else out


def _head_directions(pre, head, lam, floor, update):
    """Update directions ``(d_pre: f32[h], d_head)`` from one forward pass at ``pre: f32[h]``.

    ``head`` holds ``w2: f32[h, 2]`` (and ``b2`` for the biased gradient
    variant).  W1 moves by ``outer(x, d_pre)`` and b1 by ``d_pre``.
    published: ``d_pre = (W2_old·e) ⊙ [h > 0]``, ``d_w2 = outer(h, e)``.
    gradient: ``jax.grad`` of :func:`paper_objective`.
    """
    if update == "published":
        h = jax.nn.relu(pre)
        e = published_error(h @ head["w2"], lam, floor)
        return (head["w2"] @ e) * (h > 0), {"w2": jnp.outer(h, e)}

    def loss(pre, head):
        out = jax.nn.relu(pre) @ head["w2"]
        return paper_objective(out + head["b2"] if "b2" in head else out, lam, floor)
    return jax.grad(loss, argnums=(0, 1))(pre, head)


def train_mlp_dense(p, x, lam, *, lr=MLP_LR, iters=MLP_ITERS, floor=MARGIN_FLOOR,
                    update: str = "published") -> dict:
    """``iters`` updates of one image's MLP on the full ``W1: f32[d, h]`` (x: f32[d]).

    ``update="published"``: the authors' hand-written step, literally
    (``p`` without biases).  ``update="gradient"``: ``p <- p − lr·∇p`` of
    :func:`paper_objective` by ``jax.grad`` over every parameter in ``p``
    (with or without ``b1``/``b2``).
    """
    check_update(update, "b1" in p)
    if update == "published":
        def body(p, _):
            h = jax.nn.relu(x @ p["w1"])
            e = published_error(h @ p["w2"], lam, floor)
            d_pre = (p["w2"] @ e) * (h > 0)          # uses W2 before this step's update
            return {"w1": p["w1"] - lr * jnp.outer(x, d_pre),
                    "w2": p["w2"] - lr * jnp.outer(h, e)}, None
    else:
        def body(p, _):
            g = jax.grad(lambda p: paper_objective(_forward(p, x), lam, floor))(p)
            return jax.tree.map(lambda a, b: a - lr * b, p, g), None
    return jax.lax.scan(body, p, None, length=iters)[0]


def train_mlp_lowrank(p, x, lam, *, lr=MLP_LR, iters=MLP_ITERS, floor=MARGIN_FLOOR,
                      update: str = "published") -> dict:
    """Same training as ``train_mlp_dense``; returns ``{c, w2}`` (+ ``b1, b2``) with ``W1 = W1(0) + outer(x, c)``.

    Both updates move W1 by ``outer(x, d_pre)`` only, so W1 never leaves
    ``W1(0) + outer(x, c)``; tracking ``c: f32[h]`` needs the h-vector
    ``x·W1(0)`` and the scalar ``‖x‖²``.
    """
    check_update(update, "b1" in p)
    a0, s = x @ p["w1"], x @ x
    bias = "b1" in p

    def body(st, _):
        c, b1, head = st
        d_pre, d_head = _head_directions(a0 + s * c + b1 if bias else a0 + s * c, head, lam,
                                         floor, update)
        return (c - lr * d_pre, b1 - lr * d_pre if bias else b1,
                jax.tree.map(lambda a, b: a - lr * b, head, d_head)), None

    head0 = {k: p[k] for k in ("w2", "b2") if k in p}
    st0 = (jnp.zeros_like(a0), p["b1"] if bias else jnp.zeros(()), head0)
    c, b1, head = jax.lax.scan(body, st0, None, length=iters)[0]
    return {"c": c, **({"b1": b1} if bias else {}), **head}


def lowrank_forward(q, w1_0, x_train, x_eval):
    """Outputs of the trained low-rank MLP on ``x_eval: f32[m, d]`` -> ``f32[m, 2]``."""
    pre = x_eval @ w1_0 + (x_eval @ x_train)[:, None] * q["c"]
    out = jax.nn.relu(pre + q["b1"] if "b1" in q else pre) @ q["w2"]
    return out + q["b2"] if "b2" in q else out


def run_mlp(images, lams, *, lr: float = MLP_LR, iters: int = MLP_ITERS,
            hidden: int = MLP_HIDDEN, floor: float = MARGIN_FLOOR, levels=paper.NOISE_LEVELS,
            seed: int = PAPER_SEED, noise_seed: int = NOISE_SEED,
            engine: str = "lowrank", update: str = "published", bias: bool = False) -> dict:
    """Train the paper's MLP per image for every λ in ``lams`` and evaluate on the noisy copies.

    images: f32[n, d]. Returns NumPy ``outputs: f32[K, n, L, 2]`` and
    ``clean: f32[K, n, 2]`` for K = len(lams). Same init for every λ (key seed + i).
    ``update``: ``"published"`` (the authors' step, no biases; the paper's
    protocol) or ``"gradient"`` (exact gradient of :func:`paper_objective`,
    zero-initialised biases when ``bias=True``).
    """
    x = _check_images(images)
    lams = [validate.non_negative(f"lams[{i}]", v) for i, v in enumerate(lams)]
    lr = validate.positive("lr", lr)
    iters = validate.non_negative("iters", iters, integer=True)
    hidden = validate.positive("hidden", hidden, integer=True)
    floor = validate.positive("floor", floor)
    levels = validate.severities("levels", levels)
    validate.choice("engine", engine, ENGINES)
    bias = check_update(update, bias)
    out = _mlp_program(x, jnp.asarray(lams, jnp.float32), tuple(levels), lr, iters, hidden,
                       floor, seed, noise_seed, engine, update, bias)
    return jax.tree.map(np.asarray, out)


@partial(jax.jit, static_argnums=(2, 4, 5, 7, 8, 9, 10, 11))
def _mlp_program(x, lams, levels, lr, iters, hidden, floor, seed, noise_seed, engine,
                 update="published", bias=False):
    n, d = x.shape
    p0 = init_mlps(seed, n, d, hidden, bias=bias)
    xs = jnp.concatenate([x[None], noisy_images(x, levels, noise_seed)])  # f32[1+L, n, d]
    xs = jnp.swapaxes(xs, 0, 1)                                           # f32[n, 1+L, d]
    kw = {"lr": lr, "iters": iters, "floor": floor, "update": update}

    if engine == "lowrank":
        def per_image(p, xi, xe, lam):
            return lowrank_forward(train_mlp_lowrank(p, xi, lam, **kw), p["w1"], xi, xe)
    else:
        def per_image(p, xi, xe, lam):
            return _forward(train_mlp_dense(p, xi, lam, **kw), xe)

    over_images = jax.vmap(per_image, in_axes=(0, 0, 0, None))
    out = jax.lax.map(lambda lam: over_images(p0, x, xs, lam), lams)  # f32[K, n, 1+L, 2]
    return {"outputs": out[:, :, 1:], "clean": out[:, :, 0]}


# ---------------------------------------------------------------- the table
def stable_delta_eta(images) -> float:
    """A delta-rule step safely inside every image's limit: half the smallest ``2/‖x‖²``."""
    return float(0.5 * rules.delta_stability_limit(images).min())


def default_images(n: int = 50, seed: int = PAPER_SEED):
    """The paper's input on the embedded stand-in: ``n`` 64×64 synthetic depth scenes in [0, 1],
    flattened to ``f32[n, 4096]`` (``data.depth_scenes(n, seed=seed, kind="road")``)."""
    images, _ = data.depth_scenes(n, seed=seed, kind="road")
    return data.flatten(images)


def run_paper_protocol(images, *, levels=paper.NOISE_LEVELS, seed: int = PAPER_SEED,
                       noise_seed: int = NOISE_SEED, lams=None, engine: str = "lowrank",
                       update: str = "published", bias: bool = False) -> dict:
    """Every method of ``reference.METHODS`` (the master table plus the delta rule at a stable η).

    images: f32[n, d].  ``update``/``bias`` select the MLP's training (see
    :func:`run_mlp`); the default is the authors' published update.  ``lams``
    (default: the registry's MLP rows) restricts or extends the MLP's λ values;
    a λ the registry does not name is keyed ``mlp_lam<λ>``.  Returns
    ``{method_key: {"outputs": f32[n, L, 2], "clean": f32[n, 2],
    "weights": f32[n, d, 2] | None, "diverged": bool[n] | None, "eta", "clip", ...}}``.
    """
    x = _check_images(images)
    validate.choice("engine", engine, ENGINES)
    bias = check_update(update, bias)
    common = {"levels": levels, "seed": seed, "noise_seed": noise_seed}
    res = {}
    for m in METHODS.values():
        if m.rule != "gradient":
            eta = m.eta if m.eta is not None else stable_delta_eta(x)
            res[m.key] = run_crossbar(x, rule=m.rule, eta=eta, iters=m.iters, clip=m.clip,
                                      **common) | {"eta": eta, "clip": m.clip}
    by_lam = {m.lam: m.key for m in METHODS.values() if m.rule == "gradient"}
    lams = sorted(by_lam) if lams is None else [float(v) for v in lams]
    out = run_mlp(x, lams, engine=engine, update=update, bias=bias, **common)
    for i, lam in enumerate(lams):
        res[by_lam.get(lam, f"mlp_lam{lam:g}")] = {
            "outputs": out["outputs"][i], "clean": out["clean"][i], "weights": None,
            "diverged": None, "eta": None, "clip": None, "lam": lam, "update": update,
            "bias": bias}
    return res


def summarize_method(r: dict, levels=paper.NOISE_LEVELS) -> dict:
    """One table row: ``stats.binary_summary`` over images × levels, accuracy at σ = 0.5,
    the clean images' SNR/accuracy/margin (``clean_*``) and weight stats (``w_*``)."""
    row = stats.binary_summary(r["outputs"])
    levels = list(levels)
    if 0.5 in levels:
        row["accuracy_at_0.5"] = stats.binary_summary(
            np.asarray(r["outputs"])[:, levels.index(0.5)])["accuracy"]
    clean = stats.binary_summary(r["clean"])
    row |= {"clean_snr_mean": clean["snr_mean"], "clean_snr_median": clean["snr_median"],
            "clean_accuracy": clean["accuracy"], "clean_margin_median": clean["margin_median"]}
    if r.get("weights") is not None:
        ws = stats.weight_stats(r["weights"], clip=r.get("clip"))
        row |= {f"w_{k}": v for k, v in ws.items()}
        row["diverged"] = int(np.sum(r["diverged"]))
    return row


def table_rows(results: dict, levels=paper.NOISE_LEVELS) -> list[dict]:
    """Master-table rows in the registry's order: the method's spec, :func:`summarize_method`,
    and where the paper has the method its mean SNR/accuracy and measured/paper ratios."""
    rows = []
    keys = [k for k in METHODS if k in results] + [k for k in results if k not in METHODS]
    for key in keys:
        r, m = results[key], METHODS.get(key)
        row = {"method": key, "label": m.label if m else f"MLP λ={r['lam']:g}",
               "rule": m.rule if m else "gradient"}
        row |= {k: v for k, v in (("update", r.get("update")), ("bias", r.get("bias")),
                                  ("eta", r.get("eta")), ("lam", r.get("lam", m and m.lam)),
                                  ("clip", m.clip if m else None))
                if v is not None}
        row |= summarize_method(r, levels)
        if m is not None and m.in_paper:
            row |= {"paper_snr": m.paper_snr, "paper_accuracy": m.paper_accuracy,
                    "ratio_mean": row["snr_mean"] / m.paper_snr,
                    "ratio_median": row["snr_median"] / m.paper_snr}
        rows.append(row)
    return rows
