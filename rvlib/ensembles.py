"""Deep ensembles trained as one program: K members that differ only in seed.

::

    ens = ensembles.train_ensemble(make_model, train, seeds=range(5), epochs=30,
                                   batch_size=64, lr=3e-3)
    z = ens.member_logits(x)                  # f32[K, n, c]
    p = uncertainty.ensemble_probs(z)          # the ensemble's prediction, mean of member probs

Members are trained by ``training.fit_many`` (one vmapped, jitted program;
member ``k`` equals ``training.fit`` of ``make_model(seeds[k])`` with
``seed=seeds[k]``: its own initialisation and data order).  :func:`fine_tune`
continues training every member from its current weights on new data (the
second generation of :mod:`rvlib.immunisation`).  ``logits_fn`` gives the
jittable ``x -> logits`` functions an attack differentiates (one member, or
the whole ensemble through ``log p̄``).
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rvlib import metrics, uncertainty, validate
from rvlib.models import has_conv
from rvlib.training.batching import map_batches
from rvlib.training.many_models import ManyFit, fit_many, unstack
from rvlib.training.state import TrainState, to_model

__all__ = ["Ensemble", "train_ensemble", "fine_tune", "member_metrics", "ensemble_metrics"]


def _check_seeds(seeds) -> list[int]:
    seeds = validate.each("seeds", seeds, lambda n, v: validate.non_negative(n, v, integer=True),
                          distinct="seed")
    if len(seeds) < 2:
        validate.fail("seeds", seeds, "an ensemble needs at least 2 members (K >= 2 seeds)")
    return seeds


@functools.partial(jax.jit, static_argnums=0)
def _forward_all(graphdef, params, rest, x):  # -> f32[K, b, c]
    return jax.vmap(lambda p, r: nnx.merge(graphdef, p, r)(x))(params, rest)


@functools.partial(jax.jit, static_argnums=0)
def _forward_one(graphdef, params, rest, x):
    return nnx.merge(graphdef, params, rest)(x)


@dataclasses.dataclass
class Ensemble:
    """K members of one architecture: ``states`` holds their arrays stacked on a leading axis."""
    graphdef: nnx.GraphDef
    states: TrainState
    seeds: list[int]
    histories: list[list[dict]]
    engine: str

    @property
    def k(self) -> int:
        return len(self.seeds)

    @classmethod
    def from_fit(cls, fit: ManyFit) -> "Ensemble":
        return cls(fit.graphdef, fit.states, [c["seed"] for c in fit.configs], fit.histories,
                   fit.engine)

    def _member(self, i: int) -> int:
        return validate.number("member", i, min=0, max=self.k - 1, integer=True)

    def model(self, i: int) -> nnx.Module:
        """Member ``i`` as an ``nnx.Module``."""
        return to_model(self.graphdef, unstack(self.states, self._member(i)))

    def member_logits(self, x, *, batch_size: int = 1024) -> jax.Array:
        """Every member's logits on ``x: f32[n, ...]`` -> f32[K, n, c].

        Conv models on CPU run member by member (XLA:CPU is slow at vmapped
        convolutions, see ``training.many_models``); others in one vmapped call.
        """
        x = jnp.asarray(x, jnp.float32)
        if jax.default_backend() == "cpu" and has_conv(self.graphdef):
            return jnp.stack([map_batches(
                lambda b, s=unstack(self.states, i): _forward_one(self.graphdef, s.params,
                                                                  s.rest, b), x, batch_size)
                for i in range(self.k)])
        return map_batches(lambda b: _forward_all(self.graphdef, self.states.params,
                                                  self.states.rest, b), x, batch_size, axis=1)

    def logits_fn(self, member: int | None = None) -> Callable[[jax.Array], jax.Array]:
        """A jittable ``x: f32[b, ...] -> f32[b, c]``: member ``member``'s logits, or with
        ``None`` the ensemble's ``log p̄`` (``softmax(log p̄) = p̄``), for attacks."""
        if member is not None:
            s = unstack(self.states, self._member(member))
            return lambda x: nnx.merge(self.graphdef, s.params, s.rest)(x)
        params, rest, graphdef = self.states.params, self.states.rest, self.graphdef

        def ensemble_logits(x):
            z = jax.vmap(lambda p, r: nnx.merge(graphdef, p, r)(x))(params, rest)
            return uncertainty.ensemble_log_probs(z)
        return ensemble_logits


