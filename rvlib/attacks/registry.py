"""The attacks by name: one typed table, ``ATTACKS[name] -> AttackSpec``, and :func:`attack`.

Every entry is called as ``fn(logits_fn, x, y, key, **kwargs) -> x_adv``
(attacks without randomness ignore ``key``); ``defaults`` are the keyword
arguments the entry adds unless the caller overrides them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType

import jax
import jax.numpy as jnp

from rvlib import validate
from rvlib.attacks import checks
from rvlib.attacks.apgd import apgd, apgd_targeted
from rvlib.attacks.pgd import fgsm, pgd

__all__ = ["AttackSpec", "ATTACKS", "attack", "random_noise"]


def random_noise(logits_fn, x, y, key, *, eps, norm: str = "linf", clip=(0.0, 1.0)):
    """The no-gradient baseline: a random corner of the L∞ cube (``x + eps * ±1``) or a random
    point of the L2 sphere; an attack that does worse than this signals gradient masking."""
    eps, norm, clip = checks.eps(eps), checks.norm(norm), checks.clip(clip)
    checks.inputs(x, y, clip)
    x = jnp.asarray(x, jnp.float32)
    if norm == "linf":
        d = jax.random.rademacher(key, x.shape, jnp.float32)
    else:
        g = jax.random.normal(key, x.shape, jnp.float32)
        d = g / jnp.sqrt(jnp.sum(g.reshape(g.shape[0], -1) ** 2, -1)).reshape(
            (-1,) + (1,) * (x.ndim - 1))
    return jnp.clip(x + eps * d, clip[0], clip[1])


def _fgsm(logits_fn, x, y, key, **kwargs):
    del key  # deterministic
    return fgsm(logits_fn, x, y, **kwargs)


@dataclass(frozen=True)
class AttackSpec:
    """One attack: ``fn(logits_fn, x, y, key, **kwargs) -> x_adv``; ``gradient``: uses gradients."""
    name: str
    fn: Callable
    description: str
    defaults: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    gradient: bool = True

    def __call__(self, logits_fn, x, y, key, **kwargs):
        return self.fn(logits_fn, x, y, key, **(dict(self.defaults) | kwargs))


def _spec(name, fn, description, gradient=True, **defaults):
    return AttackSpec(name, fn, description, MappingProxyType(defaults), gradient)


ATTACKS: dict[str, AttackSpec] = {s.name: s for s in (
    _spec("noise", random_noise, "random sign (L∞) / sphere (L2) noise at eps; no gradients",
          gradient=False),
    _spec("fgsm", _fgsm, "one signed-gradient step of size eps (Goodfellow et al. 2015)"),
    _spec("pgd", pgd, "PGD, random start, steps=10, step 2.5 eps/steps (Madry et al. 2018)",
          steps=10),
    _spec("apgd_ce", apgd, "APGD on cross-entropy, 100 steps (Croce & Hein 2020)",
          loss="ce", steps=100),
    _spec("apgd_dlr", apgd, "APGD on the DLR loss, 100 steps (Croce & Hein 2020)",
          loss="dlr", steps=100),
    _spec("apgd_t", apgd_targeted, "APGD-T: targeted DLR on 3 runner-up classes, 100 steps",
          loss="dlr", steps=100, n_targets=3),
)}


def attack(name: str, logits_fn, x, y, key, **kwargs):
    """Run the attack called ``name`` (a key of ``ATTACKS``): ``x: f32[b, ...] -> x_adv``."""
    return ATTACKS[validate.choice("attack", name, ATTACKS)](logits_fn, x, y, key, **kwargs)
