"""Data parallelism the current JAX way: one ``jax.jit`` over a device ``Mesh``.

The batch is sharded over the mesh axis ``"data"``, the train state is
replicated, and the step is the same pure ``step(state, batch, key)`` of
``training.steps`` (no ``axis_name``): XLA inserts the gradient all-reduce
itself, so the sharded step computes the global-batch step, equal to the
one-device step up to float summation order.  It runs unchanged across
processes (hosts): call :func:`initialize` first in every process, build the
mesh over ``jax.devices()`` (all processes' devices), and let each process
feed only its own rows of the global batch (:func:`put_batch`)::

    sharded.initialize()                    # no-op in a single process
    mesh = sharded.data_mesh()              # every device of every process
    graphdef, state = create_train_state(model, tx)
    step = sharded.sharded_train_step(graphdef, tx, loss_fn, mesh)
    state = sharded.put_replicated(state, mesh)
    state, metrics = step(state, sharded.put_batch((x, y), mesh), key)
    # x: f32[b, ...], y: i32[b] is the GLOBAL batch, the same in every process

``pmap`` (``training.parallel``) stays for teaching and for the published
multi-GPU recipe; ``fit(..., data_parallel=True)`` uses this module.
"""
from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rvlib import validate
from rvlib.training.parallel import check_divisible
from rvlib.training.steps import make_train_step

__all__ = ["DATA", "ENV", "initialize", "data_mesh", "replicated", "batch_sharded",
           "put_replicated", "put_batch", "local_rows", "sharded_train_step", "to_local"]

DATA = "data"  # the mesh axis the batch is split over
ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
"""Environment variables :func:`initialize` reads when its arguments are not given."""


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, cpu_collectives: str = "gloo") -> bool:
    """Join the processes of one multi-process run; ``False`` (nothing done) for a single process.

    Arguments default to ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process
    0), ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``; with none of them set and
    no arguments, the run is single-process unless JAX detects a cluster
    itself (Slurm, Open MPI: set ``JAX_NUM_PROCESSES`` to enable that path, or
    call ``jax.distributed.initialize()`` directly).  CPU devices talk through
    ``cpu_collectives`` (gloo); GPUs use NCCL whatever it says.  Must run
    before any other JAX computation.
    """
    env = {k: os.environ.get(k) for k in ENV}
    coordinator_address = coordinator_address or env["JAX_COORDINATOR_ADDRESS"]
    if num_processes is None and env["JAX_NUM_PROCESSES"] is not None:
        num_processes = int(env["JAX_NUM_PROCESSES"])
    if process_id is None and env["JAX_PROCESS_ID"] is not None:
        process_id = int(env["JAX_PROCESS_ID"])
    if coordinator_address is None and num_processes is None:
        return False
    if num_processes is not None:
        validate.positive("num_processes", num_processes, integer=True)
        if num_processes == 1:
            return False
    if process_id is not None:
        validate.number("process_id", process_id, min=0,
                        max=None if num_processes is None else num_processes - 1, integer=True)
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)
    return True


def data_mesh(devices=None) -> Mesh:
    """A 1-D mesh with axis ``"data"`` over ``devices`` (default: all devices of all processes)."""
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        validate.fail("devices", devices, "give at least one device")
    return Mesh(np.array(devices), (DATA,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array (the train state, keys, metrics)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """The leading (batch) axis is split over the mesh's ``"data"`` axis."""
    return NamedSharding(mesh, PartitionSpec(DATA))


def put_replicated(tree, mesh: Mesh):
    """Place a pytree that is the same in every process on every device of ``mesh``."""
    sharding = replicated(mesh)
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def put(a):
        if jax.dtypes.issubdtype(getattr(a, "dtype", None), jax.dtypes.prng_key):
            impl = jax.random.key_impl(a)
            data = put(jax.random.key_data(a))
            return jax.random.wrap_key_data(data, impl=impl)
        a = np.asarray(a)
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])
    return jax.tree.map(put, tree)


def local_rows(n: int) -> slice:
    """This process's rows of a global batch of ``n`` (contiguous, in process order)."""
    p, i = jax.process_count(), jax.process_index()
    check_divisible(n, p)
    return slice(i * n // p, (i + 1) * n // p)


def put_batch(batch, mesh: Mesh, *, local: bool = False):
    """A global batch ``(x: f32[b, ...], y: i32[b])`` sharded over ``"data"``.

    Each process passes the same global batch (the default; it keeps only its
    :func:`local_rows`) or, with ``local``, just its own ``b / processes`` rows.
    ``b`` must split evenly over the mesh's devices.
    """
    sharding = batch_sharded(mesh)
    n_dev, p = mesh.devices.size, jax.process_count()
    for leaf in jax.tree.leaves(batch):
        check_divisible(leaf.shape[0] * (p if local else 1), n_dev)
    if p == 1:
        return jax.device_put(batch, sharding)

    def put(a):
        a = np.asarray(a)
        rows = a if local else a[local_rows(a.shape[0])]
        return jax.make_array_from_process_local_data(sharding, rows,
                                                      (rows.shape[0] * p,) + rows.shape[1:])
    return jax.tree.map(put, batch)


def sharded_train_step(graphdef, tx, loss_fn, mesh: Mesh, **options):
    """``step(state, batch, key) -> (state, metrics)`` jitted over ``mesh``.

    ``state`` and ``key`` replicated (:func:`put_replicated`), ``batch`` from
    :func:`put_batch`; the input state is donated.  ``options`` as
    ``steps.make_train_step`` (EMA, mixup, clip, ...); mixup draws one global
    permutation from ``key``, exactly as the one-device step does.
    """
    rep, bat = replicated(mesh), batch_sharded(mesh)
    step = make_train_step(graphdef, tx, loss_fn, **options)
    return jax.jit(step, in_shardings=(rep, bat, rep), out_shardings=(rep, rep),
                   donate_argnums=0)


def to_local(tree):
    """A replicated pytree on this process's default device (works in every process)."""
    def get(a):
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            a = a.addressable_shards[0].data
        return jax.device_put(a, jax.local_devices()[0])
    return jax.tree.map(get, tree)
