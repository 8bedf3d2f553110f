"""rvlib.losses: values on hand cases, exact special cases, adversarial logits, checks."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rvlib import losses as L

# 2 examples x 3 classes; margins z_y - max_{j != y} z_j are +1 and -2.
Z = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]], np.float32)
Y = np.array([0, 2], np.int32)


def np_logp(z):
    z = np.asarray(z, np.float64)
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def np_ce(z, y):
    return -np.mean(np_logp(z)[np.arange(len(y)), y])


def test_hand_values_without_softmax():
    # mse: row 0 (2-1)^2 + 1^2 + 0 = 2, row 1 0 + 9 + (1-1)^2 = 9 -> 5.5
    assert float(L.mse(Z, Y)) == pytest.approx(5.5)
    # hinge: max(0, 1 - 1) = 0 and max(0, 1 + 2) = 3 -> 1.5
    assert float(L.hinge_margin(Z, Y)) == pytest.approx(1.5)
    assert float(L.hinge_margin(Z, Y, margin=2.0)) == pytest.approx((1.0 + 4.0) / 2)
    # log-margin: -log(max(1, .1)) = 0 and -log(max(-2, .1)) = log 10 -> log(10) / 2
    assert float(L.log_margin_penalty(Z, Y)) == pytest.approx(np.log(10) / 2, rel=1e-6)
    assert float(L.log_margin_penalty(Z, Y, floor=0.5)) == pytest.approx(np.log(2) / 2, rel=1e-6)
    # the paper's loss with lambda = 10
    assert float(L.margin_loss(Z, Y, lam=10.0)) == pytest.approx(5.5 + 10 * np.log(10) / 2, rel=1e-6)
    assert float(L.margin_loss(Z, Y, lam=1.0, base="ce")) == pytest.approx(
        np_ce(Z, Y) + np.log(10) / 2, rel=1e-6)


def test_softmax_losses_match_numpy():
    logp = np_logp(Z)
    lp_y = logp[np.arange(2), Y]
    assert float(L.cross_entropy(Z, Y)) == pytest.approx(-lp_y.mean(), rel=1e-6)

    s = 0.1
    q = (1 - s) * np.eye(3)[Y] + s / 3
    assert float(L.label_smoothing_cross_entropy(Z, Y, smoothing=s)) == pytest.approx(
        -np.mean(np.sum(q * logp, axis=-1)), rel=1e-6)

    p_y = np.exp(lp_y)
    for gamma in (0.5, 2.0):
        want = -np.mean((1 - p_y) ** gamma * lp_y)
        assert float(L.focal(Z, Y, gamma=gamma)) == pytest.approx(want, rel=1e-5)

    want = -np.mean(np.sum(((1 - 0.2) * np.eye(3)[Y] + 0.2 / 3) * logp, axis=-1)) + 0.7 * 1.5
    assert float(L.combined(Z, Y, margin_weight=0.7, smoothing=0.2)) == pytest.approx(want, rel=1e-6)


def test_special_cases_are_exact():
    ce = L.cross_entropy(Z, Y)
    assert L.label_smoothing_cross_entropy(Z, Y, smoothing=0.0) == ce
    assert L.focal(Z, Y, gamma=0.0) == ce
    assert L.combined(Z, Y, margin_weight=0.0) == ce
    # lambda = 0 is the base loss bit for bit, eager, jitted, and via get_loss(lam=0 int)
    assert L.margin_loss(Z, Y, lam=0.0) == L.mse(Z, Y)
    assert L.margin_loss(Z, Y, lam=0.0, base="ce") == ce
    assert jax.jit(L.get_loss("margin_loss", lam=0))(Z, Y) == jax.jit(L.mse)(Z, Y)


def test_log_margin_gradient():
    g = jax.grad(L.log_margin_penalty)(Z, Y)
    # row 0: margin 1 -> d(-log m)/dm = -1 on z_y, +1 on the runner-up, mean over 2
    np.testing.assert_allclose(g[0], [-0.5, 0.5, 0.0], atol=1e-7)
    # row 1: margin below the floor -> no gradient, as with the paper's max()
    np.testing.assert_array_equal(g[1], np.zeros(3))


ADVERSARIAL = {
    "1e4": [[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [1e4, 1e4, -1e4]],
    "1e30": [[1e30, -1e30, 0.0], [-1e30, 1e30, 1e30], [-1e30, -1e30, 1e30]],
    "equal": [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-5.0, -5.0, -5.0]],
    "at_floor": [[0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1]],
    "negative_margin": [[-3.0, 2.0, 1.0], [50.0, -50.0, 0.0], [0.0, 0.0, -1e4]],
}
ADV_LABELS = np.array([0, 1, 2], np.int32)
MSE_FAMILY = {"mse", "margin_loss"}


@pytest.mark.parametrize("case", ADVERSARIAL)
@pytest.mark.parametrize("name", list(L.LOSSES))
def test_finite_on_adversarial_logits(name, case):
    z = jnp.asarray(ADVERSARIAL[case], jnp.float32)
    value, grad = jax.value_and_grad(L.LOSSES[name])(z, ADV_LABELS)
    assert bool(jnp.all(jnp.isfinite(grad))), (name, case, grad)
    if case == "1e30" and name in MSE_FAMILY:
        # (1e30)^2 is beyond float32: the true value overflows to +inf, never NaN
        assert float(value) == np.inf
    else:
        assert np.isfinite(float(value)), (name, case, value)


def test_margin_exactly_at_floor():
    z = jnp.asarray(ADVERSARIAL["at_floor"], jnp.float32)
    assert float(L.log_margin_penalty(z, ADV_LABELS, floor=0.1)) == pytest.approx(np.log(10), rel=1e-6)


def test_get_loss_coerces_and_matches_direct_call():
    loss = L.get_loss("margin_loss", lam=10, base="ce", floor=1)
    assert loss.keywords == {"lam": 10.0, "base": "ce", "floor": 1.0}
    assert isinstance(loss.keywords["lam"], float)
    assert jax.jit(loss)(Z, Y) == pytest.approx(float(L.margin_loss(Z, Y, lam=10.0, base="ce", floor=1.0)))
    assert float(L.get_loss("cross_entropy")(Z, Y)) == pytest.approx(np_ce(Z, Y), rel=1e-6)


@pytest.mark.parametrize("name, kwargs, match", [
    ("margin_loss", {"lam": -1}, r"lam=-1\.0 is not allowed: must be >= 0"),
    ("margin_loss", {"base": "l1"}, r"base='l1' is not allowed: must be one of 'mse', 'ce'"),
    ("margin_loss", {"floor": 0}, r"floor=0\.0 is not allowed: must be > 0"),
    ("log_margin_penalty", {"floor": -0.1}, r"floor=-0\.1 is not allowed: must be > 0"),
    ("label_smoothing_cross_entropy", {"smoothing": 1}, r"smoothing=1\.0 is not allowed: must be in \[0, 1\)"),
    ("label_smoothing_cross_entropy", {"smoothing": -0.1}, r"smoothing=-0\.1 is not allowed: must be >= 0"),
    ("combined", {"smoothing": 1.5}, r"smoothing=1\.5 is not allowed: must be in \[0, 1\)"),
    ("combined", {"margin_weight": -2}, r"margin_weight=-2\.0 is not allowed: must be >= 0"),
    ("focal", {"gamma": -1}, r"gamma=-1\.0 is not allowed: must be >= 0"),
    ("focal", {"gamma": "two"}, r"gamma='two' is not allowed: must be a number"),
    ("hinge_margin", {"margin": -0.5}, r"margin=-0\.5 is not allowed: must be >= 0"),
    ("mse", {"gamma": 2.0}, r"gamma=2\.0 is not allowed: 'mse' takes no hyperparameters"),
    ("focal", {"lam": 1}, r"lam=1 is not allowed: 'focal' takes gamma"),
    ("softmax", {}, r"loss='softmax' is not allowed: must be one of 'cross_entropy', .*'focal'"),
])
def test_get_loss_rejects(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        L.get_loss(name, **kwargs)


def test_direct_calls_check_before_compute():
    with pytest.raises(ValueError, match=r"lam=-1\.0 is not allowed: must be >= 0"):
        L.margin_loss(Z, Y, lam=-1)
    with pytest.raises(ValueError, match=r"logits\.shape=\(3,\) is not allowed: must be \[batch, classes\]"):
        L.cross_entropy(Z[0], Y)
    with pytest.raises(ValueError, match=r"labels\.shape=\(3,\) is not allowed: must be \(2,\)"):
        L.hinge_margin(Z, np.zeros(3, np.int32))
