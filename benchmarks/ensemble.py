"""Deep ensemble of K = 8 members: one program (ensembles.train_ensemble) vs one after another.

    python benchmarks/ensemble.py [--quick]

Members differ only in seed (0..7): initialisation and data order.  Cross-entropy, Adam lr 3e-3,
batch 64, on scikit-learn's digits (1437 train images, stratified split seed 0):

* MLP 64 -> 128 -> 10 on the native 8x8 images, 20 epochs;
* CNN (conv32-conv64-fc256) on digits resized to 16x16, 3 epochs.

Sequential = one ``training.fit`` per seed (each call compiles its own step, as a
notebook loop would).  One program = one ``ensembles.train_ensemble`` call (``fit_many``;
on CPU conv models use its ``"loop"`` engine, one compiled step for all members).
Compile time (trace + lower + XLA compile) is measured with ``jax.monitoring`` events.
"Same final params": the largest absolute difference of any parameter between the two
modes after training, next to the parameters' scale, and the ensembles' test accuracy,
NLL and the members' largest prediction disagreement.

Goal (issue 13): >= 3x sequential throughput for the MLP on the 2-core CPU; the CNN is reported.
``--quick``: 3 members, 2 / 1 epochs, 512 training images.
The last line starts with ``SUMMARY ensemble:``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_line, digits_splits, print_table, timed  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

from rvlib import ensembles, losses, models, training  # noqa: E402
from rvlib.training.many_models import stack  # noqa: E402

LR, BATCH, GOAL = 3e-3, 64, 3.0



def make_mlp(seed):
    return models.MLP(in_features=64, hidden=128, classes=10, rngs=nnx.Rngs(seed))


def make_cnn(seed):
    return models.CNN((16, 16, 1), 10, rngs=nnx.Rngs(seed))


def run_arch(name, make, seeds, train, test, epochs):
    make(0)  # warm the eager init ops' compile caches so neither mode pays them
    ens, t_one, c_one = timed(lambda: ensembles.train_ensemble(
        make, train, seeds=seeds, epochs=epochs, batch_size=BATCH, lr=LR))
    seq, t_seq, c_seq = timed(lambda: [training.fit(
        make(s), optax.adam(LR), losses.cross_entropy, train, epochs=epochs, batch_size=BATCH,
        seed=s, progress=False)[1] for s in seeds])
    seq_params = stack([st.params for st in seq])
    diffs = jax.tree.leaves(jax.tree.map(lambda a, b: float(np.max(np.abs(a - b))),
                                         ens.states.params, seq_params))
    scale = max(float(np.max(np.abs(a))) for a in jax.tree.leaves(seq_params))
    z_one = np.asarray(ens.member_logits(test[0]))
    z_seq = np.stack([np.asarray(training.predict(ens.graphdef, st, test[0])) for st in seq])
    m_one, m_seq = (ensembles.ensemble_metrics(z, test[1]) for z in (z_one, z_seq))
    flips = float(np.mean(z_one.argmax(-1) != z_seq.argmax(-1)))
    k, work = len(seeds), len(seeds) * epochs
    rows = [dict(model=name, mode="sequential training.fit", **{
                "wall s": t_seq, "compile s": c_seq, "member-epochs/s": work / t_seq,
                "speed-up": 1.0, "speed-up excl. compile": 1.0}),
            dict(model=name, mode=f"one program ({ens.engine})", **{
                "wall s": t_one, "compile s": c_one, "member-epochs/s": work / t_one,
                "speed-up": t_seq / t_one,
                "speed-up excl. compile": (t_seq - c_seq) / max(t_one - c_one, 1e-9)})]
    info = dict(model=name, k=k, epochs=epochs, speedup=t_seq / t_one, max_dparam=max(diffs),
                scale=scale, acc=(m_seq["accuracy"], m_one["accuracy"]),
                nll=(m_seq["nll"], m_one["nll"]), flips=flips)
    return rows, info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 members, fewer epochs, 512 images")
    args = ap.parse_args(argv)
    print(device_line())
    seeds = list(range(3 if args.quick else 8))
    epochs_mlp, epochs_cnn = (2, 1) if args.quick else (20, 3)

    (xtr, ytr), (xte, yte), x16tr, x16te = digits_splits(args.quick)
    print(f"digits: {len(ytr)} train / {len(yte)} test; K = {len(seeds)} members (seeds "
          f"{seeds[0]}..{seeds[-1]}); cross-entropy, Adam lr {LR:g}, batch {BATCH}; MLP on 8x8 "
          f"({epochs_mlp} epochs), CNN on 16x16 ({epochs_cnn} epochs)\n")
    all_rows, infos = [], []
    for name, make, tr, te, epochs in (
            ("MLP 64-128-10", make_mlp, (xtr, ytr), (xte, yte), epochs_mlp),
            ("CNN 16x16", make_cnn, (x16tr, ytr), (x16te, yte), epochs_cnn)):
        rows, info = run_arch(name, make, seeds, tr, te, epochs)
        all_rows += rows
        infos.append(info)
    print_table(all_rows, ["model", "mode", "wall s", "compile s", "member-epochs/s", "speed-up",
                           "speed-up excl. compile"])
    print("\n(compile s: JAX trace + lower + XLA compile, from jax.monitoring; "
          "speed-up = sequential wall / one-program wall)")
    for i in infos:
        print(f"\n{i['model']}: max |Δ parameter| {i['max_dparam']:.2e} (largest |parameter| "
              f"{i['scale']:.3g}); ensemble test accuracy sequential / one program "
              f"{i['acc'][0]:.4f} / {i['acc'][1]:.4f}, NLL {i['nll'][0]:.4f} / {i['nll'][1]:.4f}; "
              f"member predictions that differ: {i['flips']:.2%}")
    mlp = infos[0]
    same = all(abs(i["acc"][0] - i["acc"][1]) <= 0.01 for i in infos)
    print(f"SUMMARY ensemble: K={len(seeds)} members as one program vs sequential training.fit: "
          + ", ".join(f"{i['model'].split()[0]} {i['speedup']:.1f}x" for i in infos)
          + f" (goal >= {GOAL:g}x for the MLP); max |Δ param| "
          + ", ".join(f"{i['max_dparam']:.1e}" for i in infos)
          + f" -> {'PASS' if mlp['speedup'] >= GOAL and same else 'MISS'}"
          + ("" if mlp["speedup"] >= GOAL else " (MLP speed goal missed)")
          + ("" if same else " (ensemble accuracy differs by > 0.01)"))


if __name__ == "__main__":
    main()
