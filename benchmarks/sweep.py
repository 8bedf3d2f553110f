"""λ sweep: K models in one program (training.fit_many) vs one training.fit after another.

    python benchmarks/sweep.py [--quick]

Grid: λ in {0, 0.1, 1, 10, 20} x seeds {0, 1, 2} = 15 models, loss
``margin_loss`` (the paper's MSE + λ·log-margin), Adam lr 1e-3, batch 32, on
scikit-learn's digits (1437 train / 360 test, stratified split seed 0):

* MLP 64 -> 128 -> 10 on the native 8x8 images (flattened), 10 epochs;
* CNN (conv32-conv64-fc256) on digits resized to 16x16, 3 epochs.

Sequential = ``training.fit`` per config (each call compiles its own step, as a
notebook loop would).  Batched = one ``training.fit_many`` call over all 15
configs.  Compile time (trace + lower + XLA compile) is measured with
``jax.monitoring`` events; "run" is the rest of the wall time.

Float rounding differs between the two programs and training amplifies it
(see the printed per-epoch gap), so final metrics are compared per λ
(mean over the 3 seeds) as well as per run.

Goal: >= 3x the throughput of the sequential runs, same final metrics.
``--quick``: 3 configs, fewer epochs, 512 training images.
The last line starts with ``SUMMARY sweep:``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_line, digits_splits, print_table, timed  # noqa: E402

import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

from rvlib import losses, models, training  # noqa: E402

LAMS = (0.0, 0.1, 1.0, 10.0, 20.0)
SEEDS = (0, 1, 2)
LR, BATCH, LOSS = 1e-3, 32, "margin_loss"
GOAL = 3.0


def make_mlp(seed):
    return models.MLP(in_features=64, hidden=128, classes=10, rngs=nnx.Rngs(seed))


def make_cnn(seed):
    return models.CNN((16, 16, 1), 10, rngs=nnx.Rngs(seed))




def _fit(make, c, train_set, test_set, epochs):
    return training.fit(make(c["seed"]), optax.adam(c["lr"]), losses.get_loss(LOSS, lam=c["lam"]),
                     train_set, test_set, epochs=epochs, batch_size=BATCH, seed=c["seed"],
                     progress=False)[2]


def run_arch(name, make, configs, train_set, test_set, epochs):
    make(0)  # warm the eager init ops' compile caches so neither mode pays them
    fits, t_bat, c_bat = timed(lambda: training.fit_many(
        make, configs, train_set, test_set, loss=LOSS, epochs=epochs, batch_size=BATCH))
    seq, t_seq, c_seq = timed(lambda: [_fit(make, c, train_set, test_set, epochs)
                                        for c in configs])
    k, work = len(configs), len(configs) * epochs  # work in model-epochs
    rows = [
        dict(model=name, mode="sequential training.fit", **{
            "wall s": t_seq, "compile s": c_seq, "run s": t_seq - c_seq,
            "model-epochs/s": work / t_seq, "speed-up": 1.0, "speed-up excl. compile": 1.0}),
        dict(model=name, mode=f"fit_many ({fits.engine})", **{
            "wall s": t_bat, "compile s": c_bat, "run s": t_bat - c_bat,
            "model-epochs/s": work / t_bat, "speed-up": t_seq / t_bat,
            "speed-up excl. compile": (t_seq - c_seq) / (t_bat - c_bat)}),
    ]

    def diff(other, key, epoch=-1, sel=range(k), rel=False):
        return max(abs(seq[i][epoch][key] - other[i][epoch][key])
                   / (abs(seq[i][epoch][key]) if rel else 1.0) for i in sel)

    acc = [h[-1]["test_accuracy"] for h in seq]
    lams = sorted({c["lam"] for c in configs})

    def mean_acc(histories, lam):
        return float(np.mean([histories[i][-1]["test_accuracy"]
                              for i, c in enumerate(configs) if c["lam"] == lam]))

    info = dict(model=name, configs=k, epochs=epochs, engine=fits.engine,
                speedup=t_seq / t_bat, acc_range=(min(acc), max(acc)),
                d_acc=diff(fits.histories, "test_accuracy"),
                d_loss=diff(fits.histories, "test_loss"),
                # median over configs of the relative train-loss gap, per epoch
                growth=[float(np.median([abs(seq[i][e]["train_loss"]
                                             - fits.histories[i][e]["train_loss"])
                                         / abs(seq[i][e]["train_loss"]) for i in range(k)]))
                        for e in range(epochs)],
                by_lam={lam: (mean_acc(seq, lam), mean_acc(fits.histories, lam),
                              float(np.ptp([acc[i] for i, c in enumerate(configs)
                                            if c["lam"] == lam]))) for lam in lams})
    return rows, info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 configs, fewer epochs, 512 images")
    args = ap.parse_args(argv)
    print(device_line())

    lams = (0.0, 1.0, 10.0) if args.quick else LAMS
    seeds = (0,) if args.quick else SEEDS
    configs = [dict(seed=s, lam=lam, lr=LR) for lam in lams for s in seeds]
    epochs_mlp, epochs_cnn = (2, 1) if args.quick else (10, 3)

    (xtr, ytr), (xte, yte), x16tr, x16te = digits_splits(args.quick)
    print(f"digits: {len(ytr)} train / {len(yte)} test; {len(configs)} configs "
          f"(λ {', '.join(f'{v:g}' for v in lams)} x seeds {', '.join(map(str, seeds))}); "
          f"{LOSS}, Adam lr {LR:g}, batch {BATCH}; MLP on 8x8 ({epochs_mlp} epochs), "
          f"CNN on 16x16 ({epochs_cnn} epochs)\n")

    all_rows, infos = [], []
    for name, make, tr, te, epochs in (
            ("MLP 64-128-10", make_mlp, (xtr, ytr), (xte, yte), epochs_mlp),
            ("CNN 16x16", make_cnn, (x16tr, ytr), (x16te, yte), epochs_cnn)):
        rows, info = run_arch(name, make, configs, tr, te, epochs)
        all_rows += rows
        infos.append(info)
    print_table(all_rows, ["model", "mode", "wall s", "compile s", "run s", "model-epochs/s",
                           "speed-up", "speed-up excl. compile"])
    print("\n(compile s: JAX trace + lower + XLA compile time, from jax.monitoring; "
          "speed-up = sequential wall / batched wall)")
    for i in infos:
        print(f"\n{i['model']}: engine {i['engine']}; final test accuracy "
              f"{i['acc_range'][0]:.3f}..{i['acc_range'][1]:.3f}")
        print("  batched vs sequential, median relative |Δ train loss| per epoch: "
              + " ".join(f"{g:.0e}" for g in i["growth"]))
        print(f"  final single runs: max |Δ test accuracy| {i['d_acc']:.4f}, "
              f"max |Δ test loss| {i['d_loss']:.2e}")
        print("  mean final test accuracy per λ, sequential / batched (seed spread): "
              + ", ".join(f"{lam:g}: {a:.3f}/{b:.3f} ({sp:.2f})"
                          for lam, (a, b, sp) in i["by_lam"].items()))
    print("\nBoth modes run the same steps and differ only by float rounding (vmapped vs "
          "plain kernels,\ntraced vs constant λ): ~1e-7 relative after the first steps "
          "(tests/test_many_models.py checks\n1e-4 over 3 epochs). Training amplifies it "
          "(Adam turns noise on near-zero gradients into\nlr-sized steps; the floored "
          "log-margin switches its gradient on and off at margin 0.1), so\nsingle runs drift "
          "apart over the epochs, most for λ >= 10, where even the seeds disagree.")
    fast = all(i["speedup"] >= GOAL for i in infos)
    # "same final metrics": per-λ mean final accuracy within 0.01 for λ <= 1
    # (λ >= 10 training is unstable: the seed spread column shows it).
    gaps = [abs(a - b) for i in infos for lam, (a, b, _) in i["by_lam"].items() if lam <= 1]
    same = max(gaps) <= 0.01
    print(f"SUMMARY sweep: fit_many vs sequential training.fit, {len(configs)} configs: "
          + ", ".join(f"{i['model'].split()[0]} {i['speedup']:.1f}x" for i in infos)
          + f" (goal >= {GOAL:g}x); per-λ mean final test accuracy within {max(gaps):.3f} "
          f"for λ <= 1 -> {'PASS' if fast and same else 'MISS'}"
          + ("" if fast else " (speed goal missed: " + ", ".join(
              i["model"].split()[0] for i in infos if i["speedup"] < GOAL) + ")")
          + ("" if same else " (metrics differ)"))


if __name__ == "__main__":
    main()
