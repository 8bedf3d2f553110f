"""Prepared tensorflow-datasets image datasets as arrays, read without TensorFlow.

Nothing is downloaded: ``tfds.data_source(..., download=False)`` reads data
prepared beforehand (array_record format); a clear error says how to prepare it.
"""
from __future__ import annotations

import importlib.util

import numpy as np

from rvlib import validate

TFDS_NAMES = ("mnist", "fashion_mnist", "cifar10")


def _not_prepared(name: str, split: str, data_dir, err: Exception) -> None:
    where = data_dir if data_dir is not None else "the default TFDS data_dir (~/tensorflow_datasets)"
    validate.fail("name", name,
                  f"the TFDS dataset (split={split!r}) is not prepared in {where} (or only in the "
                  f"tfrecord format, which needs use_tf=True), and nothing is downloaded at run "
                  f"time. Prepare it once, with network access, in the array_record format that "
                  f"random access needs: python -c \"import tensorflow_datasets as tfds; "
                  f"tfds.data_source({name!r}, data_dir={data_dir!r}, download=True)\" (or `tfds "
                  f"build {name} --file_format=array_record`; some datasets need TensorFlow to "
                  f"build). TFDS said: {type(err).__name__}: {err}")


def load_tfds(name: str, split: str = "train", *, data_dir=None, limit=None,
              use_tf: bool = False):
    """A prepared TFDS image dataset as arrays, read with ``tfds.data_source`` (no TensorFlow).

    ``download=False``: the data must already be in ``data_dir`` (array_record
    format); otherwise a ValueError explains how to prepare it.  ``use_tf=True``
    reads with ``tfds.load`` instead (needs the ``tensorflow`` extra), for data
    prepared in the default tfrecord format.  ``limit`` keeps the first examples.
    Returns images ``f32[n, h, w, c]`` (uint8 / 255) and labels ``i32[n]``.
    """
    validate.choice("name", name, TFDS_NAMES)
    limit = None if limit is None else validate.positive("limit", limit, integer=True)
    if use_tf:
        return _load_tfds_tf(name, split, data_dir, limit)
    import tensorflow_datasets as tfds

    try:
        source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    # tfds 4.9 raises KeyError ('splits is empty') for a dataset never generated in data_dir
    except (NotImplementedError, FileNotFoundError, AssertionError, ValueError, KeyError) as err:
        _not_prepared(name, split, data_dir, err)
    n = len(source) if limit is None else min(limit, len(source))
    examples = _read_source(source, n)
    images = np.stack([ex["image"] for ex in examples]).astype(np.float32) / 255.0
    labels = np.array([ex["label"] for ex in examples], np.int32)
    return images, labels


def _read_source(source, n: int, chunk: int = 1024) -> list:
    """The first ``n`` records, fetched in batches where the source supports it."""
    getitems = getattr(source, "__getitems__", None)
    out = []
    for start in range(0, n, chunk):
        keys = list(range(start, min(start + chunk, n)))
        try:
            out.extend(getitems(keys) if getitems is not None else [source[i] for i in keys])
        except TypeError:
            # tfds.testing.mock_data patches __getitems__ with a broken signature;
            # per-record reads give the same records, only slower.
            getitems = None
            out.extend(source[i] for i in keys)
    return out


def _load_tfds_tf(name: str, split: str, data_dir, limit):
    if importlib.util.find_spec("tensorflow") is None:
        validate.fail("use_tf", True, "TensorFlow is not installed; install this repository's "
                      "`tensorflow` extra (from the repository root: pip install -e "
                      "\".[tensorflow]\"; or pip install \"rvlib[tensorflow] @ "
                      "git+https://github.com/rvlib/rvlib\"; the PyPI package named rvlib is "
                      "unrelated) or use use_tf=False (tfds.data_source)")
    import tensorflow_datasets as tfds

    split_spec = split if limit is None else f"{split}[:{limit}]"
    try:
        ds = tfds.load(name, split=split_spec, data_dir=data_dir, download=False,
                       as_supervised=True, batch_size=-1)
    except (FileNotFoundError, AssertionError, ValueError) as err:
        _not_prepared(name, split, data_dir, err)
    images, labels = tfds.as_numpy(ds)
    return images.astype(np.float32) / 255.0, labels.astype(np.int32)
