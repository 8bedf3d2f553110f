"""APGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness ..."), untargeted and targeted.

Written from the paper and the step-size rules of the authors' reference
(fra31/auto-attack): step size ``eta = 2 eps`` at first; a momentum step

    z      = P(x_k + eta * d(g_k))
    x_k+1  = P(x_k + a (z - x_k) + (1 - a)(x_k - x_k-1)),  a = 1 at k = 0, else 0.75;

checkpoints after ``ceil(0.22 N)`` steps, then windows shrinking by
``0.03 N`` down to ``0.06 N``.  At a checkpoint, per example, eta is halved and
the iterate restarts from the best point so far when either the loss rose in
at most ``rho = 0.75`` of the window's steps, or eta was not halved at the last
checkpoint and the best loss has not improved since.  The attack keeps the
per-example worst case (a misclassified iterate if any, else the highest loss).

Losses: ``ce`` (APGD-CE), ``dlr`` (APGD-DLR), ``margin``; the targeted variant
(APGD-T) attacks the ``n_targets`` runner-up classes of the clean logits in
turn with the targeted DLR (or CE) loss and keeps the worst case.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from rvlib import validate
from rvlib.attacks import checks
from rvlib.attacks.geometry import direction, project, random_start
from rvlib.attacks.objectives import check_classes, get_objective
from rvlib.attacks.pgd import Best, _bcast, _classes, keep_worse, loss_and_grad

__all__ = ["apgd", "apgd_targeted", "apgd_checkpoints"]


@functools.cache
def apgd_checkpoints(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``(is_check: bool[steps], window: i32[steps])``: after step i, check over the last window[i] steps."""
    k = max(int(0.22 * steps), 1)
    shrink, k_min = max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    is_check, window = np.zeros(steps, bool), np.zeros(steps, np.int32)
    since = 0
    for i in range(steps):
        since += 1
        if since == k:
            is_check[i], window[i], since = True, k, 0
            k = max(k - shrink, k_min)
    return is_check, window


def _apgd_run(logits_fn, objective, x, y, key, eps, steps, norm, clip, rho, momentum):
    is_check, window = (jnp.asarray(a) for a in apgd_checkpoints(steps))
    x0 = random_start(key, x, eps, norm, clip)
    loss0, z0, g0 = loss_and_grad(logits_fn, objective, x0, y)
    b = y.shape[0]
    fooled0 = jnp.argmax(z0, -1) != y
    eta0 = jnp.broadcast_to(2.0 * jnp.asarray(eps, jnp.float32), (b,))

    def body(i, c):
        a = jnp.where(i == 0, 1.0, momentum)
        step = _bcast(c["eta"], x) * direction(c["g"], norm)
        z = project(c["x"] + step, x, eps, norm, clip)
        x_new = project(c["x"] + a * (z - c["x"]) + (1.0 - a) * (c["x"] - c["x_prev"]),
                        x, eps, norm, clip)
        loss, logits, g = loss_and_grad(logits_fn, objective, x_new, y)
        fooled = jnp.argmax(logits, -1) != y
        adv = jnp.where(_bcast(fooled, x), x_new, c["adv"])
        rises = c["rises"] + (loss > c["loss_prev"])
        better = loss > c["best_loss"]
        best_x = jnp.where(_bcast(better, x), x_new, c["best_x"])
        best_g = jnp.where(_bcast(better, x), g, c["best_g"])
        best_loss = jnp.where(better, loss, c["best_loss"])
        # checkpoint: halve eta and restart from the best point where progress stalled
        oscillating = rises <= rho * window[i]
        stalled = ~c["reduced"] & (c["best_at_check"] >= best_loss)
        reduce = is_check[i] & (oscillating | stalled)
        r = _bcast(reduce, x)
        return dict(
            x=jnp.where(r, best_x, x_new), x_prev=c["x"], g=jnp.where(r, best_g, g),
            eta=jnp.where(reduce, c["eta"] / 2.0, c["eta"]), loss_prev=loss,
            rises=jnp.where(is_check[i], 0, rises),
            reduced=jnp.where(is_check[i], reduce, c["reduced"]),
            best_at_check=jnp.where(is_check[i], best_loss, c["best_at_check"]),
            best_x=best_x, best_g=best_g, best_loss=best_loss,
            adv=adv, fooled=c["fooled"] | fooled)

    init = dict(x=x0, x_prev=x0, g=g0, eta=eta0, loss_prev=loss0,
                rises=jnp.zeros(b, jnp.int32), reduced=jnp.ones(b, bool), best_at_check=loss0,
                best_x=x0, best_g=g0, best_loss=loss0, adv=x0, fooled=fooled0)
    c = jax.lax.fori_loop(0, steps, body, init)
    return Best(jnp.where(_bcast(c["fooled"], x), c["adv"], c["best_x"]), c["best_loss"],
                c["fooled"])


