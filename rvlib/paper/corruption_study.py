"""The paper's per-image models under the four corruptions of its earlier version.

The protocol itself only evaluates Gaussian noise; here each per-image model
(Hebbian crossbars, per-image MLPs) is read on corrupted copies of its own
training image under gaussian, salt-and-pepper, fog and occlusion.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rvlib import corruptions, stats, validate
from rvlib.paper import protocol
from rvlib.paper.reference import METHODS, PAPER_SEED

__all__ = ["paper_protocol_under_corruptions", "CORRUPTION_METHODS"]

# The per-image models read under corruptions: the Hebbian crossbar without and with the
# physical clip, and the three MLPs (keys of reference.METHODS).
CORRUPTION_METHODS = ("hebbian", "hebbian_0_1", "mlp_standard", "mlp_margin1", "mlp_margin10")


def paper_protocol_under_corruptions(images, *, methods: Sequence[str] = CORRUPTION_METHODS,
                                     corruption_names: Sequence[str] = tuple(
                                         corruptions.CORRUPTIONS),
                                     severities=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
                                     seed: int = PAPER_SEED, noise_seed: int = 0,
                                     update: str = "published") -> list[dict]:
    """The paper's per-image models, each read on corrupted copies of its own training image.

    images: f32[n, h, w, c] in [0, 1] (the protocol trains on the flattened
    images).  ``methods``: keys of ``reference.METHODS`` among
    :data:`CORRUPTION_METHODS` (Hebbian crossbars with the paper's η and
    updates, MLPs with the paper's λ).  Every
    (corruption, severity) pair gets its own key from ``key(noise_seed)``
    (``corruptions.corrupt_grid(key(noise_seed), images, corruption_names,
    severities)``: the same call gives the same images); all methods see the
    same corrupted images.  ``update``: the MLPs' training, a name of
    ``protocol.MLP_UPDATES`` (the authors' published step by default).
    One row per (method, corruption, severity): ``stats.binary_summary`` plus
    ``degradation`` (accuracy on the clean image − accuracy).
    """
    methods = validate.each("methods", methods,
                            lambda n, m: validate.choice(n, m, CORRUPTION_METHODS),
                            nonempty="of " + ", ".join(repr(m) for m in CORRUPTION_METHODS))
    names = list(corruption_names)
    sev = validate.severities("severities", severities)
    validate.image_shape("images", images)
    noise_seed = validate.non_negative("noise_seed", noise_seed, integer=True)
    u = protocol.MLP_UPDATES[validate.choice("update", update, protocol.MLP_UPDATES)]
    imgs = jnp.asarray(images, jnp.float32)
    n = imgs.shape[0]
    x = imgs.reshape(n, -1)
    # Severity 0 returns the image bit for bit; add it only if missing, so a caller
    # that corrupt_grid-s the same images with the same key and severities gets
    # exactly these inputs (and reuses the compiled grid).
    run_sev = sev if 0.0 in sev else sev + [0.0]
    clean_idx = run_sev.index(0.0)
    grid = corruptions.corrupt_grid(jax.random.key(noise_seed), imgs, names, run_sev)
    xe = jnp.stack([grid[c].reshape(len(run_sev), n, -1) for c in names])  # f32[C, S, n, d]
    xe = xe.reshape(-1, n, x.shape[1]).swapaxes(0, 1)                      # f32[n, C·S, d]
    outs = {m: _protocol_outputs(m, x, xe, seed, u) for m in methods}
    rows = []
    for m in methods:
        o = outs[m].reshape(n, len(names), len(run_sev), 2)
        for j, c in enumerate(names):
            clean_acc = stats.binary_summary(o[:, j, clean_idx])["accuracy"]
            for k, s in enumerate(sev):
                r = stats.binary_summary(o[:, j, k])
                rows.append({"method": m, "corruption": c, "severity": s} | r
                            | {"degradation": clean_acc - r["accuracy"]})
    return rows


def _protocol_outputs(method: str, x, xe, seed: int, u) -> np.ndarray:
    """f32[n, m, 2]: the method's model for image i applied to ``xe[i]: f32[m, d]``."""
    m = METHODS[method]
    if m.rule == "hebbian":
        w = protocol.run_crossbar(x, rule=m.rule, eta=m.eta, iters=m.iters, clip=m.clip,
                                  levels=[0.0], seed=seed)["weights"]
        return np.asarray(jnp.einsum("nmd,ndk->nmk", xe, jnp.asarray(w)))
    return np.asarray(_mlp_outputs(x, xe, jnp.float32(m.lam), seed, u.update, u.bias))


@partial(jax.jit, static_argnums=(3, 4, 5))
def _mlp_outputs(x, xe, lam, seed, update, bias):
    n, d = x.shape
    p0 = protocol.init_mlps(seed, n, d, bias=bias)

    def per_image(p, xi, xei):
        q = protocol.train_mlp_lowrank(p, xi, lam, update=update)
        return protocol.lowrank_forward(q, p["w1"], xi, xei)

    return jax.vmap(per_image)(p0, x, xe)
