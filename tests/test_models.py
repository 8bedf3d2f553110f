"""Exact parameter counts, shapes and init ranges of the models."""
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rvlib import models


def test_crossbar_params_and_init():
    m = models.Crossbar(rngs=nnx.Rngs(0))
    assert models.count_params(m) == 4096 * 2
    w = np.asarray(m.linear.kernel.value)
    assert w.shape == (4096, 2) and w.min() >= 0.0 and w.max() < 0.01
    assert m(jnp.zeros((3, 64, 64, 1))).shape == (3, 2)


def test_mlp_params_and_init():
    m = models.MLP(rngs=nnx.Rngs(0))
    assert models.count_params(m) == 4096 * 128 + 128 + 128 * 2 + 2 == 524674
    w = np.asarray(m.hidden.kernel.value)
    assert w.min() >= -0.01 and w.max() < 0.01 and w.min() < 0 < w.max()
    assert m(jnp.zeros((5, 4096))).shape == (5, 2)


@pytest.mark.parametrize("shape,classes,count", [
    ((28, 28, 1), 10, (3 * 3 * 1 * 32 + 32) + (3 * 3 * 32 * 64 + 64) + (7 * 7 * 64 * 256 + 256)
     + (256 * 10 + 10)),
    ((32, 32, 3), 10, (3 * 3 * 3 * 32 + 32) + (3 * 3 * 32 * 64 + 64) + (8 * 8 * 64 * 256 + 256)
     + (256 * 10 + 10)),
    ((8, 8, 1), 10, (9 * 32 + 32) + (9 * 32 * 64 + 64) + (2 * 2 * 64 * 256 + 256) + 2570),
])
def test_cnn_params_and_shapes(shape, classes, count):
    m = models.CNN(shape, classes, rngs=nnx.Rngs(0))
    assert models.count_params(m) == count
    assert m(jnp.zeros((2, *shape))).shape == (2, classes)


def test_same_seed_same_model():
    a, b = models.make_model("mlp", seed=3), models.make_model("mlp", seed=3)
    np.testing.assert_array_equal(a.hidden.kernel.value, b.hidden.kernel.value)


@pytest.mark.parametrize("call,match", [
    (lambda: models.make_model("resnet"), r"model='resnet' is not allowed: must be one of"),
    (lambda: models.CNN((30, 30, 1), rngs=nnx.Rngs(0)), r"input_shape=\(30, 30, 1\) is not allowed"),
    (lambda: models.MLP(hidden=0, rngs=nnx.Rngs(0)), r"hidden=0 is not allowed: must be > 0"),
])
def test_model_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (8, 8, 6)])
def test_cnn_equals_textbook_layers(shape):
    """im2col conv1 and reshape pooling give the values of lax.conv + nnx.max_pool."""
    import jax
    m = models.CNN(shape, 10, rngs=nnx.Rngs(1))
    x = jax.random.uniform(jax.random.key(2), (3, *shape))
    conv = lambda layer, y: jax.lax.conv_general_dilated(          # noqa: E731
        y, layer.kernel.value, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    ) + layer.bias.value
    pool = lambda y: nnx.max_pool(y, (2, 2), strides=(2, 2))      # noqa: E731
    h = pool(jax.nn.relu(conv(m.conv1, x)))
    h = pool(jax.nn.relu(conv(m.conv2, h)))
    want = m.fc2(jax.nn.relu(m.fc1(h.reshape(3, -1))))
    np.testing.assert_allclose(m(x), want, rtol=1e-5, atol=1e-5)
