"""Datasets as host NumPy arrays: ``(images: f32[n, h, w, c] in [0, 1], labels: i32[n])``.

* ``scenes``: seeded synthetic depth scenes, the stand-in for the paper's KITTI images;
* ``folders``: image folders (the real images, read as the authors did);
* ``tfds``: prepared tensorflow-datasets (MNIST, Fashion-MNIST, CIFAR-10) without TensorFlow;
* ``digits``: scikit-learn's bundled 8x8 digits, and ``resize``;
* ``registry``: ``load(name)`` over all of them;
* ``splits``: train/test splits, batches, normalisation, ``load_split`` (multi-class).

Data stays on the host; nothing here downloads anything.
"""
from rvlib.data.digits import load_digits, resize
from rvlib.data.folders import (CONVERSIONS, IMAGE_EXTENSIONS, ORDERS, class_names, evenly_spaced,
                                load_image_folder, select_evenly)
from rvlib.data.registry import DATASETS, load
from rvlib.data.scenes import DEPTH_KINDS, depth_scenes
from rvlib.data.splits import (MULTICLASS, batches, channel_stats, flatten, load_split,
                               normalize, num_batches, train_test_split)
from rvlib.data.tfds import TFDS_NAMES, load_tfds

__all__ = ["depth_scenes", "DEPTH_KINDS", "load_image_folder", "select_evenly", "class_names",
           "evenly_spaced", "CONVERSIONS", "ORDERS",
           "IMAGE_EXTENSIONS", "load_tfds", "TFDS_NAMES", "load_digits", "resize", "load",
           "DATASETS", "train_test_split", "num_batches", "batches", "channel_stats",
           "normalize", "flatten", "load_split", "MULTICLASS"]