def train_ensemble(make_model: Callable[[int], nnx.Module], train, test=None, *,
                   seeds: Sequence[int], epochs: int, batch_size: int, lr: float = 1e-3,
                   loss: str = "cross_entropy", loss_kwargs: dict | None = None,
                   optimizer: str = "adam", progress: bool = False,
                   engine: str | None = None) -> Ensemble:
    """K = len(seeds) >= 2 members of ``make_model(seed)`` trained by one ``fit_many`` call.

    ``train``/``test``: ``(x: f32[n, ...], y: i32[n])``; ``loss_kwargs``:
    numeric hyperparameters of ``loss`` (e.g. ``{"lam": 1.0}``), the same for
    every member.
    """
    seeds = _check_seeds(seeds)
    lr = validate.positive("lr", lr)
    configs = [dict(seed=s, lr=lr, **(loss_kwargs or {})) for s in seeds]
    return Ensemble.from_fit(fit_many(make_model, configs, train, test, loss=loss, epochs=epochs,
                                      batch_size=batch_size, optimizer=optimizer,
                                      progress=progress, engine=engine))


def fine_tune(ens: Ensemble, train, test=None, *, epochs: int, batch_size: int,
              lr: float = 1e-3, loss: str = "cross_entropy", loss_kwargs: dict | None = None,
              seed_offset: int = 1000, progress: bool = False) -> Ensemble:
    """Every member trained further on ``train`` from its current weights (fresh optimiser).

    Member ``k`` shuffles with seed ``seeds[k] + seed_offset`` (so its data
    order is not the first generation's); the result keeps those seeds.
    """
    seed_offset = validate.non_negative("seed_offset", seed_offset, integer=True)
    members = {s + seed_offset: i for i, s in enumerate(ens.seeds)}
    configs = [dict(seed=s, lr=validate.positive("lr", lr), **(loss_kwargs or {}))
               for s in members]
    fit = fit_many(lambda s: ens.model(members[s]), configs, train, test, loss=loss,
                   epochs=epochs, batch_size=batch_size, progress=progress, engine=ens.engine)
    return Ensemble.from_fit(fit)


def member_metrics(member_logits, labels) -> list[dict]:
    """``metrics.classifier_metrics`` of each member: K dicts."""
    z = uncertainty.check_members(member_logits)
    return [metrics.classifier_metrics(z[i], labels) for i in range(z.shape[0])]


def ensemble_metrics(member_logits, labels) -> dict[str, float]:
    """The ensemble (mean of member probabilities) against its members.

    ``accuracy``, ``nll``, ``ece`` of the ensemble (on ``log p̄``), and for each
    the members' mean (``member_mean_*``), best and worst, plus ``k``.
    """
    z = uncertainty.check_members(member_logits)
    labels = jnp.asarray(labels, jnp.int32)
    metrics.check_outputs("member_logits[0]", z[0], labels)
    ens = metrics.classifier_metrics(uncertainty.ensemble_log_probs(z), labels)
    per = member_metrics(z, labels)
    out = {"k": int(z.shape[0])}
    for key in ("accuracy", "nll", "ece"):
        vals = np.array([m[key] for m in per])
        best = vals.max() if key == "accuracy" else vals.min()
        worst = vals.min() if key == "accuracy" else vals.max()
        out |= {key: ens[key], f"member_mean_{key}": float(vals.mean()),
                f"member_best_{key}": float(best), f"member_worst_{key}": float(worst)}
    return out
