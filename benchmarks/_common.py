"""Shared helpers for the benchmark scripts (import as ``from _common import ...``).

* :func:`device_line` -- one line naming the JAX backend, devices and host.
* :func:`timeit` -- best and median wall time of a call, results blocked on.
* :func:`matmul_peak_gflops` -- measured f32 matmul GFLOP/s (the practical peak).
* :func:`print_table` -- a fixed-width text table from a list of dicts.

Every timing calls ``jax.block_until_ready`` on the results: JAX dispatches
asynchronously, so without it a timer measures the dispatch, not the work.
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout too

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

__all__ = ["device_line", "timeit", "matmul_peak_gflops", "print_table"]


def device_line() -> str:
    """E.g. ``device: cpu x1 (cpu) | host 2 cores, Linux x86_64, load 0.4 | jax 0.10.2``.

    ``load`` is the host's 1-minute load average at the call: on a shared
    machine, a load near or above the core count means other processes were
    competing for the CPU and timings are pessimistic.
    """
    devices = jax.local_devices()
    kinds = sorted({getattr(d, "device_kind", d.platform) for d in devices})
    load = f", load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (f"device: {jax.default_backend()} x{len(devices)} ({', '.join(kinds)}) | "
            f"host {os.cpu_count()} cores, {platform.system()} {platform.machine()}{load} | "
            f"jax {jax.__version__}")


def timeit(fn: Callable, *args, repeats: int = 5, warmup: int = 1) -> dict:
    """Call ``fn(*args)`` ``warmup`` times untimed, then ``repeats`` times timed.

    Returns ``{"best": s, "median": s}`` in seconds.  Report the best on a
    shared machine (the least disturbed run), the median as a sanity check.
    """
    for _ in range(warmup):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return {"best": min(times), "median": statistics.median(times)}


def matmul_peak_gflops(n: int = 1024, repeats: int = 5) -> float:
    """GFLOP/s of a jitted f32 ``n x n`` matmul on the default device (2 n^3 flops)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    mm = jax.jit(jnp.matmul)
    t = timeit(mm, a, b, repeats=repeats, warmup=1)["best"]
    return 2.0 * n ** 3 / t / 1e9


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v != v:
            return "-"
        a = abs(v)
        if a == 0 or 1e-3 <= a < 1e6:
            return f"{v:.4g}" if a < 1e4 else f"{v:,.0f}"
        return f"{v:.2e}"
    return str(v)


def print_table(rows: Sequence[dict], cols: Sequence[str]) -> None:
    """Print ``rows`` (dicts) as a text table with columns ``cols`` (missing cells: ``-``).

    Floats get 4 significant digits (thousands separators above 1e4, exponent
    below 1e-3); NaN prints as ``-``.
    """
    raw = [[r.get(c, float("nan")) for c in cols] for r in rows]
    cells = [[_fmt(v) for v in row] for row in raw]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for values, row in zip(raw, cells):
        # numbers right-aligned (digits line up), text left-aligned
        print("  ".join(v.rjust(w) if isinstance(x, (int, float)) and not isinstance(x, bool)
                        else v.ljust(w) for x, v, w in zip(values, row, widths)).rstrip())


def torch_child(script: Path, torch_python: str | None, args: Sequence[str]) -> dict | None:
    """Run ``script --child torch ARGS`` under another interpreter that has PyTorch.

    The child prints one ``RESULT {json}`` line; returns that dict, or None (with a note) when
    no interpreter is given or the child fails.
    """
    import json
    import subprocess

    if not torch_python:
        return None
    out = subprocess.run([torch_python, str(script), "--child", "torch", *args],
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
            res["note"] = res.get("note", "") + f" (via {torch_python})"
            return res
    print(f"note: torch run via {torch_python} failed: {out.stderr.strip()[-300:]}")
    return None


def digits_splits(quick: bool):
    """The digits benchmark data: 8x8 for MLPs and 16x16 for CNNs, one 80/20 split (seed 0).

    Returns ``(xtr, ytr), (xte, yte), x16tr, x16te``; ``quick`` keeps 512 training images.
    """
    from rvlib import data

    x, y = data.load_digits()
    (xtr, ytr), (xte, yte) = data.train_test_split(x, y, test_fraction=0.2, seed=0)
    x16, _ = data.load_digits(size=16)
    (x16tr, _), (x16te, _) = data.train_test_split(x16, y, test_fraction=0.2, seed=0)
    if quick:
        xtr, ytr, x16tr = xtr[:512], ytr[:512], x16tr[:512]
    return (xtr, ytr), (xte, yte), x16tr, x16te


_COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
                   "/jax/core/compile/jaxpr_to_mlir_module_duration",
                   "/jax/core/compile/backend_compile_duration")
_compile_s = [0.0]


def _on_compile_event(name, seconds, **_):
    if name in _COMPILE_EVENTS:
        _compile_s[0] += seconds


jax.monitoring.register_event_duration_secs_listener(_on_compile_event)


def timed(fn: Callable):
    """(result, wall seconds, seconds of that spent tracing + lowering + compiling)."""
    c0, t0 = _compile_s[0], time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - t0, _compile_s[0] - c0
