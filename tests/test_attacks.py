"""Tests for rvlib.attacks: values against NumPy written from the equations, the threat-model
constraints, monotonicity in steps/restarts, determinism, the registry and the error messages."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rvlib import attacks
from rvlib.attacks import objectives

K, D = 4, 12  # classes, input dimension of the tiny models


def linear(seed=0, k=K, d=D):
    """A linear model z = x W + b with its NumPy twin: (logits_fn, W, b)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(d, k)).astype(np.float32)
    b = rng.normal(size=k).astype(np.float32)
    return (lambda x: x.reshape(x.shape[0], -1) @ jnp.asarray(w) + jnp.asarray(b)), w, b


def tanh_net(seed=0, k=K, d=D, h=16):
    """A small non-linear net (tanh hidden layer): random model for the constraint tests."""
    rng = np.random.default_rng(seed)
    w1, w2 = (jnp.asarray(rng.normal(size=s).astype(np.float32)) for s in ((d, h), (h, k)))
    return lambda x: jnp.tanh(x.reshape(x.shape[0], -1) @ w1) @ w2


def batch(n=32, seed=1, d=D, k=K):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.05, 0.95, size=(n, d)).astype(np.float32),
            rng.integers(0, k, n).astype(np.int32))


# ------------------------------------------------------------------ NumPy references

def np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_ce_grad(x, y, w, b):
    """d/dx of -log softmax(xW + b)_y = W (p - onehot(y)), per example."""
    p = np_softmax(x @ w + b)
    p[np.arange(len(y)), y] -= 1.0
    return p @ w.T


def np_ce(x, y, w, b):
    z = x @ w + b
    m = z.max(-1)
    return m + np.log(np.exp(z - m[:, None]).sum(-1)) - z[np.arange(len(y)), y]


def np_project(x_adv, x, eps, norm):
    out = np.empty_like(x_adv)
    for i in range(len(x)):
        d = x_adv[i] - x[i]
        if norm == "linf":
            d = np.minimum(np.maximum(d, -eps), eps)
        else:
            n = np.sqrt(np.sum(d * d))
            if n > eps:
                d = d * (eps / n)
        out[i] = np.minimum(np.maximum(x[i] + d, 0.0), 1.0)
    return out


def np_pgd(x, y, w, b, eps, step, steps, norm):
    """PGD without random start on the linear model, keeping per example the first
    misclassified iterate with the highest loss, else the highest-loss iterate."""
    cur = x.copy()
    best_x, best_l, best_f = x.copy(), np.full(len(y), -np.inf), np.zeros(len(y), bool)
    for it in range(steps + 1):
        loss = np_ce(cur, y, w, b)
        fooled = np.argmax(cur @ w + b, -1) != y
        for i in range(len(y)):
            if (fooled[i] and not best_f[i]) or (fooled[i] == best_f[i] and loss[i] > best_l[i]):
                best_x[i], best_l[i], best_f[i] = cur[i], loss[i], fooled[i]
        if it == steps:
            break
        g = np_ce_grad(cur, y, w, b)
        if norm == "linf":
            d = np.sign(g)
        else:
            d = g / (np.sqrt((g * g).sum(-1, keepdims=True)) + 1e-12)
        cur = np_project(cur + step * d, x, eps, norm)
    return best_x


# ------------------------------------------------------------------ values

@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_fgsm_equals_one_gradient_step_by_hand(norm):
    f, w, b = linear()
    x, y = batch()
    eps = 0.1
    g = np_ce_grad(x, y, w, b)
    d = np.sign(g) if norm == "linf" else g / np.sqrt((g * g).sum(-1, keepdims=True))
    want = np.clip(x + eps * d, 0.0, 1.0)
    got = np.asarray(attacks.fgsm(f, x, y, eps=eps, norm=norm))
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.abs(got - x).max() > 0.05  # the step moved the inputs


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_project_matches_numpy(norm):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (16, 3, 4, 1)).astype(np.float32)
    x_adv = (x + rng.normal(0, 0.5, x.shape)).astype(np.float32)
    want = np_project(x_adv.reshape(16, -1), x.reshape(16, -1), 0.3, norm).reshape(x.shape)
    got = np.asarray(attacks.project(jnp.asarray(x_adv), jnp.asarray(x), 0.3, norm, (0.0, 1.0)))
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("norm,eps,step", [("linf", 0.1, 0.03), ("l2", 0.5, 0.2)])
def test_pgd_matches_numpy_on_linear_model(norm, eps, step):
    f, w, b = linear(seed=2)
    x, y = batch(seed=4)
    want = np_pgd(x, y, w, b, eps, step, 5, norm)
    got = jax.jit(lambda x, y, k: attacks.pgd(f, x, y, k, eps=eps, step_size=step, steps=5,
                                              norm=norm, random_start=False))(x, y, jax.random.key(0))
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)


