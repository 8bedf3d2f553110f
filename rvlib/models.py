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


class CNN(nnx.Module):
    """conv32 -> pool -> conv64 -> pool -> fc256 -> fc(classes), ReLU, 3x3 SAME convs.

    Works for any ``h, w`` divisible by 4 (28x28 and 32x32 included) and any
    channel count; ``fc1`` is sized from ``input_shape = (h, w, c)``.
    """

    def __init__(self, input_shape=(32, 32, 3), classes: int = 10, *, rngs: nnx.Rngs,
                 width: int = 32, hidden: int = 256):
        if len(tuple(input_shape)) != 3:
            raise ValueError(f"input_shape={input_shape!r} is not allowed: must be (h, w, c)")
        h, w, c = (int(v) for v in input_shape)
        if h % 4 or w % 4 or min(h, w, c) <= 0:
            raise ValueError(f"input_shape={input_shape!r} is not allowed: h and w must be "
                             "positive multiples of 4 and c >= 1")
        validate.positive("classes", classes, integer=True)
        self.input_shape = (h, w, c)
        self.conv1 = nnx.Conv(c, width, (3, 3), padding="SAME", rngs=rngs)
        self.conv2 = nnx.Conv(width, 2 * width, (3, 3), padding="SAME", rngs=rngs)
        self.fc1 = nnx.Linear((h // 4) * (w // 4) * 2 * width, hidden, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, classes, rngs=rngs)

    def __call__(self, x):  # x: f32[b, h, w, c] -> f32[b, classes]
        pool = lambda y: nnx.max_pool(y, (2, 2), strides=(2, 2))  # noqa: E731
        x = pool(jax.nn.relu(self.conv1(x)))
        x = pool(jax.nn.relu(self.conv2(x)))
        x = jax.nn.relu(self.fc1(_flat(x)))
        return self.fc2(x)


def count_params(model_or_state) -> int:
    """Number of trainable scalars (``nnx.Param``) in a model or a state pytree."""
    if isinstance(model_or_state, nnx.Module):
        model_or_state = nnx.state(model_or_state, nnx.Param)
    return int(sum(x.size for x in jax.tree.leaves(model_or_state)))


MODELS = {"crossbar": Crossbar, "mlp": MLP, "cnn": CNN}


def make_model(name: str, *, seed: int = 0, **kwargs) -> nnx.Module:
    """Build a model by name (``crossbar``, ``mlp``, ``cnn``) with ``nnx.Rngs(seed)``."""
    validate.choice("model", name, MODELS)
    return MODELS[name](rngs=nnx.Rngs(int(seed)), **kwargs)
