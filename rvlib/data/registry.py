"""Datasets by name: ``load("digits")``, ``load("depth")``, ``load("mnist", split="test")``, ..."""
from __future__ import annotations

from rvlib import validate
from rvlib.data.digits import load_digits
from rvlib.data.folders import load_image_folder
from rvlib.data.scenes import depth_scenes
from rvlib.data.tfds import TFDS_NAMES, load_tfds


def _depth(n: int = 1000, *, kind: str = "both", **kwargs):
    return depth_scenes(n, kind=kind, **kwargs)


def _folder(path=None, **kwargs):
    if path is None:
        validate.fail("path", None, "load('folder', path=...) needs the image folder")
    return load_image_folder(path, **kwargs)


def _tfds_loader(name: str):
    def loader(split: str = "train", **kwargs):
        return load_tfds(name, split, **kwargs)
    loader.__doc__ = f"{name} via load_tfds({name!r}, split, data_dir=, limit=)."
    return loader


DATASETS = {
    "depth": _depth,
    "digits": load_digits,
    **{name: _tfds_loader(name) for name in TFDS_NAMES},
    "folder": _folder,
}


def load(name: str, **kwargs):
    """Load a dataset by name from :data:`DATASETS`; ``kwargs`` go to its loader."""
    validate.choice("name", name, DATASETS)
    return DATASETS[name](**kwargs)
