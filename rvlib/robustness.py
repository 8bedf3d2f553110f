"""Robustness tables: every model x corruption x severity, without Python loops over images.

One row per (model, corruption, severity)::

    rows = evaluate_robustness({"ce": m0, "margin": m1}, x_test, y_test)
    at_severity(rows, "gaussian", 0.5)["margin"]["accuracy"]

How the work is batched (the same code runs on CPU and GPU):

* Images are processed in chunks of ``batch_size``; per corruption and chunk,
  one jitted call corrupts the chunk at every severity (``vmap`` over
  severities) and a second one evaluates every model on all of them.  Models
  that share a ``graphdef`` and state shapes are stacked and ``vmap``-ed over;
  models of different architectures get one call each, and so do conv models
  on CPU, where a vmapped convolution is slower than one model at a time.  Peak memory is about
  ``len(severities) * batch_size`` images plus the activations of
  ``n_stacked_models * len(severities) * batch_size`` forward rows: lower
  ``batch_size`` for large CNNs.
* Every image gets its own noise key, ``fold_in(fold_in(key(seed), c), i)``
  with ``c`` the corruption's index in :data:`rvlib.corruptions.CORRUPTIONS`
  and ``i`` the image's index in ``images``.  So the corrupted images do not
  depend on ``batch_size`` (chunking changes nothing but float summation
  order), nor on which other corruptions or models are evaluated, and every
  model sees exactly the same corrupted inputs.  The key is shared by all
  severities of a corruption (common random numbers, as in the paper's
  protocol): the same noise pattern scaled up, the same occluder position
  growing, nested salt-and-pepper masks, so curves over severity are smooth.
* Sums (correct, confidence, NLL, ECE bins) are accumulated per chunk; the
  per-example margins and SNRs that medians need are kept on the host
  (fine for up to ~10k examples x a few models x severities).

Metrics (:mod:`rvlib.metrics` definitions): ``accuracy`` (strict: the true
logit must win), ``confidence`` (mean max softmax), ``margin_median`` /
``margin_mean`` (logit margin ``z_y - max_{j!=y} z_j``), ``snr_median`` /
``snr_mean`` (the softmax ratio ``p_y / max_{j!=y} p_j`` as
``metrics.softmax_snr`` computes it, ``exp(margin)`` in float64, so it does
not saturate), ``nll``, ``ece`` (15 bins) and ``degradation`` (the model's
accuracy on the uncorrupted images minus ``accuracy``).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from rvlib import metrics, validate
from rvlib import corruptions as corr
from rvlib.models import has_conv
from rvlib.training.batching import batch_rows, pad_rows
from rvlib.training.state import TrainState

__all__ = ["evaluate_robustness", "evaluate_stacked", "evaluate_suite", "at_severity",
           "DEFAULT_CORRUPTIONS", "DEFAULT_SEVERITIES", "ROW_KEYS"]

DEFAULT_CORRUPTIONS = ("gaussian", "salt_pepper", "fog", "occlusion")
DEFAULT_SEVERITIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
ROW_KEYS = ("model", "corruption", "severity", "accuracy", "confidence", "margin_median",
            "margin_mean", "snr_median", "snr_mean", "nll", "ece", "degradation")


# ----------------------------------------------------------------------------- checks

def _check_images_labels(images, labels):
    validate.image_shape("images", images)
    if not jnp.issubdtype(getattr(images, "dtype", None), jnp.floating):
        validate.fail("images.dtype", str(images.dtype),
                       "must be a floating dtype with values in [0, 1]")
    n = images.shape[0]
    if n == 0:
        validate.fail("images.shape", tuple(images.shape), "must contain at least one image")
    labels = np.asarray(labels)
    if labels.shape != (n,):
        validate.fail("labels.shape", labels.shape, f"must be ({n},), one label per image")
    if not np.issubdtype(labels.dtype, np.integer):
        validate.fail("labels.dtype", str(labels.dtype), "must be integer")
    if labels.min() < 0:
        validate.fail("labels", int(labels.min()), "must be >= 0")
    return jnp.asarray(images, jnp.float32), labels.astype(np.int32)


def _check_corruptions(names) -> list[str]:
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        validate.fail("corruptions", names, "must name at least one of "
                       + ", ".join(repr(c) for c in corr.CORRUPTIONS))
    for i, name in enumerate(names):
        validate.choice(f"corruptions[{i}]", name, corr.CORRUPTIONS)
    if len(set(names)) != len(names):
        validate.fail("corruptions", names, "must not repeat a name")
    return names


def _check_options(corruptions, severities, seed, batch_size):
    names = _check_corruptions(corruptions)
    sev = validate.severities("severities", severities)
    if len(set(sev)) != len(sev):
        validate.fail("severities", list(severities), "must not repeat a value")
    seed = validate.non_negative("seed", seed, integer=True)
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    return names, sev, seed, batch_size


def _check_classes(graphdef, parts, images, labels, what: str):
    """Output shape from ``jax.eval_shape`` (no compute): must be [1, k], k >= 2, labels < k."""
    one = jax.tree.map(lambda a: a[0], parts)
    try:
        out = jax.eval_shape(lambda p, x: nnx.merge(graphdef, *p)(x), one, images[:1])
    except (TypeError, ValueError) as err:
        validate.fail("images.shape", tuple(images.shape), f"{what} cannot take it "
                       f"({type(err).__name__}: {str(err).splitlines()[0]})")
    if len(out.shape) != 2 or out.shape[1] < 2:
        validate.fail(f"{what} output shape", tuple(out.shape),
                       "must be [batch, classes] with at least 2 classes")
    if labels.max() >= out.shape[1]:
        validate.fail("labels", int(labels.max()),
                       f"must be < the number of classes {out.shape[1]} of {what}")


# ----------------------------------------------------------------------------- compute

@functools.cache
def _corrupt_fn(name: str):
    """Jitted ``(key, start, x: f32[b, h, w, c], sev: f32[s]) -> f32[s, b, h, w, c]``.

    Image ``start + j`` of the chunk is corrupted with ``fold_in(key, start + j)``,
    the same key at every severity.
    """
    fn = corr.CORRUPTIONS[name]

    def one_image(key, x, severity):  # x: f32[h, w, c]
        return fn(key, x[None], severity)[0]

    def chunk(key, start, x, sev):
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(start + jnp.arange(x.shape[0]))
        per_severity = jax.vmap(one_image, in_axes=(0, 0, None))
        return jax.vmap(lambda s: per_severity(keys, x, s))(sev)

    return jax.jit(chunk)


@functools.cache
def _suite_corrupt_fn(name: str, table: str, levels: tuple[int, ...]):
    """:func:`_corrupt_fn` for a suite corruption: ``(key, start, x) -> f32[s, b, h, w, c]``.

    The suite's constants are static, so the severity levels are unrolled
    (level 0: the clean images); per-image keys as in :func:`_corrupt_fn`.
    """
    entry = corr.SUITE[name]

    def chunk(key, start, x, sev):
        del sev
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(start + jnp.arange(x.shape[0]))
        outs = []
        for level in levels:
            if level == 0:
                outs.append(x)
                continue
            c = entry.params(table, level)
            outs.append(jax.vmap(lambda k, xi, c=c: entry.fn(k, xi[None], c)[0])(keys, x))
        return jnp.stack(outs)

    return jax.jit(chunk)


def _example_metrics(logits, labels, valid):
    """Per (model, severity) sums over valid examples + per-example margin and SNR.

    logits: f32[b, k], labels: i32[b], valid: bool[b].
    """
    w = valid.astype(jnp.float32)
    hit = metrics.correct(logits, labels).astype(jnp.float32)
    conf = metrics.confidence(logits)
    nll = metrics.nll_per_example(logits, labels)
    sums = dict(correct=jnp.sum(hit * w), confidence=jnp.sum(conf * w), nll=jnp.sum(nll * w),
                ece_gap=metrics.calibration_gaps(logits, labels, metrics.ECE_BINS, weights=w))
    # the SNR exp(margin) is taken on the host in float64 (no 1e-9 cap, no float32 overflow)
    return sums, dict(margin=metrics.logit_margin(logits, labels))


@functools.partial(jax.jit, static_argnums=0)
def _evaluate_chunk(graphdef, stacked_parts, xs, labels, valid):
    """All models x severities on one chunk.

    stacked_parts: the states of ``m`` models stacked on a leading axis;
    xs: f32[s, b, h, w, c]; labels: i32[b]; valid: bool[b].
    Returns sums {name: f32[m, s] (ece_gap: f32[m, s, bins])} and
    per-example {margin: f32[m, s, b]} (the SNR exp(margin) is taken on the host).
    """
    s, b = xs.shape[:2]
    flat = xs.reshape((s * b,) + xs.shape[2:])  # one big forward batch per model

    def per_model(parts):
        logits = nnx.merge(graphdef, *parts)(flat)
        logits = logits.reshape(s, b, logits.shape[-1])
        return jax.vmap(_example_metrics, in_axes=(0, None, None))(logits, labels, valid)

    return jax.vmap(per_model)(stacked_parts)


# ----------------------------------------------------------------------------- driver

def _group_models(models: Mapping[str, nnx.Module]):
    """Stack models with the same graphdef and state shapes: [(graphdef, names, parts)]."""
    groups: dict = {}
    for name, model in models.items():
        graphdef, state = nnx.split(model)
        leaves, treedef = jax.tree.flatten(state)
        signature = (graphdef, treedef, tuple((a.shape, a.dtype) for a in leaves))
        groups.setdefault(signature, (graphdef, [], []))
        groups[signature][1].append(name)
        groups[signature][2].append((state,))
    return [(graphdef, names, jax.tree.map(lambda *a: jnp.stack(a), *parts))
            for graphdef, names, parts in groups.values()]


def _split_conv_groups_on_cpu(groups):
    """One group per model for conv models on CPU.

    XLA:CPU runs a convolution vmapped over models (a grouped convolution)
    several times slower than the same convolutions one model at a time
    (3 digit CNNs, 359 images x 4 corruptions x 8 severities: 7.1 s stacked
    vs 1.3 s one by one), so there stacking only pays for dense models.
    """
    if jax.default_backend() != "cpu":
        return groups
    out = []
    for graphdef, names, parts in groups:
        if len(names) > 1 and has_conv(graphdef):
            out += [(graphdef, [name], jax.tree.map(lambda a, i=i: a[i:i + 1], parts))
                    for i, name in enumerate(names)]
        else:
            out.append((graphdef, names, parts))
    return out


def _run(groups, images, labels, names, sev, seed, batch_size, progress,
         suite_table: str | None = None) -> list[dict]:
    """Evaluate ``groups = [(graphdef, model_names, stacked_parts)]``; returns the rows.

    ``suite_table``: ``names`` are :data:`rvlib.corruptions.SUITE` corruptions
    and ``sev`` integer levels 0..5 read from that table.
    """
    groups = _split_conv_groups_on_cpu(groups)
    for graphdef, model_names, parts in groups:
        _check_classes(graphdef, parts, images, labels, f"model {model_names[0]!r}")
    n = images.shape[0]
    # The clean accuracy for ``degradation`` comes from a severity-0 pass, which
    # every corruption returns bit for bit; add one if the caller did not ask.
    sev_run = list(sev) if 0.0 in sev else list(sev) + [0.0]
    sev_arr = jnp.asarray(sev_run, jnp.float32)
    clean_idx = sev_run.index(0.0)

    # Pad to whole chunks so every call has one shape (one compilation per corruption).
    bs = batch_rows(n, batch_size)
    x_pad = pad_rows(images, bs)
    y_pad = pad_rows(jnp.asarray(labels), bs)
    n_chunks = x_pad.shape[0] // bs
    valid = jnp.arange(n_chunks * bs) < n

    base_key = jax.random.key(seed)
    registry = corr.CORRUPTIONS if suite_table is None else corr.SUITE
    corruption_index = {c: i for i, c in enumerate(registry)}
    # acc[group][corruption] = (list of sums per chunk, list of per-example per chunk)
    acc = {g: {c: ([], []) for c in names} for g in range(len(groups))}
    with tqdm(total=len(names) * n_chunks, desc="robustness", disable=not progress) as bar:
        for c in names:
            key = jax.random.fold_in(base_key, corruption_index[c])
            for k in range(n_chunks):
                lo = k * bs
                fn = (_corrupt_fn(c) if suite_table is None else
                      _suite_corrupt_fn(c, suite_table, tuple(int(s) for s in sev_run)))
                xs = fn(key, lo, x_pad[lo:lo + bs], sev_arr)
                for g, (graphdef, _, parts) in enumerate(groups):
                    sums, per_ex = _evaluate_chunk(graphdef, parts, xs, y_pad[lo:lo + bs],
                                                   valid[lo:lo + bs])
                    acc[g][c][0].append(sums)
                    acc[g][c][1].append(per_ex)
                bar.update(1)

    rows_by_model = {}
    for g, (_, model_names, _) in enumerate(groups):
        for c in names:
            sums_list, per_ex_list = jax.device_get(acc[g][c])
            total = {k: np.sum([np.asarray(s[k], np.float64) for s in sums_list], axis=0)
                     for k in sums_list[0]}
            # per-example: [m, s, n_chunks * bs] -> drop the padding
            per_ex = {k: np.concatenate([p[k] for p in per_ex_list], axis=-1)[..., :n]
                      .astype(np.float64) for k in per_ex_list[0]}
            accuracy = total["correct"] / n
            with np.errstate(over="ignore"):
                per_ex["snr"] = np.exp(per_ex["margin"])   # metrics.softmax_snr
            for m, model_name in enumerate(model_names):
                clean = accuracy[m, clean_idx]
                for j, s in enumerate(sev):  # only the requested severities
                    rows_by_model.setdefault(model_name, {}).setdefault(c, []).append(dict(
                        model=model_name, corruption=c, severity=float(s),
                        accuracy=float(accuracy[m, j]),
                        confidence=float(total["confidence"][m, j] / n),
                        margin_median=float(np.median(per_ex["margin"][m, j])),
                        margin_mean=float(np.mean(per_ex["margin"][m, j])),
                        snr_median=float(np.median(per_ex["snr"][m, j])),
                        snr_mean=float(np.mean(per_ex["snr"][m, j])),
                        nll=float(total["nll"][m, j] / n),
                        ece=float(np.sum(np.abs(total["ece_gap"][m, j])) / n),
                        degradation=float(clean - accuracy[m, j])))
    return rows_by_model


def _ordered(rows_by_model, model_names, names) -> list[dict]:
    return [row for m in model_names for c in names for row in rows_by_model[m][c]]


def evaluate_robustness(models: Mapping[str, nnx.Module], images, labels, *,
                        corruptions: Sequence[str] = DEFAULT_CORRUPTIONS,
                        severities: Sequence[float] = DEFAULT_SEVERITIES,
                        seed: int = 0, batch_size: int = 1024,
                        progress: bool = False) -> list[dict]:
    """Evaluate every model on every corruption at every severity.

    models: ``{name: nnx.Module}`` mapping images to logits ``f32[b, k]``;
    images: f32[n, h, w, c] in [0, 1]; labels: i32[n].

    Returns one dict per (model, corruption, severity), ordered model-major
    then corruption then severity, with the keys :data:`ROW_KEYS`.  Models
    are not modified.  See the module docstring for batching, keys and the
    metric definitions.
    """
    if not isinstance(models, Mapping) or not models:
        validate.fail("models", type(models).__name__,
                       "must be a non-empty dict {name: nnx.Module}")
    for name, model in models.items():
        if not isinstance(name, str):
            validate.fail("models key", name, "must be a string (the model's name)")
        if not isinstance(model, nnx.Module):
            validate.fail(f"models[{name!r}]", type(model).__name__, "must be an nnx.Module")
    names, sev, seed, batch_size = _check_options(corruptions, severities, seed, batch_size)
    images, labels = _check_images_labels(images, labels)
    rows = _run(_group_models(models), images, labels, names, sev, seed, batch_size, progress)
    return _ordered(rows, list(models), names)


def evaluate_stacked(graphdef: nnx.GraphDef, stacked_state, names: Sequence[str], images,
                     labels, *, corruptions: Sequence[str] = DEFAULT_CORRUPTIONS,
                     severities: Sequence[float] = DEFAULT_SEVERITIES, seed: int = 0,
                     batch_size: int = 1024, progress: bool = False,
                     use_ema: bool = False) -> list[dict]:
    """:func:`evaluate_robustness` for models already stacked on a leading axis.

    ``stacked_state``: a stacked :class:`rvlib.training.TrainState` (e.g.
    ``ManyFit.states`` from :func:`rvlib.training.fit_many`; its EMA
    weights with ``use_ema``) or an ``nnx.State`` from ``nnx.split(model)``
    with a leading model axis; ``names``: one name per stacked model.
    Same rows, keys and noise as :func:`evaluate_robustness`.
    """
    if isinstance(stacked_state, TrainState):
        if use_ema and stacked_state.ema is None:
            validate.fail("use_ema", True, "the state has no EMA (train with ema_decay set)")
        parts = (stacked_state.ema if use_ema else stacked_state.params, stacked_state.rest)
    else:
        parts = (stacked_state,)
    leaves = jax.tree.leaves(parts)
    if not leaves:
        validate.fail("stacked_state", type(stacked_state).__name__, "holds no arrays")
    k = leaves[0].shape[0] if leaves[0].ndim else 0
    if any(a.ndim == 0 or a.shape[0] != k for a in leaves):
        axes = sorted({a.shape[:1] for a in leaves})
        validate.fail("stacked_state", f"leading axes {axes}",
                       "must be stacked: every leaf needs the same leading (model) axis")
    names = [names] if isinstance(names, str) else list(names)
    if len(names) != k:
        validate.fail("names", names, f"must give one name per stacked model ({k})")
    if len(set(names)) != len(names) or not all(isinstance(m, str) for m in names):
        validate.fail("names", names, "must be distinct strings")
    cnames, sev, seed, batch_size = _check_options(corruptions, severities, seed, batch_size)
    images, labels = _check_images_labels(images, labels)
    rows = _run([(graphdef, names, parts)], images, labels, cnames, sev, seed, batch_size,
                progress)
    return _ordered(rows, names, cnames)


def evaluate_suite(models: Mapping[str, nnx.Module], images, labels, *,
                   corruptions: Sequence[str] = corr.BENCHMARK_15,
                   severities: Sequence[int] = corr.SEVERITIES, table: str = "cifar10",
                   seed: int = 0, batch_size: int = 1024, progress: bool = False) -> list[dict]:
    """:func:`evaluate_robustness` on the common-corruption suite (integer severities).

    ``corruptions``: names in :data:`rvlib.corruptions.SUITE` (default the 15
    of the benchmark); ``severities``: levels 1..5 (0 may be given for the
    clean images); ``table``: ``"cifar10"`` or ``"imagenet"`` constants.
    Same rows (``severity`` is the level as a float), keys per image as in
    :func:`evaluate_robustness`, ``c`` being the index in ``SUITE``.  Images
    must be grey or RGB, at least 8 x 8.
    """
    if not isinstance(models, Mapping) or not models:
        validate.fail("models", type(models).__name__,
                       "must be a non-empty dict {name: nnx.Module}")
    names = [corruptions] if isinstance(corruptions, str) else list(corruptions)
    if not names:
        validate.fail("corruptions", names, "must name at least one of " + ", ".join(corr.SUITE))
    for i, name in enumerate(names):
        validate.choice(f"corruptions[{i}]", name, corr.SUITE)
    if len(set(names)) != len(names):
        validate.fail("corruptions", names, "must not repeat a name")
    table = validate.choice("table", table, corr.TABLES)
    levels = list(severities)
    for level in levels:
        if level != 0:
            corr.suite.check_severity(level)
        elif isinstance(level, bool) or not isinstance(level, (int, np.integer)):
            validate.fail("severity", level, "must be an integer 1..5 (the suite's levels)")
    if not levels or len(set(levels)) != len(levels):
        validate.fail("severities", levels, "must be distinct integer levels 0..5, at least one")
    seed = validate.non_negative("seed", seed, integer=True)
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    corr.suite.check_suite_images(images)
    images, labels = _check_images_labels(images, labels)
    for name, model in models.items():
        if not isinstance(model, nnx.Module):
            validate.fail(f"models[{name!r}]", type(model).__name__, "must be an nnx.Module")
    rows = _run(_group_models(models), images, labels, names, [float(v) for v in levels], seed,
                batch_size, progress, suite_table=table)
    return _ordered(rows, list(models), names)


def at_severity(rows: Sequence[dict], corruption: str, severity: float) -> dict[str, dict]:
    """``{model: row}`` for one corruption at one severity (matched to 1e-9)."""
    found = {r["model"]: r for r in rows
             if r["corruption"] == corruption and abs(r["severity"] - float(severity)) < 1e-9}
    if not found:
        pairs = sorted({(r["corruption"], r["severity"]) for r in rows})
        have_c = sorted({c for c, _ in pairs})
        if corruption not in have_c:
            validate.choice("corruption", corruption, have_c)
        have_s = sorted(s for c, s in pairs if c == corruption)
        validate.fail("severity", severity,
                       "must be one of " + ", ".join(f"{s:g}" for s in have_s))
    return found
