"""Checkpoints of a training run with Orbax: resume after a kill, keep the best model.

One folder per run::

    ckpt = Checkpoints("results/runs/mlp_seed0", best_metric="test_accuracy", every_steps=50)
    graphdef, state, history = training.fit(..., checkpoint=ckpt)
    # killed? the same call resumes from the last checkpoint to the same final parameters;
    # finished? the same call restores it and skips training
    best_state, best_meta = ckpt.restore_best(state)

``<folder>/latest/<step>/`` holds the newest checkpoints (for resuming),
``<folder>/best/<step>/`` the one with the best ``best_metric`` so far (saved
at epoch ends).  Each checkpoint has two items: ``state`` (the
:class:`TrainState` arrays -- params, optimiser state, EMA, step -- and the
data-order key, in Orbax's array format) and ``meta`` (JSON: position in the
data, history, the run's configuration).  Orbax writes a checkpoint into a
temporary folder and renames it when complete, and saving here is
synchronous, so a kill leaves either the previous or the new checkpoint,
never a half-written one that looks finished.  Nothing is pickled.

Typed PRNG keys (NNX's ``RngKey`` state, the data-order key) are stored as
their raw ``key_data`` and wrapped back on restore, since Orbax cannot
write typed key arrays.
"""
from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from rvlib import validate

__all__ = ["Checkpoints", "open_checkpoints", "encode_keys", "decode_keys"]

MODES = ("max", "min")


def _is_key(a) -> bool:
    return hasattr(a, "dtype") and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)


def encode_keys(tree):
    """Every typed key leaf replaced by its raw ``key_data`` (u32[..., 2] for threefry)."""
    return jax.tree.map(lambda a: jax.random.key_data(a) if _is_key(a) else a, tree)


def decode_keys(tree, like):
    """Undo :func:`encode_keys`: wrap the leaves that are typed keys in ``like`` back into keys."""
    return jax.tree.map(
        lambda a, ref: jax.random.wrap_key_data(a, impl=jax.random.key_impl(ref))
        if _is_key(ref) else a, tree, like)


def _abstract(tree):
    import orbax.checkpoint as ocp
    return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


