"""Examples/s of one training step: the 1-device jitted step vs the sharded step over all devices.

    python benchmarks/sharded.py [--quick] [--devices N]

Network: ``models.MLP(784, 1024, 10)``, global batch 1024, Adam 1e-3,
cross-entropy, f32 (a dense model: the sharded step's all-reduce of the
gradients is the cost that data parallelism must earn back).  Both steps run
in the same process on the same batch; a measurement runs ``--steps`` steps
back to back and blocks once at the end; best of ``--repeats``.

Rows: ``training.jit_train_step`` on the default device, and
``training.sharded.sharded_train_step`` over a mesh of every device (batch
sharded, state replicated).  On a CPU host with one device the script
re-runs itself with ``--devices`` virtual CPU devices
(``--xla_force_host_platform_device_count``, default: the core count), which
split the same cores, so the ratio there measures overhead, not added compute;
on a multi-GPU host it measures the real scaling.

The last line starts with ``SUMMARY sharded:``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
BATCH, IN, HIDDEN, CLASSES = 1024, 784, 1024, 10


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    ap.add_argument("--devices", type=int, default=None,
                    help="virtual CPU devices when the host has one device (default: cores)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    a = ap.parse_args()
    steps = a.steps or (5 if a.quick else 20)
    repeats = a.repeats or (2 if a.quick else 5)

    if "RVLIB_BENCH_CHILD" not in os.environ:
        import jax
        if jax.default_backend() == "cpu" and jax.device_count() == 1:
            n = a.devices or os.cpu_count() or 2
            env = dict(os.environ, RVLIB_BENCH_CHILD="1",
                       XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") +
                                  f" --xla_force_host_platform_device_count={n}").strip())
            print(f"(one CPU device: re-running with {n} virtual CPU devices)", flush=True)
            return subprocess.call([sys.executable, str(HERE), *sys.argv[1:]], env=env)

    sys.path.insert(0, str(HERE.parent))
    from _common import device_line, print_table

    import jax
    import numpy as np
    import optax
    from flax import nnx

    from rvlib import models, training
    from rvlib.training import sharded

    print(device_line())
    ce = lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).mean()  # noqa: E731
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, IN)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int32)
    tx = optax.adam(1e-3)
    key = jax.random.key(0)

    def measure(step, state, batch, key):
        state, m = step(state, batch, key)           # compile + warm up
        jax.block_until_ready(state)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(steps):
                state, m = step(state, batch, key)
            jax.block_until_ready(state)
            best = min(best, time.perf_counter() - t0)
        return steps * BATCH / best

    def model():
        return models.MLP(in_features=IN, hidden=HIDDEN, classes=CLASSES, rngs=nnx.Rngs(0))

    graphdef, state = training.create_train_state(model(), tx)
    jit_rate = measure(training.jit_train_step(graphdef, tx, ce), state,
                       jax.device_put((x, y)), key)

    mesh = sharded.data_mesh()
    n = mesh.devices.size
    graphdef, state = training.create_train_state(model(), tx)
    sh_rate = measure(sharded.sharded_train_step(graphdef, tx, ce, mesh),
                      sharded.put_replicated(state, mesh), sharded.put_batch((x, y), mesh),
                      sharded.put_replicated(key, mesh))

    rows = [dict(step="rvlib jit, 1 device", devices=1, examples_per_s=jit_rate, ratio=1.0),
            dict(step=f"rvlib sharded, {n} devices", devices=n, examples_per_s=sh_rate,
                 ratio=sh_rate / jit_rate)]
    print(f"MLP {IN}-{HIDDEN}-{CLASSES}, global batch {BATCH}, {steps} steps x best of {repeats}")
    print_table(rows, ["step", "devices", "examples_per_s", "ratio"])
    print(f"SUMMARY sharded: sharded over {n} {jax.default_backend()} devices = "
          f"{sh_rate / jit_rate:.2f}x the 1-device jit step "
          f"({sh_rate:,.0f} vs {jit_rate:,.0f} examples/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
