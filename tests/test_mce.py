"""rvlib.mce (CE, mCE, relative mCE) against a hand computation; robustness.evaluate_suite."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rvlib import corruptions, mce, models, robustness

# Hand-made rows: base and m, corruptions a and b, severities 1..5.
ACC = {("base", "a"): [0.9, 0.8, 0.7, 0.6, 0.5], ("base", "b"): [0.7] * 5,
       ("m", "a"): [0.95, 0.9, 0.85, 0.8, 0.75], ("m", "b"): [0.9] * 5}
CLEAN = {"base": 0.95, "m": 0.97}
ROWS = [dict(model=m, corruption=c, severity=float(s + 1), accuracy=a,
             degradation=CLEAN[m] - a) for (m, c), accs in ACC.items() for s, a in enumerate(accs)]


def test_mce_hand_computation():
    # base errors: a 0.1+0.2+0.3+0.4+0.5 = 1.5, b 5 x 0.3 = 1.5; clean error 0.05
    # m errors:    a 0.05+0.1+0.15+0.2+0.25 = 0.75, b 5 x 0.1 = 0.5; clean error 0.03
    # CE_a = 0.75 / 1.5 = 0.5, CE_b = 0.5 / 1.5 = 1/3, mCE = 5/12
    # relative: a (0.75 - 5 x 0.03) / (1.5 - 5 x 0.05) = 0.6 / 1.25 = 0.48,
    #           b (0.5 - 0.15) / 1.25 = 0.28, relative mCE = 0.38
    table = {r["model"]: r for r in mce.mce_table(ROWS, "base")}
    m, base = table["m"], table["base"]
    assert m["CE"] == pytest.approx({"a": 0.5, "b": 1 / 3})
    assert m["mCE"] == pytest.approx(5 / 12)
    assert m["relative_CE"] == pytest.approx({"a": 0.48, "b": 0.28})
    assert m["relative_mCE"] == pytest.approx(0.38)
    assert m["clean_error"] == pytest.approx(0.03)
    assert m["mean_corruption_error"] == pytest.approx(1.25 / 10)
    assert m["mean_corruption_accuracy"] == pytest.approx(1 - 0.125)
    assert base["mCE"] == pytest.approx(1.0) and base["relative_mCE"] == pytest.approx(1.0)
    only_a = {r["model"]: r for r in mce.mce_table(ROWS, "base", corruptions=["a"])}
    assert only_a["m"]["mCE"] == pytest.approx(0.5)


def test_mce_errors():
    with pytest.raises(ValueError, match=r"baseline='alexnet' is not allowed: must be one of "
                                         r"'base', 'm'"):
        mce.mce_table(ROWS, "alexnet")
    with pytest.raises(ValueError, match=r"rows has no row for model='base', "
                                         r"corruption='a', severity=6: it must cover"):
        mce.mce_table(ROWS, "base", severities=(1, 6))
    perfect = [r | {"accuracy": 1.0, "degradation": 0.0} if r["model"] == "base" else r
               for r in ROWS]
    with pytest.raises(ValueError, match=r"has zero error on 'a': CE is undefined"):
        mce.mce_table(perfect, "base")
    with pytest.raises(ValueError, match=r"rows=\[\] is not allowed"):
        mce.mce_table([], "base")


def test_evaluate_suite_matches_manual_corruption():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((10, 8, 8, 1), dtype=np.float32))
    y = rng.integers(0, 3, 10).astype(np.int32)
    model = models.make_model("mlp", seed=0, in_features=64, hidden=8, classes=3)
    rows = robustness.evaluate_suite({"mlp": model}, x, y, corruptions=["impulse_noise",
                                                                       "contrast"],
                                     severities=[1, 5], seed=3, batch_size=4)
    assert [(r["corruption"], r["severity"]) for r in rows] == [
        ("impulse_noise", 1.0), ("impulse_noise", 5.0), ("contrast", 1.0), ("contrast", 5.0)]
    clean = float(np.mean(np.argmax(np.asarray(model(x)), -1) == y))
    names = list(corruptions.SUITE)
    for r in rows:
        entry = corruptions.SUITE[r["corruption"]]
        ck = jax.random.fold_in(jax.random.key(3), names.index(r["corruption"]))
        xc = jnp.concatenate([entry.fn(jax.random.fold_in(ck, i), x[i:i + 1],
                                       entry.params("cifar10", int(r["severity"])))
                              for i in range(10)])
        acc = float(np.mean(np.argmax(np.asarray(model(xc)), -1) == y))
        assert r["accuracy"] == pytest.approx(acc)
        assert r["degradation"] == pytest.approx(clean - acc)
    with pytest.raises(ValueError, match=r"corruptions\[0\]='gaussian' is not allowed"):
        robustness.evaluate_suite({"mlp": model}, x, y, corruptions=["gaussian"])
    with pytest.raises(ValueError, match=r"severity=0.5 is not allowed"):
        robustness.evaluate_suite({"mlp": model}, x, y, severities=[0.5])
    with pytest.raises(ValueError, match=r"table='tiny' is not allowed"):
        robustness.evaluate_suite({"mlp": model}, x, y, table="tiny")
