"""The paper's per-image protocol, run for every image (and every λ) at once.

Protocol (shared/PAPER.md §2): one model per image ``x: f32[4096]``, target
``t = [1, 0]`` (output 0 "target", output 1 "control"); crossbars trained with
the Hebbian or delta rule, the 2-layer MLP with ``Σ(out − t)² − λ·log(max(m, 0.1))``
by plain gradient descent; evaluation on ``clip(x + σ·N(0, 1), 0, 1)`` for
σ in 0.1..0.7 with one noise draw per image (key ``99 + i``, reused across
levels as published); ``SNR = out0 / (out1 + 1e-9)``, correct iff ``out0 > out1``.

Two engines train the MLP:

* ``"dense"`` iterates the published update on the full ``W1: f32[4096, 128]``.
* ``"lowrank"`` (default) uses that every update is an outer product with the
  one training image: ``W1(t) = W1(0) + outer(x, c(t))``, so the hidden
  pre-activation is ``x·W1(0) + ‖x‖²·c + b1`` and training is a 128-dim
  recurrence on ``c``.  Exact in exact arithmetic (tests compare both engines);
  it removes the 4096×128 matrix from the training loop entirely.
"""
from __future__ import annotations

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


def per_image_keys(seed: int, n: int):
    """The published scheme: image ``i`` uses ``key(seed + i)`` (one key per image)."""
    return jax.vmap(jax.random.key)(seed + jnp.arange(n))


def init_crossbars(seed: int, n: int, d: int, k: int = 2):
    """``f32[n, d, k]`` conductances, U[0, 0.01] per image with key ``seed + i``."""
    return jax.vmap(lambda key: jax.random.uniform(key, (d, k), jnp.float32, 0.0, 0.01))(
        per_image_keys(seed, n))


def init_mlps(seed: int, n: int, d: int, hidden: int = MLP_HIDDEN) -> dict:
    """Stacked MLP params (``w1: f32[n, d, h]``, ``b1``, ``w2: f32[n, h, 2]``, ``b2``), weights U[-0.01, 0.01]."""
    def one(key):
        k1, k2 = jax.random.split(key)
        return {"w1": jax.random.uniform(k1, (d, hidden), jnp.float32, -0.01, 0.01),
                "b1": jnp.zeros(hidden), 
                "w2": jax.random.uniform(k2, (hidden, 2), jnp.float32, -0.01, 0.01),
                "b2": jnp.zeros(2)}
    return jax.vmap(one)(per_image_keys(seed, n))


def noisy_images(x, levels, seed: int = NOISE_SEED):
    """``x: f32[n, d]`` -> ``f32[L, n, d]``: ``clip(x + σ·ε_i, 0, 1)``, ε_i drawn with key ``seed + i``."""
    eps = jax.vmap(lambda key: jax.random.normal(key, x.shape[1:]))(per_image_keys(seed, len(x)))
    levels = jnp.asarray(levels, jnp.float32)
    return jnp.clip(x[None] + levels[:, None, None] * eps[None], 0.0, 1.0)


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
    """``Σ(out − t)² − λ·log(max(out0 − out1, floor))`` for one image's ``out: f32[2]``."""
    return losses.margin_loss(out[None], jnp.zeros((1,), jnp.int32), lam=lam, base="mse",
                              floor=floor)


def _forward(p, x):
    return jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


def train_mlp_dense(p, x, lam, *, lr=MLP_LR, iters=MLP_ITERS, floor=MARGIN_FLOOR) -> dict:
    """The published loop: ``p <- p − lr·∇p`` on one image, ``iters`` times (x: f32[d])."""
    def body(p, _):
        g = jax.grad(lambda p: paper_objective(_forward(p, x), lam, floor))(p)
        return jax.tree.map(lambda a, b: a - lr * b, p, g), None
    return jax.lax.scan(body, p, None, length=iters)[0]


def train_mlp_lowrank(p, x, lam, *, lr=MLP_LR, iters=MLP_ITERS, floor=MARGIN_FLOOR) -> dict:
    """Same training as ``train_mlp_dense``; returns ``{c, b1, w2, b2}`` with ``W1 = W1(0) + outer(x, c)``.

    ∂L/∂W1 = outer(x, g) with g = ∂L/∂(pre-activation), so W1 only ever moves
    along x; tracking c needs the 128-vector ``x·W1(0)`` and the scalar ``‖x‖²``.
    """
    a0, s = x @ p["w1"], x @ x

    def head(pre, w2, b2):
        return paper_objective(jax.nn.relu(pre) @ w2 + b2, lam, floor)

    def body(st, _):
        c, b1, w2, b2 = st
        g, gw2, gb2 = jax.grad(head, argnums=(0, 1, 2))(a0 + s * c + b1, w2, b2)
        return (c - lr * g, b1 - lr * g, w2 - lr * gw2, b2 - lr * gb2), None

    st0 = (jnp.zeros_like(p["b1"]), p["b1"], p["w2"], p["b2"])
    c, b1, w2, b2 = jax.lax.scan(body, st0, None, length=iters)[0]
    return {"c": c, "b1": b1, "w2": w2, "b2": b2}