def test_dlr_losses_match_numpy():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(20, 6)).astype(np.float32)
    y = rng.integers(0, 6, 20).astype(np.int32)
    t = (y + 1 + rng.integers(0, 5, 20)).astype(np.int32) % 6
    s = np.sort(z, -1)[:, ::-1]
    other = np.array([np.max(np.delete(z[i], y[i])) for i in range(20)])
    zy, zt = z[np.arange(20), y], z[np.arange(20), t]
    np.testing.assert_allclose(objectives.dlr(z, y), -(zy - other) / (s[:, 0] - s[:, 2] + 1e-12),
                               rtol=1e-5)
    np.testing.assert_allclose(objectives.dlr_targeted(z, y, t),
                               -(zy - zt) / (s[:, 0] - 0.5 * (s[:, 2] + s[:, 3]) + 1e-12),
                               rtol=1e-5)
    np.testing.assert_allclose(objectives.margin(z, y), other - zy, rtol=1e-6)


def test_apgd_checkpoints_follow_the_paper():
    # p_0 = 0, p_1 = 0.22, p_j+1 = p_j + max(p_j - p_j-1 - 0.03, 0.06): checks after ceil(p_j * 100) steps
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    want = [int(np.ceil(round(v * 100, 6))) - 1 for v in p[1:]]
    is_check, window = attacks.apgd_checkpoints(100)
    assert np.flatnonzero(is_check).tolist() == want
    assert window[is_check].tolist() == np.diff([0] + [w + 1 for w in want]).tolist()


# ------------------------------------------------------------------ constraints

BALL_CASES = [(name, "linf", 0.2) for name in ("pgd", "apgd_ce", "apgd_dlr", "apgd_t", "fgsm", "noise")]
BALL_CASES += [(name, "l2", 0.7) for name in ("pgd", "apgd_ce", "fgsm", "noise")]


@pytest.mark.parametrize("name,norm,eps", BALL_CASES)
def test_attacks_stay_in_ball_and_box(name, norm, eps):
    f = tanh_net(seed=6)
    x, y = batch(seed=7)
    steps = {} if name in ("fgsm", "noise") else {"steps": 8}
    x_adv = np.asarray(jax.jit(lambda x, y, k: attacks.attack(
        name, f, x, y, k, eps=eps, norm=norm, **steps))(x, y, jax.random.key(1)))
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    d = (x_adv - x).reshape(len(x), -1)
    size = np.abs(d).max(-1) if norm == "linf" else np.sqrt((d * d).sum(-1))
    assert size.max() <= eps * (1 + 1e-5)
    assert size.max() > 0.5 * eps  # the attack used its budget


def test_more_steps_and_restarts_never_raise_robust_accuracy():
    f = tanh_net(seed=8)
    x, y = batch(n=64, seed=9)
    y = np.asarray(jnp.argmax(f(x), -1), np.int32)  # all correct at the start

    def acc(steps, restarts):
        b = jax.jit(lambda x, y, k: attacks.pgd_best(f, x, y, k, eps=0.05, step_size=0.01,
                                                     steps=steps, restarts=restarts))(
            x, y, jax.random.key(3))
        assert np.array_equal(b.fooled, np.asarray(jnp.argmax(f(b.x), -1)) != y)
        return 1.0 - float(np.mean(b.fooled))

    by_steps = [acc(s, 1) for s in (1, 3, 9)]
    by_restarts = [by_steps[1]] + [acc(3, r) for r in (2, 4)]
    assert by_steps == sorted(by_steps, reverse=True) and by_steps[0] > by_steps[-1]
    assert by_restarts == sorted(by_restarts, reverse=True)


# ------------------------------------------------------------------ determinism and registry

