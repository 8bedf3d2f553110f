"""Robust accuracy over an ε grid, worst case over attacks per example, and gradient-masking flags.

``robust_eval`` runs every attack at every ε on every example as ONE jitted
program per batch shape (attacks unrolled, ε by ``lax.map``), and returns
per-example correctness (``correct[attack]: bool[E, n]``), per-attack and
worst-case accuracy, clean accuracy and the sanity flags AutoAttack-style
evaluations report when gradients are not to be trusted:

* ``pgd_above_fgsm``: PGD accuracy above FGSM accuracy at some ε;
* ``attack_above_noise``: a gradient attack does worse than random noise;
* ``not_monotone_eps``: worst-case accuracy rises with ε;
* ``not_broken_at_large_eps``: PGD leaves accuracy above ``large_eps_max_accuracy``
  at ``large_eps`` (an ε big enough to change the class of any input);
* ``zero_gradients``: examples whose input gradient is exactly zero.

A flag is a warning about the evaluation, not the model: on a sound,
undefended model none should be raised.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from rvlib import validate
from rvlib.attacks import checks
from rvlib.attacks.objectives import ce
from rvlib.attacks.pgd import loss_and_grad
from rvlib.attacks.registry import ATTACKS

__all__ = ["RobustEval", "robust_eval", "robust_eval_params", "masking_flags"]


@dataclass(frozen=True)
class RobustEval:
    """Results of :func:`robust_eval` over ``eps: f32[E]`` and ``n`` examples."""
    eps: np.ndarray
    attacks: tuple[str, ...]
    clean_correct: np.ndarray                    # bool[n]
    correct: dict[str, np.ndarray]               # attack -> bool[E, n]
    worst_correct: np.ndarray                    # bool[E, n]: correct under every attack
    zero_grad: np.ndarray                        # bool[n]: zero input gradient at x
    large_eps: float | None = None
    large_eps_accuracy: float | None = None      # PGD accuracy at large_eps
    flags: dict[str, bool] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def clean_accuracy(self) -> float:
        return float(self.clean_correct.mean())

    def accuracy(self, attack: str | None = None) -> np.ndarray:
        """``f32[E]``: accuracy under ``attack`` (``None``: the worst case over attacks)."""
        c = self.worst_correct if attack is None else self.correct[attack]
        return c.mean(axis=1)

    def rows(self) -> list[dict]:
        """One row per ε: eps, clean_accuracy, acc_<attack>..., acc_worst."""
        return [{"eps": float(e), "clean_accuracy": self.clean_accuracy}
                | {f"acc_{a}": float(self.correct[a][i].mean()) for a in self.attacks}
                | {"acc_worst": float(self.worst_correct[i].mean())}
                for i, e in enumerate(self.eps)]


@functools.lru_cache(maxsize=32)
def _program(apply, attacks, kwargs, n_eps):
    """One jitted ``run(params, x, y, key, eps_grid) -> {clean, zero_grad, <attack>: bool[E, b]}``.

    Cached per (apply, attacks, kwargs): models of one family share the compiled program.
    """
    kwargs = {a: dict(kw) for a, kw in kwargs}

    def run(params, x, y, key, eps_grid):
        logits_fn = functools.partial(apply, params)
        z = logits_fn(x)
        out = {"clean": jnp.argmax(z, -1) == y}
        _, _, g = loss_and_grad(logits_fn, ce, x, y)
        out["zero_grad"] = jnp.all(g.reshape(g.shape[0], -1) == 0, -1)
        for i, name in enumerate(attacks):
            spec = ATTACKS[name]
            keys = jax.random.split(jax.random.fold_in(key, i), n_eps)

            def one_eps(args, spec=spec, name=name):
                eps, k = args
                x_adv = spec(logits_fn, x, y, k, eps=eps, **kwargs[name])
                return jnp.argmax(logits_fn(x_adv), -1) == y

            out[name] = jax.lax.map(one_eps, (eps_grid, keys))
        return out
    return jax.jit(run)


def _frozen(kwargs):
    return tuple(sorted((a, tuple(sorted(kw.items()))) for a, kw in kwargs.items()))


def robust_eval(logits_fn, x, y, key, *, eps_grid, attacks=("fgsm", "pgd", "apgd_ce", "apgd_dlr"),
                norm: str = "linf", attack_kwargs: dict | None = None, batch_size: int = 256,
                large_eps: float | None = None, large_eps_max_accuracy: float = 0.1,
                tol: float = 0.01, progress: bool = False) -> RobustEval:
    """Every attack at every ε on ``x: f32[n, ...]`` in [0, 1], ``y: i32[n]``; worst case per example.

    ``attack_kwargs[name]`` adds keyword arguments to one attack (e.g.
    ``{"pgd": {"steps": 40}}``); ``norm`` goes to every attack.  ``key`` is
    split per batch, then per attack and ε.  ``large_eps`` adds a PGD run at
    that ε for the ``not_broken_at_large_eps`` flag.  ``tol``: accuracy slack
    of the comparison flags.  Compiles once per call; for several models of
    one family use :func:`robust_eval_params` (compiled once for all).
    """
    return robust_eval_params(lambda _, xb: logits_fn(xb), None, x, y, key, eps_grid=eps_grid,
                              attacks=attacks, norm=norm, attack_kwargs=attack_kwargs,
                              batch_size=batch_size, large_eps=large_eps,
                              large_eps_max_accuracy=large_eps_max_accuracy, tol=tol,
                              progress=progress)


def robust_eval_params(apply, params, x, y, key, *, eps_grid,
                       attacks=("fgsm", "pgd", "apgd_ce", "apgd_dlr"), norm: str = "linf",
                       attack_kwargs: dict | None = None, batch_size: int = 256,
                       large_eps: float | None = None, large_eps_max_accuracy: float = 0.1,
                       tol: float = 0.01, progress: bool = False) -> RobustEval:
    """:func:`robust_eval` of ``apply(params, x) -> logits``: the program takes ``params`` as an
    argument, so every model that shares ``apply`` (keep one function object, e.g.
    ``attacks.apply_fn(graphdef)``) and shapes reuses one compiled program."""
    attacks = tuple([attacks] if isinstance(attacks, str) else attacks)
    if not attacks:
        validate.fail("attacks", attacks, "must name at least one attack")
    for i, a in enumerate(attacks):
        validate.choice(f"attacks[{i}]", a, ATTACKS)
    eps_list = validate.each("eps_grid", eps_grid, lambda n, v: checks.eps(v, n), nonempty="eps")
    norm = checks.norm(norm)
    attack_kwargs = dict(attack_kwargs or {})
    for a in attack_kwargs:
        validate.choice("attack_kwargs key", a, attacks)
    if large_eps is not None:
        large_eps = checks.eps(large_eps, "large_eps")
    x, y = np.asarray(x, np.float32), np.asarray(y)
    checks.inputs(x, y, (0.0, 1.0))
    kwargs = {a: {"norm": norm} | attack_kwargs.get(a, {}) for a in attacks}
    program = _program(apply, attacks, _frozen(kwargs), len(eps_list))
    eps_arr = jnp.asarray(eps_list, jnp.float32)
    large = None
    if large_eps is not None:
        large = _program(apply, ("pgd",), _frozen({"pgd": kwargs.get("pgd", {"norm": norm})}), 1)
        large_arr = jnp.asarray([large_eps], jnp.float32)

    n = x.shape[0]
    bs = max(1, min(validate.positive("batch_size", batch_size, integer=True), n))
    pad = -n % bs  # zero rows: one shape for every batch, dropped from the results
    xp = jnp.asarray(np.concatenate([x, np.zeros((pad,) + x.shape[1:], np.float32)]))
    yp = jnp.asarray(np.concatenate([y, np.zeros(pad, y.dtype)]), jnp.int32)
    batch_keys = jax.random.split(key, xp.shape[0] // bs)
    parts, large_parts = [], []
    for j in tqdm(range(len(batch_keys)), desc="robust_eval", disable=not progress):
        sl = slice(j * bs, (j + 1) * bs)
        parts.append(jax.device_get(program(params, xp[sl], yp[sl], batch_keys[j], eps_arr)))
        if large is not None:
            k_large = jax.random.fold_in(batch_keys[j], len(attacks))
            large_parts.append(np.asarray(
                large(params, xp[sl], yp[sl], k_large, large_arr)["pgd"][0]))
    cat = lambda name, axis: np.concatenate([p[name] for p in parts], axis)[..., :n]  # noqa: E731
    correct = {a: cat(a, 1) for a in attacks}
    worst = np.logical_and.reduce([correct[a] for a in attacks]) & cat("clean", 0)[None]
    large_acc = float(np.concatenate(large_parts)[:n].mean()) if large is not None else None
    result = RobustEval(np.asarray(eps_list, np.float64), attacks, cat("clean", 0), correct,
                        worst, cat("zero_grad", 0), large_eps, large_acc)
    flags, notes = masking_flags(result, large_eps_max_accuracy=large_eps_max_accuracy, tol=tol)
    return RobustEval(**{**result.__dict__, "flags": flags, "notes": tuple(notes)})


def masking_flags(r: RobustEval, *, large_eps_max_accuracy: float = 0.1,
                  tol: float = 0.01) -> tuple[dict[str, bool], list[str]]:
    """``(flags, notes)``: each flag True when its gradient-masking symptom shows (module docstring)."""
    flags, notes = {}, []
    acc = {a: r.accuracy(a) for a in r.attacks}
    if "pgd" in acc and "fgsm" in acc:
        bad = acc["pgd"] > acc["fgsm"] + tol
        flags["pgd_above_fgsm"] = bool(bad.any())
        if bad.any():
            notes.append(f"PGD accuracy above FGSM at eps {r.eps[bad].tolist()}")
    if "noise" in acc:
        worse = [a for a in acc if ATTACKS[a].gradient and (acc[a] > acc["noise"] + tol).any()]
        flags["attack_above_noise"] = bool(worse)
        if worse:
            notes.append(f"gradient attacks {worse} weaker than random noise at some eps")
    order = np.argsort(r.eps)
    rises = np.diff(r.accuracy()[order]) > tol
    flags["not_monotone_eps"] = bool(rises.any())
    if rises.any():
        notes.append("worst-case accuracy rises with eps")
    if r.large_eps_accuracy is not None:
        flags["not_broken_at_large_eps"] = r.large_eps_accuracy > large_eps_max_accuracy
        if flags["not_broken_at_large_eps"]:
            notes.append(f"PGD accuracy {r.large_eps_accuracy:.3f} at eps {r.large_eps} "
                         f"> {large_eps_max_accuracy}")
    n_zero = int(r.zero_grad.sum())
    flags["zero_gradients"] = n_zero > 0
    if n_zero:
        notes.append(f"{n_zero} example(s) with an all-zero input gradient")
    return flags, notes
