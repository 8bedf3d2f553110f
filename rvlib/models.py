"""Flax NNX models: the paper's crossbar and MLP, and a small CNN.

All models take images ``f32[batch, h, w, c]`` (or already flat ``f32[batch, d]``
for the crossbar/MLP) and return logits ``f32[batch, classes]``.  Following the
paper, output 0 is the "target" unit and output 1 the "control" unit in the
binary per-image protocol.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from rvlib import validate


def uniform_init(lo: float, hi: float):
    """Initializer drawing from U[lo, hi) (the paper's U[0, 0.01] and U[-0.01, 0.01])."""
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, lo, hi)
    return init


def _flat(x):
    return x.reshape(x.shape[0], -1)


class Crossbar(nnx.Module):
    """The paper's linear memristor crossbar ``d -> classes``, no bias, W ~ U[0, 0.01].

    ``kernel: f32[d, classes]``; ``out = x @ kernel`` so column j holds the
    conductances feeding output j (the layout the Hebbian rule writes to).
    """

    def __init__(self, in_features: int = 4096, classes: int = 2, *, rngs: nnx.Rngs,
                 init_scale: float = 0.01):
        validate.positive("in_features", in_features, integer=True)
        validate.positive("classes", classes, integer=True)
        self.linear = nnx.Linear(in_features, classes, use_bias=False,
                                 kernel_init=uniform_init(0.0, init_scale), rngs=rngs)

    def __call__(self, x):  # x: f32[b, h, w, c] | f32[b, d] -> f32[b, classes]
        return self.linear(_flat(x))


class MLP(nnx.Module):
    """The paper's "CNN": in fact an MLP ``d -> hidden -> classes`` with ReLU.

    Weights U[-0.01, 0.01] as in the authors' script, biases zero.
    """

    def __init__(self, in_features: int = 4096, hidden: int = 128, classes: int = 2, *,
                 rngs: nnx.Rngs, init_scale: float = 0.01):
        validate.positive("in_features", in_features, integer=True)
        validate.positive("hidden", hidden, integer=True)
        validate.positive("classes", classes, integer=True)
        init = uniform_init(-init_scale, init_scale)
        self.hidden = nnx.Linear(in_features, hidden, kernel_init=init, rngs=rngs)
        self.out = nnx.Linear(hidden, classes, kernel_init=init, rngs=rngs)

    def __call__(self, x):  # x: f32[b, ...] -> f32[b, classes]
        return self.out(jax.nn.relu(self.hidden(_flat(x))))


def max_pool2(y):
    """2x2 max-pool, stride 2: ``f32[b, h, w, c] -> f32[b, h/2, w/2, c]``.

    Same values as ``nnx.max_pool(y, (2, 2), strides=(2, 2))``, written as
    reshape + max because XLA:CPU's gradient of a pooling window
    (select-and-scatter) is several times slower than that of a reduction.
    """
    b, h, w, c = y.shape
    return y.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def patches_conv(x, kernel, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                 dimension_numbers=None, feature_group_count=1, precision=None, **kwargs):
    """``lax.conv_general_dilated`` for NHWC/HWIO as im2col + one matmul.

    Passed as ``nnx.Conv(..., conv_general_dilated=patches_conv)`` for a layer
    with few input channels (RGB or grayscale input), where XLA:CPU's direct
    convolution and its kernel gradient are slow: the kh*kw shifted views are
    stacked along channels (``f32[n, ho, wo, kh*kw*c]``) and multiplied by the
    kernel reshaped to ``f32[kh*kw*c, f]``.  Dilated or grouped convolutions
    fall back to ``lax.conv_general_dilated``.
    """
    if (feature_group_count != 1 or any(d != 1 for d in (lhs_dilation or ()))
            or any(d != 1 for d in (rhs_dilation or ()))):
        return jax.lax.conv_general_dilated(
            x, kernel, window_strides, padding, lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
            feature_group_count=feature_group_count, precision=precision)
    kh, kw, cin, cout = kernel.shape
    n, h, w, _ = x.shape
    sh, sw = window_strides
    pads = (jax.lax.padtype_to_pads((h, w), (kh, kw), window_strides, padding)
            if isinstance(padding, str) else padding)
    xp = jnp.pad(x, ((0, 0), tuple(pads[0]), tuple(pads[1]), (0, 0)))
    ho, wo = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    cols = [xp[:, dy:dy + (ho - 1) * sh + 1:sh, dx:dx + (wo - 1) * sw + 1:sw, :]
            for dy in range(kh) for dx in range(kw)]
    patches = jnp.concatenate(cols, axis=-1).reshape(-1, kh * kw * cin)
    out = jnp.matmul(patches, kernel.reshape(kh * kw * cin, cout), precision=precision)
    return out.reshape(n, ho, wo, cout)


