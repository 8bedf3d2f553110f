"""Analog inference of a Flax NNX model: every weight matrix stored on a :class:`Device`.

::

    dev = hardware.get_device("pcm")
    noisy = analog_params(key, params, dev, t=3600.0)       # one draw, 1 h after programming
    model = analog_model(model, key, dev, t=3600.0)          # the same as an nnx.Module

Each ``kernel`` leaf goes weights -> differential pair -> levels ->
programming noise -> drift to ``t`` -> read noise -> weights
(``hardware.device``); biases stay digital.  With ``gdc`` (global drift
compensation, aihwkit's ``GlobalDriftCompensation``) each layer's output is
rescaled by one scalar measured on a calibration input: reading the layer
with the one-hot inputs (the identity) gives the layer's weights, so the
scalar is ``mean|W_prog| / mean|W(t)|`` with ``W_prog`` read right after
programming (before drift and read noise).  Everything is pure in
``(key, params)``; ``t`` may be traced, so times and draws vmap.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from rvlib.hardware.clip import is_kernel
from rvlib.hardware.device import (Device, check_time, drift, drift_nu, from_conductance,
                                   programming_noise, quantize, read_noise, to_conductance)
from rvlib.hardware.presets import get_device

__all__ = ["weight_scale", "analog_kernel", "analog_params", "analog_model"]

_TINY = 1e-12  # guards an all-zero layer against 0/0


def weight_scale(w, device: Device):
    """The weight stored at g_max: ``device.w_max`` or the layer's ``max |w|`` (f32[])."""
    if device.w_max is not None:
        return jnp.asarray(device.w_max, w.dtype)
    return jnp.maximum(jnp.max(jnp.abs(w)), _TINY)


def analog_kernel(key, w, device: Device, t, *, gdc: bool = True):
    """What the hardware computes with instead of ``w: f32[...]``, ``t`` s after programming."""
    w_max = weight_scale(w, device)
    g = jnp.stack(to_conductance(w, w_max, device))  # f32[2, ...]: g+, g-
    g = quantize(g, device)
    k_prog, k_nu, k_read = jax.random.split(key, 3)
    g_prog = programming_noise(k_prog, g, device)
    g_t = read_noise(k_read, drift(g_prog, drift_nu(k_nu, g, device), t, device), g_prog, t,
                     device)
    w_t = from_conductance(g_t[0], g_t[1], w_max, device)
    if gdc:
        w_ref = from_conductance(g_prog[0], g_prog[1], w_max, device)
        w_t = w_t * (jnp.mean(jnp.abs(w_ref)) / jnp.maximum(jnp.mean(jnp.abs(w_t)), _TINY))
    return w_t


def analog_params(key, params, device, t=0.0, *, gdc: bool = True):
    """Every ``kernel`` of ``params`` (an ``nnx.Param`` state) through :func:`analog_kernel`.

    ``device``: a :class:`Device` or a preset name; ``t``: seconds since
    programming (>= 0, a number or a traced f32[]); one key per kernel.
    """
    device = get_device(device)
    if not isinstance(t, jax.Array):
        t = check_time("t", t)
    return _analog_params(key, params, device, jnp.asarray(t, jnp.float32), gdc)


@functools.partial(jax.jit, static_argnums=(2, 4))
def _analog_params(key, params, device, t, gdc):
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    keys = jax.random.split(key, max(len(flat), 1))
    out = [analog_kernel(k, w, device, t, gdc=gdc) if is_kernel(p) else w
           for k, (p, w) in zip(keys, flat)]
    return jax.tree_util.tree_unflatten(treedef, out)


def analog_model(model: nnx.Module, key, device, t=0.0, *, gdc: bool = True) -> nnx.Module:
    """A copy of ``model`` whose weights are one analog draw (``model`` is left unchanged)."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    return nnx.merge(graphdef, analog_params(key, params, device, t, gdc=gdc), rest)
