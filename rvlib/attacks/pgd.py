"""FGSM and PGD (L∞, L2) with random starts and restarts, as pure traceable functions.

``logits_fn: f32[b, ...] -> f32[b, k]`` is the model in eval mode (no batch
statistics updates, no dropout: see ``attacks.model_logits``); ``x: f32[b, ...]``
in [0, 1], ``y: i32[b]``; ε in pixel units.  Call them inside ``jax.jit``
(``steps``, ``norm``, ``loss``, ``restarts`` are static; ε and the step size may
be traced, e.g. vmapped over an ε grid).

PGD keeps, per example, the worst case over every iterate of every restart:
a point that is misclassified if any iterate was (else the highest-loss
one).  Restart ``r`` starts from ``fold_in(key, r)``, so with a fixed key more
steps or more restarts can only lower robust accuracy.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rvlib import validate
from rvlib.attacks import checks
from rvlib.attacks.geometry import direction, project, random_start as _random_start
from rvlib.attacks.objectives import check_classes, get_objective

__all__ = ["fgsm", "pgd", "Best", "loss_and_grad", "keep_worse"]


class Best(NamedTuple):
    """The worst case found so far per example: ``x: f32[b, ...]``, ``loss: f32[b]``, ``fooled: bool[b]``."""
    x: jax.Array
    loss: jax.Array
    fooled: jax.Array


def _bcast(mask, x):
    return mask.reshape((-1,) + (1,) * (x.ndim - 1))


def keep_worse(best: Best, new: Best) -> Best:
    """Per example: the fooled one of the two, else the higher loss (ties keep ``best``)."""
    take = (new.fooled & ~best.fooled) | ((new.fooled == best.fooled) & (new.loss > best.loss))
    return Best(jnp.where(_bcast(take, best.x), new.x, best.x),
                jnp.where(take, new.loss, best.loss), best.fooled | new.fooled)


def loss_and_grad(logits_fn, objective, x, y):
    """``(loss: f32[b], logits: f32[b, k], grad: f32[b, ...])`` of the per-example objective at ``x``."""
    def total(xa):
        z = logits_fn(xa)
        per_example = objective(z, y)
        return jnp.sum(per_example), (per_example, z)

    (_, (loss, z)), grad = jax.value_and_grad(total, has_aux=True)(x)
    return loss, z, grad


def _classes(logits_fn, x):
    return jax.eval_shape(logits_fn, jax.ShapeDtypeStruct(x.shape, jnp.float32)).shape[-1]


def fgsm(logits_fn, x, y, *, eps, clip=(0.0, 1.0), loss: str = "ce", norm: str = "linf"):
    """One signed-gradient step: ``clip(x + eps * sign(grad_x loss(x, y)))`` (Goodfellow et al. 2015).

    ``norm="l2"``: the fast gradient method, a step ``eps * g / ||g||_2``.
    x: f32[b, ...] in ``clip`` -> x_adv: f32[b, ...]
    """
    eps, clip, norm = checks.eps(eps), checks.clip(clip), checks.norm(norm)
    objective = get_objective(loss)
    checks.inputs(x, y, clip)
    check_classes(loss, _classes(logits_fn, x))
    x = jnp.asarray(x, jnp.float32)
    _, _, grad = loss_and_grad(logits_fn, objective, x, y)
    return jnp.clip(x + eps * direction(grad, norm), clip[0], clip[1])


def _pgd_run(logits_fn, objective, x, y, key, eps, step_size, steps, norm, start, clip):
    x0 = _random_start(key, x, eps, norm, clip) if start else x

    def body(_, carry):
        x_cur, best = carry
        loss, z, grad = loss_and_grad(logits_fn, objective, x_cur, y)
        best = keep_worse(best, Best(x_cur, loss, jnp.argmax(z, -1) != y))
        return project(x_cur + step_size * direction(grad, norm), x, eps, norm, clip), best

    init = Best(x0, jnp.full(y.shape, -jnp.inf, jnp.float32), jnp.zeros(y.shape, bool))
    x_last, best = jax.lax.fori_loop(0, steps, body, (x0, init))
    z = logits_fn(x_last)
    return keep_worse(best, Best(x_last, objective(z, y), jnp.argmax(z, -1) != y))


def pgd_best(logits_fn, x, y, key, *, eps, step_size=None, steps: int = 10, norm="linf",
             random_start=True, clip=(0.0, 1.0), loss="ce", restarts: int = 1) -> Best:
    """:func:`pgd` returning the whole :class:`Best` (point, loss, fooled) per example."""
    eps, steps, norm, clip = checks.eps(eps), checks.steps(steps), checks.norm(norm), checks.clip(clip)
    restarts = checks.steps(restarts, "restarts")
    random_start = validate.flag("random_start", random_start)
    objective = get_objective(loss)
    step_size = 2.5 * eps / steps if step_size is None else checks.step_size(step_size)
    checks.inputs(x, y, clip)
    check_classes(loss, _classes(logits_fn, x))
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32)

    def restart(r, best):
        run = _pgd_run(logits_fn, objective, x, y, jax.random.fold_in(key, r), eps, step_size,
                       steps, norm, random_start, clip)
        return keep_worse(best, run)

    init = Best(x, jnp.full(y.shape, -jnp.inf, jnp.float32), jnp.zeros(y.shape, bool))
    return jax.lax.fori_loop(0, restarts, restart, init)


def pgd(logits_fn, x, y, key, *, eps, step_size=None, steps: int = 10, norm: str = "linf",
        random_start: bool = True, clip=(0.0, 1.0), loss: str = "ce", restarts: int = 1):
    """Projected gradient ascent on ``loss`` inside the ``norm``-ball of radius ``eps`` (Madry et al. 2018).

    Each step: ``x <- P(x + step_size * d)``, ``d = sign(g)`` (L∞) or
    ``g / ||g||_2`` (L2); ``step_size=None`` uses ``2.5 * eps / steps``.
    Returns the per-example worst case over all iterates and restarts.

    x: f32[b, ...] in ``clip``, y: i32[b], key: one PRNG key -> x_adv: f32[b, ...]
    """
    return pgd_best(logits_fn, x, y, key, eps=eps, step_size=step_size, steps=steps, norm=norm,
                    random_start=random_start, clip=clip, loss=loss, restarts=restarts).x
