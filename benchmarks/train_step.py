"""Images/s of one CNN training step: rvlib (jit, pmap, variants) vs PyTorch eager.

    python benchmarks/train_step.py [--quick] [--torch-python PATH]

Network: ``models.CNN((32, 32, 3), 10)`` = conv32-pool-conv64-pool-fc256-fc10
(3x3 SAME convs, ReLU, 2x2 max-pool), batch 128, Adam 1e-3, cross-entropy, f32.
One fixed random batch stays on the device; a measurement runs ``--steps``
steps back to back and blocks once at the end (no host sync per step);
best of ``--repeats``.

Rows:
* rvlib jit: ``training.jit_train_step`` (state donated), one dispatch per step;
* rvlib pmap: ``training.pmap_train_step`` over all local devices (global batch
  128 split evenly; with one device it is a 1-way pmap, said in the row);
* rvlib jit, N steps per dispatch: ``lax.scan`` of the same step over a stack
  of N batches;
* same step, textbook layers: the network with ``nnx.max_pool`` and a direct
  first conv, i.e. rvlib's CNN before its reshape max-pool and im2col conv1
  (rvlib/models.py), to show what those two changes buy;
* plain Flax NNX: ``nnx.jit`` over ``nnx.Optimizer`` (the Flax tutorial way);
* rvlib jit with XLA flags (each in a fresh process: flags are read at
  start), next to a no-flags control run the same way; the pmap step over
  2 virtual CPU devices (``--xla_force_host_platform_device_count=2``) tests
  whether splitting the batch over the 2 cores helps;
* PyTorch eager (CPU), same net, NCHW, ``torch.get_num_threads()`` threads:
  run in-process if ``import torch`` works, else with ``--torch-python``
  (an interpreter that has torch; the torch part needs nothing else), else
  skipped with a note.

Goal: rvlib's step >= PyTorch on the same network.
The last line starts with ``SUMMARY train_step:``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
BATCH, SHAPE, CLASSES, LR = 128, (32, 32, 3), 10, 1e-3
FLAG_SETS = {  # label: (XLA_FLAGS, variant run in the fresh process)
    "no flags (control)": ("", "jit"),
    "oneDNN": ("--xla_cpu_use_onednn=true", "jit"),
    "no multi-thread Eigen": ("--xla_cpu_multi_thread_eigen=false", "jit"),
    "2 virtual CPU devices": ("--xla_force_host_platform_device_count=2", "pmap"),
}


# --------------------------------------------------------------------------- torch (no jax here)

def torch_images_per_s(steps: int, repeats: int) -> dict:
    """PyTorch eager CPU step of the same network; needs only torch."""
    import torch
    from _torch import torch_cnn
    from torch import nn

    torch.manual_seed(0)
    h, w, c = SHAPE
    net = torch_cnn(SHAPE, CLASSES)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(BATCH, c, h, w)
    y = torch.randint(0, CLASSES, (BATCH,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):  # warm-up: oneDNN primitives and the allocator settle in a few steps
        step()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step()
        float(loss)
        best = min(best, time.perf_counter() - t0)
    return dict(img_s=BATCH * steps / best, step_ms=best / steps * 1e3,
                note=f"torch {torch.__version__}, {torch.get_num_threads()} threads, eager, NCHW")


def torch_row(steps, repeats, torch_python):
    try:
        import torch  # noqa: F401
        return torch_images_per_s(steps, repeats)
    except ImportError:
        pass
    from _common import torch_child   # imports jax: only in the parent process
    return torch_child(HERE, torch_python, ["--steps", str(steps), "--repeats", str(repeats)])


# --------------------------------------------------------------------------- rvlib

def _jax_setup():
    sys.path.insert(0, str(HERE.parent))
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from rvlib import losses, models, training as train

    class TextbookCNN(models.CNN):
        """models.CNN's network with textbook layers: nnx.max_pool and lax's direct conv.

        rvlib's CNN uses a reshape max-pool and an im2col first conv (see
        rvlib/models.py); this is what it was before, kept for the comparison.
        """

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.conv1.conv_general_dilated = jax.lax.conv_general_dilated

        def __call__(self, x):
            pool = lambda y: nnx.max_pool(y, (2, 2), strides=(2, 2))  # noqa: E731
            x = pool(jax.nn.relu(self.conv1(x)))
            x = pool(jax.nn.relu(self.conv2(x)))
            x = jax.nn.relu(self.fc1(x.reshape(x.shape[0], -1)))
            return self.fc2(x)

    x = jax.random.uniform(jax.random.key(0), (BATCH,) + SHAPE)
    y = jax.random.randint(jax.random.key(1), (BATCH,), 0, CLASSES)
    return jax, jnp, optax, nnx, losses, models, train, TextbookCNN, x, y


def _measure_all(runners: dict, steps: int, repeats: int, jax) -> dict:
    """{name: run_steps(n) -> result to block on} -> {name: dict(img_s, step_ms, first_s)}.

    Rounds are interleaved (every variant once per round, best round kept), so
    load from other processes on a shared machine hits all variants alike.
    """
    out = {}
    for name, run in runners.items():
        t0 = time.perf_counter()
        jax.block_until_ready(run(1))  # compile + first step
        out[name] = dict(first_s=time.perf_counter() - t0, best=float("inf"))
    for _ in range(repeats):
        for name, run in runners.items():
            t0 = time.perf_counter()
            jax.block_until_ready(run(steps))
            out[name]["best"] = min(out[name]["best"], time.perf_counter() - t0)
    return {name: dict(img_s=BATCH * steps / r["best"], step_ms=r["best"] / steps * 1e3,
                       first_s=r["first_s"]) for name, r in out.items()}


def rvlib_rows(steps: int, repeats: int, which=None) -> list[dict]:
    jax, jnp, optax, nnx, losses, models, train, TextbookCNN, x, y = _jax_setup()
    tx = optax.adam(LR)
    loss_fn = losses.cross_entropy
    key = jax.random.key(0)
    runners, labels = {}, {}

    def want(name):
        return which is None or name in which

    def jit_variant(model):
        graphdef, state = train.create_train_state(model, tx)
        step = train.jit_train_step(graphdef, tx, loss_fn)
        holder = [state]

        def run(n):
            for _ in range(n):
                holder[0], _ = step(holder[0], (x, y), key)
            return holder[0]
        return run

    if want("jit"):
        labels["jit"] = ("rvlib jit (donated state)", "")
        runners["jit"] = jit_variant(models.CNN(SHAPE, CLASSES, rngs=nnx.Rngs(0)))
    if want("pmap"):
        n_dev = jax.local_device_count()
        graphdef, state = train.create_train_state(models.CNN(SHAPE, CLASSES, rngs=nnx.Rngs(0)),
                                                   tx)
        pstep = train.pmap_train_step(graphdef, tx, loss_fn)
        p_holder = [train.replicate(state)]
        batch = train.shard_batch((x, y), n_dev)
        keys = jax.random.split(key, n_dev)

        def run_p(n):
            for _ in range(n):
                p_holder[0], _ = pstep(p_holder[0], batch, keys)
            return p_holder[0]
        labels["pmap"] = ("rvlib pmap (all local devices)",
                          f"{n_dev} devices, {BATCH // n_dev} per device" if n_dev > 1 else
                          "1 device: a 1-way pmap (training.fit uses jit here)")
        runners["pmap"] = run_p
    if want("textbook"):
        labels["textbook"] = ("same step, textbook layers (nnx.max_pool, lax conv)",
                              "rvlib's CNN before its pooling/conv1 changes")
        runners["textbook"] = jit_variant(TextbookCNN(SHAPE, CLASSES, rngs=nnx.Rngs(0)))
    if want("nnx"):
        model = TextbookCNN(SHAPE, CLASSES, rngs=nnx.Rngs(0))
        opt = nnx.Optimizer(model, optax.adam(LR), wrt=nnx.Param)

        @nnx.jit
        def nnx_step(model, opt, x, y):
            value, grads = nnx.value_and_grad(lambda m: loss_fn(m(x), y))(model)
            opt.update(model, grads)
            return value

        def run_n(n):
            for _ in range(n):
                v = nnx_step(model, opt, x, y)
            return v
        labels["nnx"] = ("plain Flax NNX (nnx.jit + nnx.Optimizer)", "textbook layers")
        runners["nnx"] = run_n
    measured = _measure_all(runners, steps, repeats, jax)
    rows = [dict(variant=labels[k][0], note=labels[k][1], **measured[k]) for k in runners]

    if want("scan"):  # measured once, apart: it is ~25x slower on CPU
        spd = 2
        graphdef, state = train.create_train_state(models.CNN(SHAPE, CLASSES, rngs=nnx.Rngs(0)),
                                                   tx)
        one = train.make_train_step(graphdef, tx, loss_fn)
        xs, ys = jnp.broadcast_to(x, (spd,) + x.shape), jnp.broadcast_to(y, (spd,) + y.shape)

        @jax.jit
        def multi(state, xs, ys):
            return jax.lax.scan(lambda s, b: one(s, b, key), state, (xs, ys))

        s_holder = [state]

        def run_s(n):
            for _ in range(max(1, n // spd)):
                s_holder[0], _ = multi(s_holder[0], xs, ys)
            return s_holder[0]
        r = _measure_all({"scan": run_s}, spd, 1, jax)["scan"]
        rows.append(dict(variant=f"rvlib jit, {spd} steps per dispatch (lax.scan)",
                         note="XLA:CPU conv kernel-gradient is slow in loops", **r))
    return rows


def flag_row(label, flags, steps, repeats, which="jit"):
    env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " " + flags).strip())
    out = subprocess.run([sys.executable, str(HERE), "--child", which, "--steps", str(steps),
                          "--repeats", str(repeats)], capture_output=True, text=True, env=env)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[7:])[0]
            r.update(variant=f"{r['variant']}, new process, {label}",
                     note=" ".join(x for x in (flags or "no XLA_FLAGS", r.get("note")) if x))
            return r
    return dict(variant=f"rvlib jit + {label}", note=f"failed: {out.stderr.strip()[-200:]}")


# --------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and variants")
    ap.add_argument("--steps", type=int, default=None, help="steps per measurement")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--torch-python", default=os.environ.get("RV_TORCH_PYTHON"),
                    help="python with torch, used when this one has none (env RV_TORCH_PYTHON)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    steps = args.steps or (3 if args.quick else 10)
    repeats = args.repeats or (1 if args.quick else 3)

    if args.child == "torch":
        print("RESULT " + json.dumps(torch_images_per_s(steps, repeats)))
        return
    if args.child:
        print("RESULT " + json.dumps(rvlib_rows(steps, repeats, which={args.child})))
        return

    sys.path.insert(0, str(HERE.parent))
    from _common import device_line, print_table
    print(device_line())
    print(f"models.CNN{SHAPE} -> {CLASSES}, batch {BATCH}, Adam, cross-entropy, f32; "
          f"{steps} steps per measurement, best of {repeats}\n")
    which = {"jit", "pmap", "textbook"} if args.quick else None
    # PyTorch is measured before and after the rvlib rows and its best kept: on a
    # shared machine this is the comparison least favourable to rvlib.
    t_before = torch_row(steps, repeats, args.torch_python)
    rows = rvlib_rows(steps, repeats, which)
    if not args.quick:
        rows += [flag_row(label, flags, steps, repeats, child)
                 for label, (flags, child) in FLAG_SETS.items()]
    t_after = torch_row(steps, repeats, args.torch_python) if t_before is not None else None
    t = max((r for r in (t_before, t_after) if r is not None), key=lambda r: r["img_s"],
            default=None)
    if t is not None:
        rows.append(dict(variant="PyTorch eager (CPU)", **t))
    else:
        print("note: PyTorch not available (no `import torch`, no --torch-python): row skipped")
    print_table(rows, ["variant", "img_s", "step_ms", "first_s", "note"])
    print("\n(img_s: images per second; step_ms: ms per step; first_s: first call, "
          "compile included)")

    jit = rows[0]["img_s"]
    # best among the rows measured side by side (interleaved) in this process
    same_time = [r for r in rows if "new process" not in r["variant"]
                 and not r["variant"].startswith("PyTorch")]
    best = max(same_time, key=lambda r: r.get("img_s", 0.0))
    if t is not None:
        ratio = jit / t["img_s"]
        verdict = "PASS" if ratio >= 1.0 else "MISS"
        print(f"SUMMARY train_step: rvlib jit {jit:,.0f} img/s vs PyTorch {t['img_s']:,.0f} "
              f"img/s = {ratio:.2f}x (best rvlib variant: {best['variant']} "
              f"{best['img_s']:,.0f} img/s = {best['img_s'] / t['img_s']:.2f}x) -> {verdict}")
    else:
        print(f"SUMMARY train_step: rvlib jit {jit:,.0f} img/s (best variant: {best['variant']} "
              f"{best['img_s']:,.0f} img/s); PyTorch not available -> SKIP")


if __name__ == "__main__":
    main()
