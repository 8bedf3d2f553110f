"""Notebook 07's study: clean vs noise-trained classifiers under weight noise and analog devices.

``train_models`` trains every (model, training, seed) once (``training.fit``,
``weight_noise=alpha_train`` for the noise-trained ones); the ``*_rows``
functions evaluate each trained model with one grid program
(``hardware.grid``) and return one row per (model, training, seed,
setting) with the accuracy's mean and std over draws; ``stats.group_table``
then averages over seeds.
"""
from __future__ import annotations

import jax
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from rvlib import losses, validate
from rvlib.hardware.grid import device_grid, weight_noise_grid
from rvlib.hardware.presets import get_device
from rvlib.training.classifier import make_classifier
from rvlib.training.loop import fit
from rvlib.training.state import to_model

__all__ = ["Trained", "clean_accuracy", "train_models", "noise_rows", "device_rows"]

TRAININGS = ("clean", "noise")


class Trained(dict):
    """``{"model", "training", "seed", "alpha_train", "graphdef", "params", "rest", "clean_accuracy"}``."""


def clean_accuracy(graphdef, params, rest, test) -> float:
    logits = nnx.merge(graphdef, params, rest)(np.asarray(test[0], np.float32))
    return float(np.mean(np.argmax(np.asarray(logits), -1) == np.asarray(test[1])))


def train_models(train, test, *, model_names, seeds, alpha_train: float, epochs: int, lr: float,
                 batch_size: int, hidden: int = 128, progress: bool = True) -> list[Trained]:
    """One classifier per (model, training in ``clean``/``noise``, seed); cross-entropy, Adam."""
    alpha_train = validate.positive("alpha_train", alpha_train)
    classes = int(max(np.max(train[1]), np.max(test[1]))) + 1
    jobs = [(m, t, s) for m in model_names for t in TRAININGS for s in seeds]
    out = []
    for name, how, seed in tqdm(jobs, desc="train", disable=not progress):
        net = make_classifier(name, np.shape(train[0])[1:], classes, seed=seed, hidden=hidden)
        a = alpha_train if how == "noise" else 0.0
        graphdef, state, _ = fit(net, optax.adam(lr), losses.get_loss("cross_entropy"), train,
                                 epochs=epochs, batch_size=batch_size, seed=seed,
                                 progress=False, weight_noise=a)
        _, params, rest = nnx.split(to_model(graphdef, state), nnx.Param, ...)
        out.append(Trained(model=name, training=how, seed=seed, alpha_train=a,
                           graphdef=graphdef, params=params, rest=rest,
                           clean_accuracy=clean_accuracy(graphdef, params, rest, test)))
    return out


def _row(one: Trained, acc: np.ndarray, **setting) -> dict:
    return dict(model=one["model"], training=one["training"], seed=one["seed"], **setting,
                accuracy=float(np.mean(acc)), accuracy_draw_std=float(np.std(acc)),
                drop=one["clean_accuracy"] - float(np.mean(acc)))


def noise_rows(trained: list[Trained], test, alphas, *, draws: int, seed: int) -> list[dict]:
    """Rows (model, training, seed, alpha): accuracy under ``W + alpha sigma_W N(0, 1)``.

    Every model sees the same keys (``jax.random.key(seed)``): draw d is one noise pattern.
    """
    rows = []
    for t in trained:
        acc = weight_noise_grid(t["graphdef"], t["params"], t["rest"], test, alphas, draws=draws,
                                key=jax.random.key(seed))
        rows += [_row(t, acc[i], alpha=float(a)) for i, a in enumerate(alphas)]
    return rows


def device_rows(trained: list[Trained], test, device, times, *, draws: int, seed: int,
                gdc: bool = True, **changes) -> list[dict]:
    """Rows (model, training, seed, t): accuracy on ``device`` (a preset name; ``changes`` to it)."""
    dev = get_device(device, **changes)
    rows = []
    for t in trained:
        acc = device_grid(t["graphdef"], t["params"], t["rest"], test, dev, times, draws=draws,
                          key=jax.random.key(seed), gdc=gdc)
        rows += [_row(t, acc[i], device=device, gdc=gdc, t=float(s), **changes)
                 for i, s in enumerate(times)]
    return rows
