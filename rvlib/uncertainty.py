"""Uncertainty scores of an ensemble from its members' logits ``f32[K, n, c]``.

Every score is per example (``-> f32[n]``) and oriented the same way: **higher
means more uncertain**, so one threshold rule (accept ``score <= τ``) serves
all of them in :mod:`rvlib.selective`.  With member probabilities ``p_k`` and
their mean ``p̄ = (1/K) Σ_k p_k`` (the ensemble's prediction):

* ``predictive_entropy``: ``H[p̄] = -Σ_c p̄_c log p̄_c`` (total uncertainty);
* ``expected_entropy``: ``(1/K) Σ_k H[p_k]`` (what the members are unsure of);
* ``mutual_information`` (BALD): ``H[p̄] - (1/K) Σ_k H[p_k] >= 0`` (Jensen),
  the members' disagreement; 0 when all members give the same probabilities;
* ``variation_ratio``: ``1 - (votes for the modal class) / K`` (hard disagreement);
* ``committee_variance``: ``Σ_c Var_k p_{k,c} = (1/K) Σ_k ||p_k - p̄||²``;
* ``committee_cross_entropy``: the seed paper's ``-Σ_{k,l} Σ_c p_{k,c} log p_{l,c}``
  (sum over ordered member pairs, ``k = l`` included; equals
  ``K² · (-Σ_c p̄_c · mean_l log p_{l,c})``);
* ``least_confidence``: ``1 - max_c p̄_c`` (the max-softmax-probability score,
  flipped so higher means more uncertain).

Entropies use natural logs (nats); log-probabilities come from
``log_softmax`` of the logits, so no ``log 0`` appears.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from rvlib import validate

__all__ = ["check_members", "member_log_probs", "ensemble_log_probs", "ensemble_probs",
           "predictive_entropy", "expected_entropy", "mutual_information", "variation_ratio",
           "committee_variance", "committee_cross_entropy", "least_confidence", "Score",
           "SCORES", "score", "all_scores"]


def check_members(member_logits, name: str = "member_logits") -> jax.Array:
    """``f32[K, n, c]`` from an array or a list of K arrays ``[n, c]``, K >= 2, c >= 2."""
    if isinstance(member_logits, (list, tuple)):
        shapes = [tuple(np.shape(m)) for m in member_logits]
        for i, s in enumerate(shapes):
            if s != shapes[0]:
                validate.fail(f"{name}[{i}].shape", s,
                              f"every member must have the shape of {name}[0], {shapes[0]}")
    z = jnp.asarray(member_logits, jnp.float32)
    if z.ndim != 3:
        validate.fail(name + ".shape", tuple(z.shape), "must be [members, batch, classes]")
    if z.shape[0] < 2:
        validate.fail(name + ".shape", tuple(z.shape),
                      "an ensemble needs at least 2 members (K >= 2 in [K, batch, classes])")
    if z.shape[2] < 2:
        validate.fail(name + ".shape", tuple(z.shape), "must have at least 2 classes")
    return z


def member_log_probs(member_logits) -> jax.Array:
    """``log p_k``: f32[K, n, c]."""
    return jax.nn.log_softmax(check_members(member_logits), axis=-1)


def ensemble_log_probs(member_logits) -> jax.Array:
    """``log p̄`` (log of the mean member probability), computed stably: f32[n, c].

    Valid logits of the ensemble: ``softmax(log p̄) = p̄``.
    """
    logp = member_log_probs(member_logits)
    return jax.nn.logsumexp(logp, axis=0) - jnp.log(logp.shape[0])


def ensemble_probs(member_logits) -> jax.Array:
    """``p̄ = (1/K) Σ_k softmax(z_k)``: f32[n, c]."""
    return jnp.exp(ensemble_log_probs(member_logits))


def _entropy(logp: jax.Array) -> jax.Array:
    return -jnp.sum(jnp.exp(logp) * logp, axis=-1)


def predictive_entropy(member_logits) -> jax.Array:
    """``H[p̄]``: f32[n] (nats)."""
    return _entropy(ensemble_log_probs(member_logits))


def expected_entropy(member_logits) -> jax.Array:
    """``(1/K) Σ_k H[p_k]``: f32[n] (nats)."""
    return jnp.mean(_entropy(member_log_probs(member_logits)), axis=0)


def mutual_information(member_logits) -> jax.Array:
    """BALD ``H[p̄] - (1/K) Σ_k H[p_k]``: f32[n], clamped at 0 (rounding can give -1e-8)."""
    return jnp.maximum(predictive_entropy(member_logits) - expected_entropy(member_logits), 0.0)


def variation_ratio(member_logits) -> jax.Array:
    """``1 - max_c #{k: argmax z_k = c} / K``: f32[n] in [0, 1 - 1/K]."""
    z = check_members(member_logits)
    votes = jnp.sum(jax.nn.one_hot(jnp.argmax(z, axis=-1), z.shape[-1]), axis=0)
    return 1.0 - jnp.max(votes, axis=-1) / z.shape[0]


def committee_variance(member_logits) -> jax.Array:
    """``Σ_c Var_k p_{k,c}`` (population variance over members): f32[n]."""
    p = jnp.exp(member_log_probs(member_logits))
    return jnp.sum(jnp.var(p, axis=0), axis=-1)


def committee_cross_entropy(member_logits) -> jax.Array:
    """``-Σ_{k,l} Σ_c p_{k,c} log p_{l,c}`` over all ordered member pairs: f32[n]."""
    logp = member_log_probs(member_logits)
    p = jnp.exp(logp)
    return -jnp.einsum("knc,lnc->n", p, logp)


def least_confidence(member_logits) -> jax.Array:
    """``1 - max_c p̄_c``: f32[n] in [0, 1 - 1/c]."""
    return 1.0 - jnp.max(ensemble_probs(member_logits), axis=-1)


@dataclasses.dataclass(frozen=True)
class Score:
    """One uncertainty score: ``fn(member_logits: f32[K, n, c]) -> f32[n]`` (higher = less sure)."""
    name: str
    fn: Callable[[jax.Array], jax.Array]
    summary: str


SCORES: dict[str, Score] = {s.name: s for s in (
    Score("predictive_entropy", predictive_entropy, "entropy of the mean probability H[p̄]"),
    Score("expected_entropy", expected_entropy, "mean member entropy"),
    Score("mutual_information", mutual_information, "BALD: H[p̄] - mean member entropy"),
    Score("variation_ratio", variation_ratio, "1 - modal votes / K"),
    Score("committee_variance", committee_variance, "Σ_c variance of p_c over members"),
    Score("committee_cross_entropy", committee_cross_entropy,
          "the seed paper's -Σ_{k,l} Σ_c p_kc log p_lc"),
    Score("least_confidence", least_confidence, "1 - max softmax probability of p̄"),
)}


def score(name: str, member_logits) -> jax.Array:
    """The score called ``name`` (a key of :data:`SCORES`): f32[n]."""
    return SCORES[validate.choice("score", name, SCORES)].fn(member_logits)


def all_scores(member_logits, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """``{name: f64[n]}`` for ``names`` (default: every score), on the host."""
    names = list(SCORES) if names is None else [validate.choice("score", n, SCORES)
                                                for n in names]
    z = check_members(member_logits)
    return {n: np.asarray(SCORES[n].fn(z), np.float64) for n in names}
