"""Gradient training of Flax NNX models.

* ``state``: :class:`TrainState` (the arrays of one run) and the input checks;
* ``steps``: the pure ``step(state, batch, key) -> (state, metrics)`` (EMA,
  mixup, conductance clip) and the eval step;
* ``loop``: ``fit`` (epochs, shuffling, history), ``predict``, ``evaluate``;
* ``many_models``: ``fit_many``, K models that differ in seed/lr/λ/clip
  trained as ONE jitted program;
* ``parallel``: the data-parallel (``pmap``) step and its helpers;
* ``sharded``: data parallel the current way (``jit`` over a device mesh), multi-process;
* ``checkpoint``: Orbax checkpoints of ``fit`` (resume after a kill, keep the best);
* ``batching``: the one pad-to-whole-batches helper every batched call uses;
* ``classifier``: train an MLP/CNN classifier and measure it on held-out data.
"""
from rvlib.training.batching import map_batches, pad_rows
from rvlib.training.classifier import CLASSIFIERS, gradient_clip_sweep, train_classifier
from rvlib.training.loop import evaluate, fit, predict, predict_model
from rvlib.training.many_models import ManyFit, fit_many
from rvlib.training.parallel import pmap_train_step, replicate, shard_batch, unreplicate
from rvlib.training.state import TrainState, create_train_state, to_model
from rvlib.training.steps import jit_train_step, make_eval_step, make_train_step

__all__ = ["TrainState", "create_train_state", "to_model", "make_train_step", "jit_train_step",
           "make_eval_step", "fit", "predict", "predict_model", "evaluate", "fit_many",
           "ManyFit", "pmap_train_step", "replicate", "unreplicate", "shard_batch",
           "map_batches", "pad_rows", "train_classifier", "gradient_clip_sweep", "CLASSIFIERS"]