def test_same_key_same_result_other_key_other_start():
    f = tanh_net()
    x, y = batch()
    run = jax.jit(lambda k: attacks.pgd(f, x, y, k, eps=0.1, step_size=0.02, steps=3))
    a, b, c = run(jax.random.key(0)), run(jax.random.key(0)), run(jax.random.key(1))
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_attack_vmaps_over_eps():
    f = tanh_net()
    x, y = batch()
    eps = jnp.asarray([0.0, 0.05, 0.2])
    out = jax.vmap(lambda e: attacks.fgsm(f, x, y, eps=e))(eps)
    for i, e in enumerate(np.asarray(eps)):
        np.testing.assert_allclose(np.asarray(out[i]), np.asarray(attacks.fgsm(f, x, y, eps=float(e))),
                                   atol=1e-6)


def test_registry_entries_are_typed_and_complete():
    assert {"fgsm", "pgd", "apgd_ce", "apgd_dlr", "apgd_t", "noise"} <= set(attacks.ATTACKS)
    for name, spec in attacks.ATTACKS.items():
        assert isinstance(spec, attacks.AttackSpec) and spec.name == name
        with pytest.raises(Exception):
            spec.name = "other"  # frozen


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("kwargs,message", [
    (dict(eps=-0.1), "eps=-0.1 is not allowed: must be >= 0"),
    (dict(steps=0), "steps=0 is not allowed: must be > 0"),
    (dict(step_size=0.0), "step_size=0.0 is not allowed: must be > 0"),
    (dict(norm="l1"), "norm='l1' is not allowed: must be one of 'linf', 'l2'"),
    (dict(loss="hinge"), "loss='hinge' is not allowed: must be one of 'ce', 'margin', 'dlr'"),
    (dict(restarts=0), "restarts=0 is not allowed: must be > 0"),
])
def test_pgd_bad_arguments(kwargs, message):
    f = tanh_net()
    x, y = batch(n=4)
    args = dict(eps=0.1, step_size=0.01, steps=2) | kwargs
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        attacks.pgd(f, x, y, jax.random.key(0), **args)


def test_unknown_attack_and_normalised_inputs_are_refused():
    f = tanh_net()
    x, y = batch(n=4)
    with pytest.raises(ValueError, match="attack='cw' is not allowed: must be one of"):
        attacks.attack("cw", f, x, y, jax.random.key(0), eps=0.1)
    with pytest.raises(ValueError, match="put any normalisation .* inside the model"):
        attacks.fgsm(f, (x - 0.5) / 0.25, y, eps=0.1)
    with pytest.raises(ValueError, match="eps=-1.0 is not allowed"):
        attacks.apgd(f, x, y, jax.random.key(0), eps=-1.0)


def test_dlr_needs_three_classes():
    f, _, _ = linear(k=2)
    x, y = batch(n=4, k=2)
    with pytest.raises(ValueError, match="loss='dlr' is not allowed: needs at least 3 classes"):
        attacks.apgd(f, x, y, jax.random.key(0), eps=0.1, loss="dlr", steps=4)


def test_adversary_checks_its_fields():
    with pytest.raises(ValueError, match="adversary.kind='trades' is not allowed"):
        attacks.Adversary(eps=0.1, kind="trades")
    with pytest.raises(ValueError, match="adversary.steps=0 is not allowed"):
        attacks.Adversary(eps=0.1, steps=0)
    with pytest.raises(ValueError, match="eps=-0.5 is not allowed"):
        attacks.Adversary(eps=-0.5)


def test_catastrophic_overfitting_flag():
    from rvlib.attacks.study import catastrophic_overfitting

    def ev(fgsm_acc, pgd_acc):
        n = 10
        col = lambda acc: np.array([[True] * n, [True] * int(acc * n) + [False] * (n - int(acc * n))])  # noqa: E731
        c = {"fgsm": col(fgsm_acc), "pgd": col(pgd_acc)}
        return attacks.RobustEval(np.array([0.0, 0.1]), ("fgsm", "pgd"), np.ones(n, bool), c,
                                  c["fgsm"] & c["pgd"], np.zeros(n, bool))

    adv = attacks.Adversary(eps=0.1, kind="fgsm_rs")
    assert catastrophic_overfitting(ev(0.8, 0.1), adv)          # robust to FGSM only
    assert not catastrophic_overfitting(ev(0.8, 0.6), adv)
    assert not catastrophic_overfitting(ev(0.8, 0.1), None)     # not adversarially trained
    assert not catastrophic_overfitting(ev(0.8, 0.1), attacks.Adversary(eps=0.3))  # ε not in grid
