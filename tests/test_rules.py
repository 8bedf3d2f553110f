"""Learning rules against a hand-written NumPy loop of the paper's protocol."""
import jax.numpy as jnp
import numpy as np
import pytest

from rvlib import rules


def numpy_protocol(w0, x, t, rule, eta, iters, clip):
    """The authors' loop: one image, one update per iteration, clip after each update."""
    w = w0.astype(np.float64).copy()
    for _ in range(iters):
        if rule == "hebbian":
            w = w + eta * np.outer(x, t)
        else:
            w = w - eta * np.outer(x, x @ w - t)
        if clip is not None:
            w = np.clip(w, *clip)
    return w


@pytest.fixture(scope="module")
def three_images():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (3, 64)).astype(np.float32)
    w0 = rng.uniform(0, 0.01, (3, 64, 2)).astype(np.float32)
    return x, w0


@pytest.mark.parametrize("rule,eta,clip", [
    ("hebbian", 0.2, None), ("hebbian", 0.2, (0.0, 2.0)), ("hebbian", 0.2, (0.0, 1.0)),
    ("hebbian", 0.2, (0.0, 0.5)),
    ("delta", 0.01, None), ("delta", 0.01, (0.0, 1.0))])
def test_rules_match_numpy_loop(three_images, rule, eta, clip):
    x, w0 = three_images
    t = np.array([1.0, 0.0])
    got = rules.train_crossbars(w0, x, t, rule=rule, eta=eta, iters=30, clip=clip)
    for i in range(3):
        want = numpy_protocol(w0[i], x[i], t, rule, eta, 30, clip)
        np.testing.assert_allclose(np.asarray(got.w[i]), want, rtol=1e-4, atol=1e-5)
    assert not np.asarray(got.diverged).any()


def test_single_and_batched_agree(three_images):
    x, w0 = three_images
    one = rules.train_crossbar(jnp.asarray(w0[1]), jnp.asarray(x[1]), jnp.array([1.0, 0.0]),
                               rule="delta", eta=0.01, iters=10)
    many = rules.train_crossbars(w0, x, [1.0, 0.0], rule="delta", eta=0.01, iters=10)
    np.testing.assert_allclose(one.w, many.w[1], rtol=1e-6)


def test_hebbian_never_touches_control_column(three_images):
    x, w0 = three_images
    r = rules.train_crossbars(w0, x, [1.0, 0.0], rule="hebbian", eta=0.2, iters=30)
    np.testing.assert_array_equal(np.asarray(r.w[..., 1]), w0[..., 1])


def test_clip_holds_bounds(three_images):
    x, w0 = three_images
    r = rules.train_crossbars(w0, x, [1.0, 0.0], rule="delta", eta=0.05, iters=30,
                              clip=(0.0, 0.5))
    w = np.asarray(r.w)
    assert w.min() >= 0.0 and w.max() <= 0.5


def test_divergence_is_recorded_not_raised():
    x = np.ones((2, 4096), np.float32)              # ‖x‖² = 4096, limit 2/4096
    w0 = np.zeros((2, 4096, 2), np.float32)
    r = rules.train_crossbars(w0, x, [1.0, 0.0], rule="delta", eta=0.01, iters=30)
    assert np.asarray(r.diverged).all()             # growth |1 - 40.96| per step overflows f32
    ok = rules.train_crossbars(w0, x, [1.0, 0.0], rule="delta", eta=1 / 4096, iters=30)
    assert not np.asarray(ok.diverged).any()
    np.testing.assert_allclose(np.asarray(x[0] @ ok.w[0]), [1.0, 0.0], atol=1e-4)


def test_stability_helper():
    x = np.stack([np.full(100, 0.1), np.full(100, 1.0)])   # ‖x‖² = 1 and 100
    np.testing.assert_allclose(rules.delta_stability_limit(x), [2.0, 0.02])
    s = rules.delta_stability(0.05, x)
    assert s["stable"] is False and s["fraction_stable"] == 0.5
    assert s["max_growth_per_step"] == pytest.approx(4.0)
    assert rules.delta_stability(0.01, x)["stable"] is True


@pytest.mark.parametrize("kwargs,match", [
    ({"rule": "oja"}, r"rule='oja' is not allowed: must be one of 'hebbian', 'delta'"),
    ({"eta": -0.1}, r"eta=-0.1 is not allowed: must be >= 0"),
    ({"clip": (1.0, 0.0)}, r"clip=\(1.0, 0.0\) is not allowed: g_min must be <= g_max"),
    ({"iters": 2.5}, r"iters=2.5 is not allowed: must be an integer"),
])
def test_rule_errors(kwargs, match):
    args = {"rule": "hebbian", "eta": 0.2, "iters": 3, "clip": None} | kwargs
    with pytest.raises(ValueError, match=match):
        rules.train_crossbars(np.zeros((1, 4, 2)), np.zeros((1, 4)), [1.0, 0.0], **args)
