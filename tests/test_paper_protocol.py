"""The vectorised paper protocol: engines agree, determinism, errors.

Values against an independent NumPy transcription of the authors' script are
in test_protocol_oracle.py.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rvlib import paper, rules
from rvlib.paper import protocol


@pytest.fixture(scope="module")
def small_images():
    rng = np.random.default_rng(1)
    return rng.uniform(0, 1, (3, 256)).astype(np.float32) * 0.6


@pytest.mark.parametrize("update,bias", [("published", False), ("gradient", False),
                                         ("gradient", True)])
def test_lowrank_engine_equals_dense_loop(small_images, update, bias):
    lams = (0.0, 1.0, 10.0)
    a = protocol.run_mlp(small_images, lams, hidden=16, engine="lowrank", update=update,
                         bias=bias)
    b = protocol.run_mlp(small_images, lams, hidden=16, engine="dense", update=update, bias=bias)
    np.testing.assert_allclose(a["outputs"], b["outputs"], rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(a["clean"], b["clean"], rtol=2e-4, atol=2e-5)


def test_run_paper_protocol_passes_the_update_through(small_images):
    res = protocol.run_paper_protocol(small_images, lams=(1.0,), update="gradient", bias=True)
    want = protocol.run_mlp(small_images, (1.0,), update="gradient", bias=True)
    np.testing.assert_array_equal(res["mlp_margin1"]["outputs"], want["outputs"][0])
    assert res["mlp_margin1"]["update"] == "gradient" and res["mlp_margin1"]["bias"] is True
    row = next(r for r in protocol.table_rows(res) if r["method"] == "mlp_margin1")
    assert row["update"] == "gradient"
    published = protocol.run_mlp(small_images, (1.0,))
    assert not np.allclose(published["outputs"], want["outputs"])


def test_margin_raises_target_output(small_images):
    out = protocol.run_mlp(small_images, (0.0, 1.0, 10.0), hidden=16)["clean"]
    margin = out[..., 0] - out[..., 1]                       # f32[3 λ, 3 images]
    assert (np.diff(margin, axis=0) > 0).all()


def test_crossbar_program_matches_rules(small_images):
    r = protocol.run_crossbar(small_images, rule="hebbian", eta=0.2, iters=30, clip=(0, 1))
    w0 = protocol.init_crossbars(protocol.PAPER_SEED, 3, 256)
    want = rules.train_crossbars(w0, small_images, protocol.TARGET, rule="hebbian", eta=0.2,
                                 iters=30, clip=(0, 1))
    np.testing.assert_allclose(r["weights"], want.w)
    xn = protocol.noisy_images(jnp.asarray(small_images), paper.NOISE_LEVELS)
    np.testing.assert_allclose(r["outputs"][1, 3], xn[3, 1] @ want.w[1], rtol=1e-5)


def test_noise_is_per_image_key_and_clipped(small_images):
    xn = np.asarray(protocol.noisy_images(jnp.asarray(small_images), (0.1, 0.7)))
    assert xn.shape == (2, 3, 256) and xn.min() >= 0 and xn.max() <= 1
    eps = jax.random.normal(jax.random.key(protocol.NOISE_SEED + 2), (256,))
    np.testing.assert_allclose(xn[0, 2], np.clip(small_images[2] + 0.1 * eps, 0, 1), rtol=1e-6)


def test_protocol_is_deterministic(small_images):
    a = protocol.run_paper_protocol(small_images)
    b = protocol.run_paper_protocol(small_images)
    for k in a:
        np.testing.assert_array_equal(a[k]["outputs"], b[k]["outputs"])
    rows = protocol.table_rows(a)
    assert [r["method"] for r in rows] == list(paper.METHODS)
    assert a["mlp_margin10"]["update"] == "published" and a["mlp_margin10"]["bias"] is False


def test_hebbian_snr_is_set_by_init_scale(small_images):
    """docs/protocol.md's weak point: SNR ≈ 1 + (iters·η/0.005)·(x·x')/Σx' — the control column never learns."""
    r = protocol.run_crossbar(small_images, rule="hebbian", eta=0.2, iters=30, levels=(0.1,))
    np.testing.assert_array_equal(r["weights"][..., 1],
                                  protocol.init_crossbars(protocol.PAPER_SEED, 3, 256)[..., 1])


@pytest.mark.parametrize("call,match", [
    (lambda x: protocol.run_mlp(x, (-1.0,)), r"lams\[0\]=-1.0 is not allowed: must be >= 0"),
    (lambda x: protocol.run_mlp(x, (1.0,), engine="fast"), r"engine='fast' is not allowed"),
    (lambda x: protocol.run_mlp(x, (1.0,), update="adam"),
     r"update='adam' is not allowed: must be one of 'published', 'gradient'"),
    (lambda x: protocol.run_mlp(x, (1.0,), bias=True),
     r"bias=True is not allowed: the published update has no biases"),
    (lambda x: protocol.run_mlp(x, (1.0,), update="gradient", bias="yes"),
     r"bias='yes' is not allowed: must be True or False"),
    (lambda x: protocol.run_paper_protocol(x, update="sgd"), r"update='sgd' is not allowed"),
    (lambda x: protocol.train_mlp_lowrank(protocol.init_mlps(42, 1, 256, 4, bias=True),
                                          x[0], 1.0), r"bias=True is not allowed"),
    (lambda x: protocol.run_mlp(x[None], (1.0,)), r"images.shape=\(1, 3, 256\) is not allowed"),
    (lambda x: protocol.run_crossbar(x, rule="hebbian", eta=0.2, iters=3, levels=(1.5,)),
     r"levels\[0\]=1.5 is not allowed: must be <= 1"),
])
def test_protocol_errors(small_images, call, match):
    with pytest.raises(ValueError, match=match):
        call(small_images)
