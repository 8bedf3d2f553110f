"""Accuracy over a grid of settings x noise draws as ONE jitted program (not a Python loop).

::

    acc = weight_noise_grid(graphdef, params, rest, (x, y), alphas, draws=100, key=key)
    acc.shape == (len(alphas), 100)

A *transform* ``(key, params, setting) -> params`` says what one draw does
to the weights (:class:`WeightNoise`: Gaussian noise of level ``alpha``;
:class:`AnalogAt`: a device read ``t`` seconds after programming).  The grid
flattens (setting, draw) pairs and runs them through ``lax.map`` in vmapped
chunks of ``chunk`` models (the chunk bounds memory: each model holds its own
activations for the whole test set).  ``chunk=None`` picks 25, or 1 for conv
models on CPU: XLA:CPU runs a conv vmapped over kernels as a grouped
convolution, 2-3x slower than one model after another
(``benchmarks/weight_noise.py``).  Draw ``d`` uses the same key at every
setting (common random numbers), so the curves over settings are smooth and
``alpha = 0`` reproduces the clean accuracy.  One seed fixes every number.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rvlib import validate
from rvlib.hardware.analog import analog_params
from rvlib.hardware.device import Device, check_time
from rvlib.hardware.presets import get_device
from rvlib.hardware.weight_noise import check_noise, perturb
from rvlib.models import has_conv
from rvlib.training.state import check_data

__all__ = ["WeightNoise", "AnalogAt", "accuracy_one", "auto_chunk", "accuracy_grid", "weight_noise_grid",
           "device_grid", "check_draws"]


@dataclass(frozen=True)
class WeightNoise:
    """``setting = alpha``: :func:`hardware.weight_noise.perturb` with this mode and scale."""
    mode: str = "additive"
    relative_to: str = "std"

    def __call__(self, key, params, alpha):
        return perturb(key, params, alpha, mode=self.mode, relative_to=self.relative_to)


@dataclass(frozen=True)
class AnalogAt:
    """``setting = t`` (s since programming): :func:`hardware.analog.analog_params` on ``device``."""
    device: Device
    gdc: bool = True

    def __call__(self, key, params, t):
        return analog_params(key, params, self.device, t, gdc=self.gdc)


def check_draws(draws) -> int:
    return validate.positive("draws", draws, integer=True)


def _accuracy(graphdef, transform, params, rest, x, y, setting, key):
    logits = nnx.merge(graphdef, transform(key, params, setting), rest)(x)
    return jnp.mean(jnp.argmax(logits, -1) == y)


# One draw at one setting: what a Python loop over draws calls (the benchmark's reference).
accuracy_one = jax.jit(_accuracy, static_argnums=(0, 1))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _grid(graphdef, transform, chunk, params, rest, x, y, settings, keys):
    s, d = settings.shape[0], keys.shape[0]
    flat_s = jnp.repeat(settings, d)                 # f32[s*d]: setting-major
    flat_k = keys[jnp.tile(jnp.arange(d), s)]        # the same d keys at every setting
    acc = jax.lax.map(lambda a: _accuracy(graphdef, transform, params, rest, x, y, *a),
                      (flat_s, flat_k), batch_size=min(chunk, s * d))
    return acc.reshape(s, d)


def auto_chunk(graphdef) -> int:
    """Models per vmapped chunk: 25, or 1 for conv models on CPU (see the module docstring)."""
    return 1 if jax.default_backend() == "cpu" and has_conv(graphdef) else 25


def accuracy_grid(graphdef, params, rest, data, transform, settings, *, draws: int, key,
                  chunk: int | None = None) -> np.ndarray:
    """Test accuracy ``f32[len(settings), draws]`` of ``transform(key_d, params, setting)``.

    ``data = (x: f32[n, ...], y: i32[n])``; ``rest``: the model's non-param
    state from ``nnx.split(model, nnx.Param, ...)``.
    """
    draws = check_draws(draws)
    chunk = auto_chunk(graphdef) if chunk is None else validate.positive("chunk", chunk,
                                                                          integer=True)
    x, y = check_data("data", data)
    settings = jnp.asarray(settings, jnp.float32).reshape(-1)
    keys = jax.random.split(key, draws)
    return np.asarray(_grid(graphdef, transform, chunk, params, rest, x, y, settings, keys))


def weight_noise_grid(graphdef, params, rest, data, alphas, *, draws: int, key,
                      mode: str = "additive", relative_to: str = "std",
                      chunk: int | None = None) -> np.ndarray:
    """Accuracy ``f32[len(alphas), draws]`` under ``W + alpha sigma_W N(0, 1)`` (alphas >= 0)."""
    alphas = validate.each("alphas", alphas, validate.non_negative, nonempty="alpha")
    check_noise(0.0, mode, relative_to)
    check_draws(draws)
    return accuracy_grid(graphdef, params, rest, data, WeightNoise(mode, relative_to), alphas,
                         draws=draws, key=key, chunk=chunk)


def device_grid(graphdef, params, rest, data, device, times, *, draws: int, key,
                gdc: bool = True, chunk: int | None = None) -> np.ndarray:
    """Accuracy ``f32[len(times), draws]`` on ``device`` (preset name or Device), times in s >= 0."""
    device = get_device(device)
    times = validate.each("times", times, check_time, nonempty="time")
    validate.flag("gdc", gdc)
    check_draws(draws)
    return accuracy_grid(graphdef, params, rest, data, AnalogAt(device, gdc), times,
                         draws=draws, key=key, chunk=chunk)