class Checkpoints:
    """The Orbax checkpoints of one training run in ``directory``.

    ``keep``: how many of the newest checkpoints stay in ``latest/``;
    ``best_metric``: a key of ``fit``'s history (e.g. ``"test_accuracy"``)
    whose best value (``best_mode`` ``"max"`` or ``"min"``) picks the one
    checkpoint kept in ``best/``; ``every_steps``: ``fit`` also saves every
    that many steps inside an epoch (default: at epoch ends only).
    """

    def __init__(self, directory, *, keep: int = 2, best_metric: str | None = None,
                 best_mode: str = "max", every_steps: int | None = None):
        import orbax.checkpoint as ocp

        self.directory = Path(directory).resolve()
        self.keep = validate.positive("keep", keep, integer=True)
        self.best_metric = best_metric
        self.best_mode = validate.choice("best_mode", best_mode, MODES)
        self.every_steps = (None if every_steps is None
                            else validate.positive("every_steps", every_steps, integer=True))
        if best_metric is not None and not isinstance(best_metric, str):
            validate.fail("best_metric", best_metric, "must be a history key such as "
                          "'test_accuracy', or None")
        common = dict(enable_async_checkpointing=False, cleanup_tmp_directories=True)
        self._latest = ocp.CheckpointManager(
            self.directory / "latest", options=ocp.CheckpointManagerOptions(
                max_to_keep=self.keep, **common))
        self._best = None
        if best_metric is not None:
            self._best = ocp.CheckpointManager(
                self.directory / "best", options=ocp.CheckpointManagerOptions(
                    max_to_keep=1, best_fn=lambda m: m[best_metric], best_mode=self.best_mode,
                    keep_checkpoints_without_metrics=False, **common))

    def __repr__(self):
        return (f"Checkpoints({str(self.directory)!r}, keep={self.keep}, "
                f"best_metric={self.best_metric!r}, every_steps={self.every_steps})")

    # ------------------------------------------------------------------ saving

    @staticmethod
    def _args(state, key, meta):
        import orbax.checkpoint as ocp
        item = {"train": encode_keys(state), "key": jax.random.key_data(key)}
        return ocp.args.Composite(state=ocp.args.StandardSave(item),
                                  meta=ocp.args.JsonSave(meta))

    def save(self, step: int, state, key, meta: dict, metrics: dict | None = None) -> None:
        """Write checkpoint ``step`` (state, data-order ``key``, JSON ``meta``), atomically.

        With ``metrics`` holding a finite ``best_metric`` the checkpoint is
        also offered to ``best/`` (kept if it is the best so far).
        """
        self._latest.save(step, args=self._args(state, key, meta), force=True)
        self._latest.wait_until_finished()
        if self._best is not None and metrics is not None:
            value = metrics.get(self.best_metric)
            if value is None:
                validate.fail("best_metric", self.best_metric,
                              "must be one of the history keys " + ", ".join(metrics))
            if np.isfinite(value):
                self._best.save(step, args=self._args(state, key, meta), force=True,
                                metrics={self.best_metric: float(value)})
                self._best.wait_until_finished()

    def save_position(self, position: int, state, key, *, config: dict, history: list,
                      partial: list, record: dict | None = None) -> None:
        """``training.fit``'s checkpoint after ``position`` steps.

        ``partial``: the step metrics of the unfinished epoch (so that its
        history record comes out the same after a resume); ``record``: the
        epoch's history record when ``position`` ends an epoch (offered to ``best/``).
        """
        partial = [{k: np.asarray(v).tolist() for k, v in m.items()}
                   for m in jax.device_get(partial)]
        meta = dict(config=config, position=position, history=history,
                    partial=partial)
        self.save(position, state, key, meta, metrics=record)

    # ------------------------------------------------------------------ restoring

    def latest_step(self) -> int | None:
        """The step of the newest complete checkpoint, or None."""
        return self._latest.latest_step()

    def best_step(self) -> int | None:
        """The step of the checkpoint with the best ``best_metric``, or None."""
        return None if self._best is None else self._best.best_step()

    @staticmethod
    def _restore(manager, step, like, key_like):
        import orbax.checkpoint as ocp
        target = {"train": encode_keys(like), "key": jax.random.key_data(key_like)}
        got = manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(_abstract(target)), meta=ocp.args.JsonRestore()))
        key = jax.random.wrap_key_data(got.state["key"], impl=jax.random.key_impl(key_like))
        return decode_keys(got.state["train"], like), key, got.meta

    def restore(self, like, step: int | None = None, *, key_like=None):
        """``(state, key, meta)`` of checkpoint ``step`` (default: the newest).

        ``like``: a state of the same structure (e.g. a fresh one from
        ``create_train_state``); its shapes, dtypes, shardings and key types
        are those of the result.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            validate.fail("checkpoint", str(self.directory / "latest"), "holds no checkpoint")
        key_like = jax.random.key(0) if key_like is None else key_like
        return self._restore(self._latest, step, like, key_like)

    def restore_best(self, like, *, key_like=None):
        """``(state, key, meta)`` of the best checkpoint by ``best_metric``."""
        step = self.best_step()
        if step is None:
            validate.fail("best_metric", self.best_metric,
                          f"{self.directory / 'best'} holds no checkpoint with that metric")
        key_like = jax.random.key(0) if key_like is None else key_like
        return self._restore(self._best, step, like, key_like)

    def resume(self, like, config: dict, key_like):
        """``(state, key, meta)`` to continue from, or None for a fresh run.

        Refuses (``ValueError``) a checkpoint made with another ``config``:
        its data order or steps would not continue this run.
        """
        if self.latest_step() is None:
            return None
        state, key, meta = self.restore(like, key_like=key_like)
        saved = meta.get("config")
        if saved != config:
            diff = ", ".join(f"{k}: {saved.get(k)!r} -> {config.get(k)!r}"
                             for k in sorted(set(saved or {}) | set(config))
                             if (saved or {}).get(k) != config.get(k))
            validate.fail("checkpoint", str(self.directory),
                          f"was written by a run with another configuration ({diff}); "
                          "use another folder or delete it")
        return state, key, meta

    def close(self) -> None:
        self._latest.close()
        if self._best is not None:
            self._best.close()


def open_checkpoints(checkpoint) -> Checkpoints | None:
    """``None``, a :class:`Checkpoints`, or a folder path (-> ``Checkpoints(path)``)."""
    if checkpoint is None or isinstance(checkpoint, Checkpoints):
        return checkpoint
    if isinstance(checkpoint, (str, Path)):
        return Checkpoints(checkpoint)
    validate.fail("checkpoint", type(checkpoint).__name__,
                  "must be None, a folder path or a training.checkpoint.Checkpoints")