def _check(logits_fn, x, y, eps, steps, norm, clip, loss, restarts, rho, momentum, targeted):
    eps, steps, norm, clip = checks.eps(eps), checks.steps(steps), checks.norm(norm), checks.clip(clip)
    restarts = checks.steps(restarts, "restarts")
    rho, momentum = validate.probability("rho", rho), validate.probability("momentum", momentum)
    objective = get_objective(loss, targeted)
    checks.inputs(x, y, clip)
    classes = _classes(logits_fn, x)
    check_classes(loss, classes, targeted)
    return (eps, steps, norm, clip, restarts, rho, momentum, objective, classes,
            jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32))


def _empty(x, y):
    return Best(x, jnp.full(y.shape, -jnp.inf, jnp.float32), jnp.zeros(y.shape, bool))


def apgd_best(logits_fn, x, y, key, *, eps, steps: int = 100, norm: str = "linf",
              loss: str = "ce", restarts: int = 1, clip=(0.0, 1.0), rho: float = 0.75,
              momentum: float = 0.75) -> Best:
    """:func:`apgd` returning the whole :class:`~rvlib.attacks.pgd.Best` per example."""
    eps, steps, norm, clip, restarts, rho, momentum, objective, _, x, y = _check(
        logits_fn, x, y, eps, steps, norm, clip, loss, restarts, rho, momentum, False)

    def restart(r, best):
        return keep_worse(best, _apgd_run(logits_fn, objective, x, y, jax.random.fold_in(key, r),
                                          eps, steps, norm, clip, rho, momentum))

    return jax.lax.fori_loop(0, restarts, restart, _empty(x, y))


def apgd(logits_fn, x, y, key, *, eps, steps: int = 100, norm: str = "linf", loss: str = "ce",
         restarts: int = 1, clip=(0.0, 1.0), rho: float = 0.75, momentum: float = 0.75):
    """APGD with ``loss`` in {ce, dlr, margin}: x: f32[b, ...], y: i32[b] -> x_adv: f32[b, ...]."""
    return apgd_best(logits_fn, x, y, key, eps=eps, steps=steps, norm=norm, loss=loss,
                     restarts=restarts, clip=clip, rho=rho, momentum=momentum).x


def apgd_targeted_best(logits_fn, x, y, key, *, eps, steps: int = 100, norm: str = "linf",
                       loss: str = "dlr", n_targets: int = 3, restarts: int = 1,
                       clip=(0.0, 1.0), rho: float = 0.75, momentum: float = 0.75) -> Best:
    """:func:`apgd_targeted` returning the whole :class:`~rvlib.attacks.pgd.Best` per example."""
    eps, steps, norm, clip, restarts, rho, momentum, objective, classes, x, y = _check(
        logits_fn, x, y, eps, steps, norm, clip, loss, restarts, rho, momentum, True)
    n_targets = checks.steps(n_targets, "n_targets")
    if n_targets > classes - 1:
        validate.fail("n_targets", n_targets, f"must be <= classes - 1 = {classes - 1}")
    ranked = jax.lax.top_k(jax.lax.stop_gradient(logits_fn(x)), n_targets + 1)[1]

    def one_target(j, best):
        target = ranked[:, j + 1]
        obj = lambda z, yy: objective(z, yy, target)

        def restart(r, best):
            k = jax.random.fold_in(jax.random.fold_in(key, j), r)
            return keep_worse(best, _apgd_run(logits_fn, obj, x, y, k, eps, steps, norm, clip,
                                              rho, momentum))

        return jax.lax.fori_loop(0, restarts, restart, best)

    return jax.lax.fori_loop(0, n_targets, one_target, _empty(x, y))


def apgd_targeted(logits_fn, x, y, key, *, eps, steps: int = 100, norm: str = "linf",
                  loss: str = "dlr", n_targets: int = 3, restarts: int = 1, clip=(0.0, 1.0),
                  rho: float = 0.75, momentum: float = 0.75):
    """APGD-T: the ``n_targets`` runner-up classes of the clean logits as targets, worst case kept."""
    return apgd_targeted_best(logits_fn, x, y, key, eps=eps, steps=steps, norm=norm, loss=loss,
                              n_targets=n_targets, restarts=restarts, clip=clip, rho=rho,
                              momentum=momentum).x