class CNN(nnx.Module):
    """conv32 -> pool -> conv64 -> pool -> fc256 -> fc(classes), ReLU, 3x3 SAME convs.

    Works for any ``h, w`` divisible by 4 (28x28 and 32x32 included) and any
    channel count; ``fc1`` is sized from ``input_shape = (h, w, c)``.
    """

    def __init__(self, input_shape=(32, 32, 3), classes: int = 10, *, rngs: nnx.Rngs,
                 width: int = 32, hidden: int = 256):
        if len(tuple(input_shape)) != 3:
            validate.fail("input_shape", input_shape, "must be (h, w, c)")
        h, w, c = (int(v) for v in input_shape)
        if h % 4 or w % 4 or min(h, w, c) <= 0:
            validate.fail("input_shape", input_shape,
                          "h and w must be positive multiples of 4 and c >= 1")
        validate.positive("classes", classes, integer=True)
        self.input_shape = (h, w, c)
        # few input channels: im2col beats XLA:CPU's direct conv (same parameters and values)
        conv1 = {"conv_general_dilated": patches_conv} if c <= 4 else {}
        self.conv1 = nnx.Conv(c, width, (3, 3), padding="SAME", rngs=rngs, **conv1)
        self.conv2 = nnx.Conv(width, 2 * width, (3, 3), padding="SAME", rngs=rngs)
        self.fc1 = nnx.Linear((h // 4) * (w // 4) * 2 * width, hidden, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, classes, rngs=rngs)

    def __call__(self, x):  # x: f32[b, h, w, c] -> f32[b, classes]
        x = max_pool2(jax.nn.relu(self.conv1(x)))
        x = max_pool2(jax.nn.relu(self.conv2(x)))
        x = jax.nn.relu(self.fc1(_flat(x)))
        return self.fc2(x)


def count_params(model_or_state) -> int:
    """Number of trainable scalars (``nnx.Param``) in a model or a state pytree."""
    if isinstance(model_or_state, nnx.Module):
        model_or_state = nnx.state(model_or_state, nnx.Param)
    return int(sum(x.size for x in jax.tree.leaves(model_or_state)))


def has_conv(graphdef: nnx.GraphDef) -> bool:
    """Whether a split model (``nnx.split(model)[0]``) holds a convolution.

    XLA:CPU runs conv gradients slowly inside loops and vmaps, so the
    trainers and the robustness evaluation step conv models one at a time there.
    """
    return any(isinstance(getattr(node, "type", None), type)
               and issubclass(node.type, (nnx.Conv, nnx.ConvTranspose))
               for node in getattr(graphdef, "nodes", ()))


MODELS = {"crossbar": Crossbar, "mlp": MLP, "cnn": CNN}


def make_model(name: str, *, seed: int = 0, **kwargs) -> nnx.Module:
    """Build a model by name (``crossbar``, ``mlp``, ``cnn``) with ``nnx.Rngs(seed)``."""
    validate.choice("model", name, MODELS)
    return MODELS[name](rngs=nnx.Rngs(int(seed)), **kwargs)
