"""Train/test splits, shuffled batches, normalisation, and the multi-class split loader."""
from __future__ import annotations

from collections.abc import Iterator

import jax
import numpy as np

from rvlib import validate
from rvlib.data.digits import load_digits, resize
from rvlib.data.registry import load

MULTICLASS = ("digits", "mnist", "fashion_mnist", "cifar10")


def _check_pair(images, labels) -> None:
    validate.image_shape("images", images)
    if np.shape(labels) != (np.shape(images)[0],):
        validate.fail("labels.shape", tuple(np.shape(labels)),
              f"must be ({np.shape(images)[0]},), one label per image")


def train_test_split(images, labels, *, test_fraction: float = 0.2, seed: int = 0,
                     stratify: bool = True):
    """Deterministic split -> ``((x_train, y_train), (x_test, y_test))``.

    With ``stratify`` each class contributes ``round(test_fraction * count)``
    examples to the test set, so class proportions are kept.
    """
    _check_pair(images, labels)
    test_fraction = validate.number("test_fraction", test_fraction)
    if not 0.0 < test_fraction < 1.0:
        validate.fail("test_fraction", test_fraction, "must be in (0, 1)")
    seed = validate.non_negative("seed", seed, integer=True)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)] if stratify \
        else [np.arange(len(labels))]
    test_idx = np.concatenate([rng.permutation(g)[:int(round(test_fraction * len(g)))]
                               for g in groups])
    is_test = np.zeros(len(labels), bool)
    is_test[test_idx] = True
    n_test = int(is_test.sum())
    if n_test == 0 or n_test == len(labels):
        validate.fail("test_fraction", test_fraction, f"leaves an empty {'test' if n_test == 0 else 'train'}"
              f" set for {len(labels)} examples")
    train, test = rng.permutation(np.flatnonzero(~is_test)), rng.permutation(test_idx)
    return (images[train], labels[train]), (images[test], labels[test])


def num_batches(n: int, batch_size: int, drop_remainder: bool = True) -> int:
    """Number of batches per epoch over ``n`` examples."""
    n = validate.non_negative("n", n, integer=True)
    batch_size = validate.positive("batch_size", batch_size, integer=True)
    return n // batch_size if drop_remainder else -(-n // batch_size)


def batches(key, images, labels, batch_size: int, *, drop_remainder: bool = True,
            shuffle: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of ``(x: [batch_size, ...], y: [batch_size])`` NumPy batches.

    The order is ``jax.random.permutation(key, n)``, so the same key gives the
    same epoch; split a fresh key per epoch.  Without ``drop_remainder`` the
    last batch may be smaller.
    """
    n = len(images)
    if len(labels) != n:
        validate.fail("labels.shape", tuple(np.shape(labels)), f"must be ({n},), one label per image")
    count = num_batches(n, batch_size, drop_remainder)
    if count == 0:
        validate.fail("batch_size", batch_size, f"must be <= the number of examples ({n}) "
              "when drop_remainder=True")
    order = np.asarray(jax.random.permutation(key, n)) if shuffle else np.arange(n)
    for b in range(count):
        idx = order[b * batch_size:(b + 1) * batch_size]
        yield images[idx], labels[idx]


def channel_stats(images):
    """images ``[n, h, w, c]`` -> per-channel ``(mean f32[c], std f32[c])`` (population std)."""
    validate.image_shape("images", images)
    x = np.asarray(images, np.float64)
    return x.mean(axis=(0, 1, 2)).astype(np.float32), x.std(axis=(0, 1, 2)).astype(np.float32)


def normalize(images, mean, std):
    """``(images - mean) / std`` per channel; NumPy in -> NumPy out, jnp in -> jnp out."""
    if isinstance(std, (np.ndarray, list, tuple, float, int)) and np.any(np.asarray(std) <= 0):
        validate.fail("std", np.asarray(std).tolist(), "must be > 0 in every channel")
    return (images - mean) / std


def flatten(images):
    """images ``[n, h, w, c]`` -> ``f32[n, h * w * c]`` (the paper's 4096-vectors)."""
    return images.reshape(images.shape[0], -1).astype(np.float32)


def load_split(dataset: str = "digits", *, size: int | None = 16, limit: int | None = None,
               test_limit: int | None = None, test_fraction: float = 0.2, seed: int = 0,
               data_dir=None):
    """A multi-class dataset as ``((x_train, y_train), (x_test, y_test))``, images ``f32[n, h, w, c]``.

    ``digits`` (bundled with scikit-learn, 8x8) is split with a stratified
    ``test_fraction``; the TFDS datasets use their own train/test splits and
    must be prepared beforehand (``load_tfds`` explains how when they are
    not).  ``size`` resizes to ``size × size`` (None keeps the native size);
    ``limit`` / ``test_limit`` keep the first examples of each split.
    """
    validate.choice("dataset", dataset, MULTICLASS)
    if size is not None:
        size = validate.positive("size", size, integer=True)
    if dataset == "digits":
        x, y = load_digits(size=size)
        train, test = train_test_split(x, y, test_fraction=test_fraction, seed=seed)
        cut = lambda s, k: s if k is None else (s[0][:k], s[1][:k])  # noqa: E731
        return cut(train, limit), cut(test, test_limit)

    def split_of(split, k):
        x, y = load(dataset, split=split, limit=k, data_dir=data_dir)
        if size is not None and x.shape[1:3] != (size, size):
            x = resize(x, (size, size))
        return x, y

    return split_of("train", limit), split_of("test", test_limit)