def lowrank_forward(q, w1_0, x_train, x_eval):
    """Outputs of the trained low-rank MLP on ``x_eval: f32[m, d]`` -> ``f32[m, 2]``."""
    pre = x_eval @ w1_0 + (x_eval @ x_train)[:, None] * q["c"] + q["b1"]
    return jax.nn.relu(pre) @ q["w2"] + q["b2"]


def run_mlp(images, lams, *, lr: float = MLP_LR, iters: int = MLP_ITERS,
            hidden: int = MLP_HIDDEN, floor: float = MARGIN_FLOOR, levels=paper.NOISE_LEVELS,
            seed: int = PAPER_SEED, noise_seed: int = NOISE_SEED,
            engine: str = "lowrank") -> dict:
    """Train the paper's MLP per image for every λ in ``lams`` and evaluate on the noisy copies.

    images: f32[n, d]. Returns NumPy ``outputs: f32[K, n, L, 2]`` and
    ``clean: f32[K, n, 2]`` for K = len(lams). Same init for every λ (key seed + i).
    """
    x = _check_images(images)
    lams = [validate.non_negative(f"lams[{i}]", v) for i, v in enumerate(lams)]
    lr = validate.positive("lr", lr)
    iters = validate.non_negative("iters", iters, integer=True)
    hidden = validate.positive("hidden", hidden, integer=True)
    floor = validate.positive("floor", floor)
    levels = validate.severities("levels", levels)
    validate.choice("engine", engine, ENGINES)
    out = _mlp_program(x, jnp.asarray(lams, jnp.float32), tuple(levels), lr, iters, hidden,
                       floor, seed, noise_seed, engine)
    return jax.tree.map(np.asarray, out)


@partial(jax.jit, static_argnums=(2, 4, 5, 7, 8, 9))
def _mlp_program(x, lams, levels, lr, iters, hidden, floor, seed, noise_seed, engine):
    n, d = x.shape
    p0 = init_mlps(seed, n, d, hidden)
    xs = jnp.concatenate([x[None], noisy_images(x, levels, noise_seed)])  # f32[1+L, n, d]
    xs = jnp.swapaxes(xs, 0, 1)                                           # f32[n, 1+L, d]

    if engine == "lowrank":
        def per_image(p, xi, xe, lam):
            q = train_mlp_lowrank(p, xi, lam, lr=lr, iters=iters, floor=floor)
            return lowrank_forward(q, p["w1"], xi, xe)
    else:
        def per_image(p, xi, xe, lam):
            return _forward(train_mlp_dense(p, xi, lam, lr=lr, iters=iters, floor=floor), xe)

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
                       noise_seed: int = NOISE_SEED, engine: str = "lowrank") -> dict:
    """Every method of ``reference.METHODS`` (the master table plus the delta rule at a stable η).

    images: f32[n, d].  Returns ``{method_key: {"outputs": f32[n, L, 2], "clean": f32[n, 2],
    "weights": f32[n, d, 2] | None, "diverged": bool[n] | None, "eta", "clip"}}``.
    """
    x = _check_images(images)
    common = {"levels": levels, "seed": seed, "noise_seed": noise_seed}
    res = {}
    for m in METHODS.values():
        if m.rule != "gradient":
            eta = m.eta if m.eta is not None else stable_delta_eta(x)
            res[m.key] = run_crossbar(x, rule=m.rule, eta=eta, iters=m.iters, clip=m.clip,
                                      **common) | {"eta": eta, "clip": m.clip}
    mlps = sorted((m for m in METHODS.values() if m.rule == "gradient"), key=lambda m: m.lam)
    out = run_mlp(x, [m.lam for m in mlps], engine=engine, **common)
    for i, m in enumerate(mlps):
        res[m.key] = {"outputs": out["outputs"][i], "clean": out["clean"][i], "weights": None,
                      "diverged": None, "eta": None, "clip": None}
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
    for m in METHODS.values():
        if m.key not in results:
            continue
        r = results[m.key]
        row = {"method": m.key, "label": m.label, "rule": m.rule}
        row |= {k: v for k, v in (("eta", r.get("eta")), ("lam", m.lam), ("clip", m.clip))
                if v is not None}
        row |= summarize_method(r, levels)
        if m.in_paper:
            row |= {"paper_snr": m.paper_snr, "paper_accuracy": m.paper_accuracy,
                    "ratio_mean": row["snr_mean"] / m.paper_snr,
                    "ratio_median": row["snr_median"] / m.paper_snr}
        rows.append(row)
    return rows
