"""Data parallelism over local devices with ``pmap`` (the step of ``training.steps``).

``pmap`` is in maintenance mode since JAX 0.8; these helpers keep the
published multi-GPU recipe (replicated state, sharded batch, averaged
gradients) available and tested against the single-device step.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rvlib import validate
from rvlib.training.steps import AXIS, make_train_step

__all__ = ["pmap_train_step", "replicate", "unreplicate", "shard_batch", "check_divisible"]


def pmap_train_step(graphdef, tx, loss_fn, **options):
    """Data-parallel step over local devices (axis name ``"batch"``).

    Call as ``step(replicate(state), shard_batch(batch, n), keys)`` with
    ``keys: key[n]`` (one per device); returns the replicated state and
    metrics with a leading device axis (identical rows, already averaged).
    """
    return jax.pmap(make_train_step(graphdef, tx, loss_fn, axis_name=AXIS, **options),
                    axis_name=AXIS, donate_argnums=0)


def replicate(tree, devices=None):
    """Copy every leaf to each local device: leaf[...] -> leaf[n_devices, ...]."""
    devices = jax.local_devices() if devices is None else list(devices)
    sharding = NamedSharding(Mesh(np.array(devices), (AXIS,)), PartitionSpec(AXIS))
    n = len(devices)
    return jax.tree.map(
        lambda a: jax.device_put(jnp.broadcast_to(a, (n,) + jnp.shape(a)), sharding), tree)


def unreplicate(tree):
    """Take device 0's copy: leaf[n_devices, ...] -> leaf[...]."""
    return jax.tree.map(lambda a: a[0], tree)


def check_divisible(batch_size: int, n_devices: int) -> None:
    """A global batch must split evenly over the devices."""
    if batch_size % n_devices:
        validate.fail("batch_size", batch_size,
                      f"must be divisible by the device count n_devices={n_devices} "
                      f"({batch_size} % {n_devices} = {batch_size % n_devices})")


def shard_batch(batch, n_devices: int):
    """Split the leading axis over devices: leaf[b, ...] -> leaf[n_devices, b // n_devices, ...]."""
    n = validate.positive("n_devices", n_devices, integer=True)
    for leaf in jax.tree.leaves(batch):
        check_divisible(leaf.shape[0], n)
    return jax.tree.map(lambda a: a.reshape((n, a.shape[0] // n) + a.shape[1:]), batch)
