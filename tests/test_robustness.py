"""Tests for rvlib.robustness: rows, clean metrics, keys, chunking, stacking, errors."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rvlib import corruptions, models, robustness, training

SEV = (0.0, 0.3, 0.6)
NAMES = ("salt_pepper", "occlusion")


def mlp(seed, d=36):
    return models.MLP(in_features=d, hidden=8, classes=3, rngs=nnx.Rngs(seed), init_scale=0.5)


def cnn(seed):
    return models.CNN((8, 8, 1), 3, rngs=nnx.Rngs(seed), width=2, hidden=4)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(30, 6, 6, 1)).astype(np.float32)
    y = rng.integers(0, 3, 30).astype(np.int32)
    return x, y


@pytest.fixture(scope="module")
def rows(data):
    return robustness.evaluate_robustness({"a": mlp(0), "b": mlp(1)}, *data,
                                          corruptions=NAMES, severities=SEV, batch_size=7)


def by_key(rows):
    return {(r["model"], r["corruption"], r["severity"]): r for r in rows}


def assert_rows_close(r1, r2, rtol=1e-5, atol=1e-6):
    assert len(r1) == len(r2)
    for a, b in zip(r1, r2):
        assert (a["model"], a["corruption"], a["severity"]) == \
               (b["model"], b["corruption"], b["severity"])
        for k in robustness.ROW_KEYS[3:]:
            np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol, err_msg=k)


def reference(logits, y):
    """NumPy float64 metrics of logits f32[n, k] against y."""
    z = np.asarray(logits, np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n = len(y)
    rest = np.where(np.eye(z.shape[1], dtype=bool)[y], -np.inf, z).max(1)
    margin = z[np.arange(n), y] - rest
    p_rest = np.where(np.eye(z.shape[1], dtype=bool)[y], -np.inf, p).max(1)
    snr = p[np.arange(n), y] / p_rest          # the softmax SNR, uncapped (no eps)
    conf = p.max(1)
    hit = (margin > 0).astype(float)
    bins = np.clip(np.floor(conf * 15).astype(int), 0, 14)
    ece = sum(abs(np.sum((hit - conf)[bins == b])) for b in range(15)) / n
    return dict(accuracy=hit.mean(), confidence=conf.mean(), margin_median=np.median(margin),
                margin_mean=margin.mean(), snr_median=np.median(snr), snr_mean=snr.mean(),
                nll=-np.mean(np.log(p[np.arange(n), y])), ece=ece)


def test_rows_count_keys_and_order(rows):
    assert len(rows) == 2 * len(NAMES) * len(SEV)
    assert all(tuple(r) == robustness.ROW_KEYS for r in rows)
    assert [(r["model"], r["corruption"], r["severity"]) for r in rows[:4]] == \
        [("a", "salt_pepper", 0.0), ("a", "salt_pepper", 0.3), ("a", "salt_pepper", 0.6),
         ("a", "occlusion", 0.0)]
    # corruption hurts this untrained-but-large-weight model somewhere
    assert any(r["degradation"] != 0 for r in rows)


def test_severity_zero_matches_direct_metrics(rows, data):
    x, y = data
    got = by_key(rows)
    for name, seed in (("a", 0), ("b", 1)):
        ref = reference(mlp(seed)(jnp.asarray(x)), y)
        for c in NAMES:
            row = got[(name, c, 0.0)]
            assert row["degradation"] == 0.0
            for k, v in ref.items():
                np.testing.assert_allclose(row[k], v, rtol=2e-5, atol=1e-6, err_msg=f"{c} {k}")


def test_corrupted_metrics_match_documented_keys(rows, data):
    """Image i under corruption c uses fold_in(fold_in(key(seed), index of c), i)."""
    x, y = data
    base = jax.random.key(0)
    got = by_key(rows)
    for c in NAMES:
        ck = jax.random.fold_in(base, list(corruptions.CORRUPTIONS).index(c))
        for s in SEV[1:]:
            xs = np.concatenate([corruptions.CORRUPTIONS[c](jax.random.fold_in(ck, i),
                                                           jnp.asarray(x[i:i + 1]), s)
                                 for i in range(len(x))])
            assert not np.array_equal(xs, x)
            ref = reference(mlp(0)(jnp.asarray(xs)), y)
            clean = reference(mlp(0)(jnp.asarray(x)), y)["accuracy"]
            row = got[("a", c, s)]
            for k, v in ref.items():
                np.testing.assert_allclose(row[k], v, rtol=2e-5, atol=1e-6, err_msg=f"{c} {s} {k}")
            np.testing.assert_allclose(row["degradation"], clean - ref["accuracy"], atol=1e-12)


def test_deterministic_and_chunking_invariant(rows, data):
    again = robustness.evaluate_robustness({"a": mlp(0), "b": mlp(1)}, *data,
                                           corruptions=NAMES, severities=SEV, batch_size=7)
    assert again == rows
    whole = robustness.evaluate_robustness({"a": mlp(0), "b": mlp(1)}, *data,
                                           corruptions=NAMES, severities=SEV, batch_size=1024)
    assert_rows_close(whole, rows)
    # the accuracy is a count, not a float sum: exactly equal
    assert [r["accuracy"] for r in whole] == [r["accuracy"] for r in rows]


def test_copies_and_other_architectures_see_identical_inputs(rows, data):
    x, y = data
    x8 = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # 8x8 so the CNN fits
    trio = {"a": mlp(0, 64), "copy": mlp(0, 64), "cnn": cnn(0)}
    mixed = robustness.evaluate_robustness(trio, x8, y, corruptions=NAMES, severities=SEV,
                                           batch_size=7)
    alone = robustness.evaluate_robustness({"cnn": cnn(0)}, x8, y, corruptions=NAMES,
                                           severities=SEV, batch_size=7)
    got = by_key(mixed)
    for c in NAMES:
        for s in SEV:
            a, b = got[("a", c, s)], got[("copy", c, s)]
            assert {k: v for k, v in a.items() if k != "model"} == \
                   {k: v for k, v in b.items() if k != "model"}
    assert_rows_close([r for r in mixed if r["model"] == "cnn"], alone, rtol=0, atol=0)


def test_degradation_without_clean_severity(rows, data):
    sub = robustness.evaluate_robustness({"a": mlp(0), "b": mlp(1)}, *data, corruptions=NAMES,
                                         severities=(0.6, 0.3), batch_size=7)
    full = by_key(rows)
    assert [r["severity"] for r in sub[:2]] == [0.6, 0.3]
    for r in sub:
        ref = full[(r["model"], r["corruption"], r["severity"])]
        assert r == ref


def test_evaluate_stacked_and_at_severity(rows, data):
    tx = optax.sgd(0.1)
    states = [training.create_train_state(mlp(s), tx) for s in (0, 1)]
    graphdef = states[0][0]
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *[s for _, s in states])
    got = robustness.evaluate_stacked(graphdef, stacked, ["a", "b"], *data, corruptions=NAMES,
                                      severities=SEV, batch_size=7)
    assert_rows_close(got, rows, rtol=1e-6, atol=1e-7)
    table = robustness.at_severity(rows, "occlusion", 0.3)
    assert set(table) == {"a", "b"} and table["b"] is by_key(rows)[("b", "occlusion", 0.3)]


def test_errors(data):
    x, y = data
    m = {"a": mlp(0)}
    with pytest.raises(ValueError, match=r"corruptions\[1\]='snow' is not allowed: must be one "
                                         r"of 'gaussian', 'salt_pepper', 'fog', 'occlusion'"):
        robustness.evaluate_robustness(m, x, y, corruptions=("fog", "snow"))
    with pytest.raises(ValueError, match=r"severities\[1\]=1.5 is not allowed: must be <= 1"):
        robustness.evaluate_robustness(m, x, y, severities=(0.0, 1.5))
    with pytest.raises(ValueError, match=r"labels.shape=\(29,\) is not allowed: must be \(30,\)"):
        robustness.evaluate_robustness(m, x, y[:-1])
    with pytest.raises(ValueError, match=r"images.shape=\(30, 36\) is not allowed"):
        robustness.evaluate_robustness(m, x.reshape(30, 36), y)
    with pytest.raises(ValueError, match=r"images.shape=\(30, 6, 6, 1\) is not allowed: model "
                                         r"'a' cannot take it"):
        robustness.evaluate_robustness({"a": mlp(0, 64)}, x, y)
    with pytest.raises(ValueError, match=r"batch_size=0 is not allowed: must be > 0"):
        robustness.evaluate_robustness(m, x, y, batch_size=0)
    with pytest.raises(ValueError, match=r"models=.* is not allowed: must be a non-empty dict"):
        robustness.evaluate_robustness({}, x, y)
    with pytest.raises(ValueError, match=r"labels=3 is not allowed: must be < the number of "
                                         r"classes 3"):
        robustness.evaluate_robustness(m, x, np.full(30, 3, np.int32))
    with pytest.raises(ValueError, match=r"names=\['a'\] is not allowed: must give one name "
                                         r"per stacked model \(2\)"):
        stacked = jax.tree.map(lambda *a: jnp.stack(a), nnx.split(mlp(0))[1],
                               nnx.split(mlp(1))[1])
        robustness.evaluate_stacked(nnx.split(mlp(0))[0], stacked, ["a"], x, y)
    rows = [dict(model="a", corruption="fog", severity=0.1)]
    with pytest.raises(ValueError, match=r"severity=0.2 is not allowed: must be one of 0.1"):
        robustness.at_severity(rows, "fog", 0.2)
    with pytest.raises(ValueError, match=r"corruption='snow' is not allowed: must be one of 'fog'"):
        robustness.at_severity(rows, "snow", 0.1)
