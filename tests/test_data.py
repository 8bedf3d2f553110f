"""Tests for rvlib.data: every loader on data made here (nothing is downloaded)."""
from __future__ import annotations

import glob
import importlib.util
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from rvlib import data


def _check_arrays(images, labels, n, hwc):
    assert images.shape == (n, *hwc) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int32
    assert isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)
    assert images.min() >= 0.0 and images.max() <= 1.0


# --------------------------------------------------------------------------- depth scenes

@pytest.mark.parametrize("kind,label", [("road", 1), ("nonroad", 0)])
def test_depth_scenes_shapes_and_labels(kind, label):
    x, y = data.depth_scenes(20, seed=1, size=32, kind=kind)
    _check_arrays(x, y, 20, (32, 32, 1))
    assert np.all(y == label)


def test_depth_scenes_both_is_balanced_and_shuffled():
    x, y = data.depth_scenes(101, seed=3, kind="both")
    _check_arrays(x, y, 101, (64, 64, 1))
    assert set(np.unique(y)) == {0, 1} and abs(int(y.sum()) - 50) <= 1
    assert not np.all(np.diff(y) <= 0)  # not "all roads first"


def test_depth_scenes_deterministic_and_seeded():
    a = data.depth_scenes(8, seed=5, kind="both")
    b = data.depth_scenes(8, seed=5, kind="both")
    c = data.depth_scenes(8, seed=6, kind="both")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert np.abs(a[0] - c[0]).mean() > 0.01


def test_depth_scenes_paper_protocol_statistics():
    x, _ = data.depth_scenes(50, seed=42)
    flat = data.flatten(x)
    assert flat.shape == (50, 4096)
    assert 0.25 < flat.mean() < 0.5
    sq = (flat.astype(np.float64) ** 2).sum(axis=1)
    # Large ||x||^2 is what makes the delta rule with eta=0.01 unstable (eta*||x||^2 > 2).
    assert 200 < sq.min() and sq.max() < 2500
    assert np.all(0.01 * sq > 2)


def test_depth_scenes_road_and_nonroad_differ_in_structure():
    road, _ = data.depth_scenes(200, seed=0, kind="road")
    other, _ = data.depth_scenes(200, seed=0, kind="nonroad")
    road, other = road[..., 0], other[..., 0]
    # Walls fill the band just above/below the horizon; the sky stays the same.
    band = np.s_[:, 16:40, 16:48]
    assert other[band].mean() > road[band].mean() + 0.04
    assert abs(other[:, :10].mean() - road[:, :10].mean()) < 0.02

    # Road trapezoid: bottom centre brighter than bottom sides, more than without it.
    def contrast(x):
        sides = np.concatenate([x[:, 48:, :8], x[:, 48:, -8:]], axis=2)
        return x[:, 48:, 24:40].mean() - sides.mean()
    assert contrast(road) > contrast(other) + 0.015


def test_depth_scenes_linearly_separable_but_not_trivially():
    x, y = data.depth_scenes(600, seed=7, kind="both")
    f = data.flatten(x)
    (xtr, ytr), (xte, yte) = data.train_test_split(f[:, None, None, :], y, seed=0)
    xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    # Ridge least-squares on +-1 targets (a plain linear classifier), solved in the
    # dual: w = A^T (A A^T + lam I)^-1 t is an n x n solve instead of 4097 x 4097.
    a = np.c_[xtr, np.ones(len(xtr))].astype(np.float64)
    w = a.T @ np.linalg.solve(a @ a.T + 10.0 * np.eye(len(a)), 2.0 * ytr - 1)
    acc = np.mean((np.c_[xte, np.ones(len(xte))] @ w > 0) == (yte == 1))
    assert 0.7 < acc < 1.0


def test_depth_scenes_fast():
    data.depth_scenes(16)
    best = min(_timed(lambda: data.depth_scenes(2000, kind="both")) for _ in range(2))
    assert best < 1.5  # ~0.3 s on a quiet 2-core machine; generous for shared CI


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


@pytest.mark.parametrize("kwargs,match", [
    ({"kind": "city"}, r"kind='city' is not allowed: must be one of 'road', 'nonroad', 'both'"),
    ({"n": 0}, r"n=0 is not allowed: must be > 0"),
    ({"size": 4}, r"size=4 is not allowed: must be >= 8"),
])
def test_depth_scenes_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.depth_scenes(**{"n": 4, **kwargs})


# --------------------------------------------------------------------------- image folders

def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def class_folder(tmp_path):
    """cats/ (2 PNG) and dogs/ (1 JPEG, 1 BMP), 10x12 RGB, constant colours."""
    root = tmp_path / "pets"
    colours = {"cats/a.png": (255, 0, 0), "cats/b.png": (0, 255, 0),
               "dogs/c.jpg": (0, 0, 255), "dogs/d.bmp": (255, 255, 255)}
    for name, rgb in colours.items():
        _save(root / name, np.full((10, 12, 3), rgb, np.uint8))
    (root / "dogs" / "notes.txt").write_text("not an image")
    return root


def test_folder_per_class_rgb(class_folder):
    x, y = data.load_image_folder(class_folder, size=None, grayscale=False)
    _check_arrays(x, y, 4, (10, 12, 3))
    np.testing.assert_array_equal(y, [0, 0, 1, 1])
    np.testing.assert_allclose(x[0].mean(axis=(0, 1)), [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(x[1].mean(axis=(0, 1)), [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(x[2].mean(axis=(0, 1)), [0, 0, 1], atol=0.03)  # JPEG is lossy
    np.testing.assert_allclose(x[3], 1.0)
    assert data.class_names(class_folder) == ["cats", "dogs"]


def test_folder_grayscale_resize_and_limit(class_folder):
    x, y = data.load_image_folder(class_folder, size=(6, 5), limit=1)
    _check_arrays(x, y, 2, (6, 5, 1))
    np.testing.assert_array_equal(y, [0, 1])
    # Pillow's "L" is 0.299 R + 0.587 G + 0.114 B; a constant image stays constant.
    np.testing.assert_allclose(x[0], 0.299, atol=2 / 255)


def test_flat_folder_sorted_and_resized(tmp_path):
    for i, name in enumerate(["c.png", "a.jpeg", "b.png"]):
        _save(tmp_path / name, np.full((8 + 4 * i, 8), 40 * (i + 1), np.uint8))
    x, y = data.load_image_folder(tmp_path, size=4)
    _check_arrays(x, y, 3, (4, 4, 1))
    assert np.all(y == 0)
    # Sorted by name: a.jpeg (80), b.png (120), c.png (40).
    np.testing.assert_allclose(x[:, 0, 0, 0], np.array([80, 120, 40]) / 255, atol=2 / 255)
    assert data.class_names(tmp_path) == [tmp_path.name]


def test_bilinear_resize_matches_pillow(tmp_path):
    ramp = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
    _save(tmp_path / "ramp.png", ramp)
    x, _ = data.load_image_folder(tmp_path, size=(8, 8))
    ref = np.asarray(Image.fromarray(ramp).resize((8, 8), Image.BILINEAR), np.float32) / 255
    np.testing.assert_allclose(x[0, ..., 0], ref)
    assert np.all(np.diff(x[0, 0, :, 0]) > 0)


def test_16bit_png_keeps_range(tmp_path):
    depth = np.array([[0, 65535], [32768, 65535]], np.uint16)
    Image.fromarray(depth).save(tmp_path / "d.png")
    x, _ = data.load_image_folder(tmp_path, size=None)
    np.testing.assert_allclose(x[0, ..., 0], depth / 65535.0, atol=1e-6)


# Pillow's convert("L") on 16-bit grayscale clips instead of rescaling (measured, Pillow 13).
DEPTH16 = np.array([[0, 1, 100, 255], [256, 1000, 30000, 65535]], np.uint16)


def test_16bit_png_authors_conversion_saturates(tmp_path):
    Image.fromarray(DEPTH16).save(tmp_path / "d.png")
    with Image.open(tmp_path / "d.png") as im:
        assert im.mode in ("I;16", "I")                 # a 16-bit depth PNG as Pillow opens it
    x, _ = data.load_image_folder(tmp_path, size=None, convert="authors")
    # every value above 255 reads as white: 256, 1000, 30000 and 65535 all become 1.0
    np.testing.assert_array_equal(x[0, ..., 0], np.minimum(DEPTH16, 255) / np.float32(255))
    native, _ = data.load_image_folder(tmp_path, size=None)     # default keeps the range
    np.testing.assert_allclose(native[0, ..., 0], DEPTH16 / 65535.0, atol=1e-6)


def test_authors_conversion_is_their_pillow_calls(tmp_path):
    """``Image.open(f).convert("L")``, ``.resize((64, 64))`` (Pillow's default), ``/ 255.0``."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (90, 70), dtype=np.uint8)
    _save(tmp_path / "a_rgb.png", rgb)
    _save(tmp_path / "b_gray.png", gray)
    Image.fromarray(DEPTH16 * 16).resize((30, 20)).save(tmp_path / "c_depth16.png")
    x, y = data.load_image_folder(tmp_path, size=64, convert="authors")
    _check_arrays(x, y, 3, (64, 64, 1))
    for k, name in enumerate(["a_rgb.png", "b_gray.png", "c_depth16.png"]):
        img = Image.open(tmp_path / name).convert("L")
        img = img.resize((64, 64))
        want = np.array(img) / 255.0
        np.testing.assert_array_equal(x[k, ..., 0], want.astype(np.float32))
    bilinear = data.load_image_folder(tmp_path, size=64)[0]              # the default differs
    assert np.abs(x[:2] - bilinear[:2]).max() > 0.01                     # (bicubic vs bilinear)


def _nested_pngs(root):
    """PNGs at three depths plus files the authors' glob skips (.jpg, hidden)."""
    names = ["z.png", "a/y.png", "a/b/x.png", "m/w.png", "m/v.png", "a/skip.jpg", ".hidden.png"]
    for k, name in enumerate(names):
        _save(root / name, np.full((4, 4), 10 * k, np.uint8))
    return names


def test_glob_order_is_the_authors_file_list(tmp_path):
    _nested_pngs(tmp_path)
    listing = glob.glob(f"{tmp_path}/**/*.png", recursive=True)    # the authors' call
    assert len(listing) == 5
    x, y = data.load_image_folder(tmp_path, size=None, convert="authors", order="glob")
    want = [np.array(Image.open(f).convert("L")) / 255.0 for f in listing]
    np.testing.assert_array_equal(x[..., 0], np.array(want, np.float32))
    assert np.all(y == 0)
    again, _ = data.load_image_folder(tmp_path, size=None, convert="authors", order="glob")
    np.testing.assert_array_equal(again, x)                       # stable on one machine
    # evenly=n is the authors' linspace(0, N - 1, n, dtype=int) pick from that list
    picked, _ = data.load_image_folder(tmp_path, size=None, convert="authors", order="glob",
                                       evenly=3)
    idx = np.linspace(0, len(listing) - 1, 3, dtype=int)
    np.testing.assert_array_equal(picked, x[idx])


def test_evenly_per_class_in_sorted_order(tmp_path):
    for k in range(5):
        _save(tmp_path / "c0" / f"{k}.png", np.full((2, 2), k, np.uint8))
        _save(tmp_path / "c1" / f"{k}.png", np.full((2, 2), 100 + k, np.uint8))
    x, y = data.load_image_folder(tmp_path, size=None, evenly=3)
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(x[:, 0, 0, 0] * 255, [0, 2, 4, 100, 102, 104], atol=1e-4)


@pytest.mark.parametrize("kwargs,match", [
    ({"convert": "L"}, r"convert='L' is not allowed: must be one of 'bitdepth', 'authors'"),
    ({"order": "random"}, r"order='random' is not allowed: must be one of 'sorted', 'glob'"),
    ({"convert": "authors", "grayscale": False},
     r"grayscale=False is not allowed: convert='authors' is grayscale only"),
    ({"evenly": 2, "limit": 1}, r"evenly=2 is not allowed: pass either limit= or evenly="),
    ({"evenly": 9}, r"evenly=9 is not allowed: must be <= the number of images \(1\)"),
    ({"grayscale": "no"}, r"grayscale='no' is not allowed: must be True or False"),
])
def test_conversion_and_order_errors(tmp_path, kwargs, match):
    _save(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=match):
        data.load_image_folder(tmp_path, **kwargs)


def test_glob_order_needs_png(tmp_path):
    _save(tmp_path / "a.jpg", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"has no \*\.png file at any depth"):
        data.load_image_folder(tmp_path, order="glob")


def test_mixed_sizes_need_size(tmp_path):
    _save(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    _save(tmp_path / "b.png", np.zeros((9, 7), np.uint8))
    with pytest.raises(ValueError, match=r"size=None is not allowed: images have different "
                       r"shapes: \(8, 8\) in 'a.png' and \(9, 7\) in 'b.png'"):
        data.load_image_folder(tmp_path, size=None)
    assert data.load_image_folder(tmp_path, size=(8, 8))[0].shape == (2, 8, 8, 1)


def test_folder_errors(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match=r"path='.*nope' is not allowed: folder does not exist"):
        data.load_image_folder(missing)
    with pytest.raises(ValueError, match=r"path='.*nope' is not allowed: folder does not exist"):
        data.class_names(missing)
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"is not allowed: folder has no images \(.png"):
        data.load_image_folder(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"file='.*broken.png' is not allowed: not a readable image"):
        data.load_image_folder(tmp_path)


def test_folder_layout_errors(tmp_path):
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match=r"class folder 'empty_class' has no images"):
        data.load_image_folder(tmp_path)
    _save(tmp_path / "empty_class" / "a.png", np.zeros((4, 4), np.uint8))
    _save(tmp_path / "loose.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"mixes image files \('loose.png', \.\.\.\) with class"):
        data.load_image_folder(tmp_path)
    with pytest.raises(ValueError, match=r"size\[1\]=0 is not allowed: must be > 0"):
        data.load_image_folder(tmp_path / "empty_class", size=(4, 0))
    with pytest.raises(ValueError, match=r"limit=0 is not allowed: must be > 0"):
        data.load_image_folder(tmp_path / "empty_class", limit=0)


def test_select_evenly():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.arange(10, dtype=np.int32)
    xs, ys = data.select_evenly(x, y, 4)
    # linspace(0, 9, 4) = 0, 3, 6, 9
    np.testing.assert_array_equal(ys, [0, 3, 6, 9])
    np.testing.assert_array_equal(xs[:, 0, 0, 0], [0, 3, 6, 9])
    # linspace(0, 9, 7) = 0, 1.5, 3, 4.5, 6, 7.5, 9, rounded down like the authors' dtype=int
    np.testing.assert_array_equal(data.select_evenly(x, y, 7)[1], [0, 1, 3, 4, 6, 7, 9])
    np.testing.assert_array_equal(data.select_evenly(x, y, 10)[1], y)
    with pytest.raises(ValueError, match=r"n=11 is not allowed: must be <= the number of images \(10\)"):
        data.select_evenly(x, y, 11)


# --------------------------------------------------------------------------- TFDS

@pytest.fixture
def no_network(monkeypatch):
    """Any socket connection fails, so a test cannot download by accident."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name,hwc", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_load_tfds_with_mock_data(no_network, name, hwc):
    tfds = pytest.importorskip("tensorflow_datasets")
    # USE_CODE: metadata from the builder class, no files, no TensorFlow needed.
    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        x, y = data.load_tfds(name, "train")
        source = tfds.data_source(name, split="train", download=False)
        ref = np.stack([source[i]["image"] for i in range(6)])
        labels = [int(source[i]["label"]) for i in range(6)]
        x3, _ = data.load_tfds(name, "test", limit=3)
    _check_arrays(x, y, 6, hwc)
    np.testing.assert_allclose(x, ref.astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels)
    assert x3.shape == (3, *hwc)


def test_load_tfds_unknown_name():
    with pytest.raises(ValueError, match=r"name='imagenet' is not allowed: must be one of "
                       r"'mnist', 'fashion_mnist', 'cifar10'"):
        data.load_tfds("imagenet")


def test_load_tfds_missing_data_explains(no_network, tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(ValueError, match=r"name='mnist' is not allowed: the TFDS dataset .* is "
                       r"not prepared .* nothing is downloaded at run time.*download=True"):
        data.load_tfds("mnist", data_dir=str(tmp_path))


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None,
                    reason="TensorFlow is installed")
def test_load_tfds_use_tf_needs_tensorflow():
    with pytest.raises(ValueError, match=r"use_tf=True is not allowed: TensorFlow is not "
                       r"installed; install this repository's `tensorflow` extra \(from the "
                       r"repository root: pip install -e \"\.\[tensorflow\]\"") as err:
        data.load_tfds("mnist", use_tf=True)
    assert "pip install 'rvlib[tensorflow]'" not in str(err.value)    # PyPI's rvlib is unrelated


# --------------------------------------------------------------------------- digits, registry

def test_load_digits():
    x, y = data.load_digits()
    _check_arrays(x, y, 1797, (8, 8, 1))
    assert x.max() == 1.0 and set(np.unique(y)) == set(range(10))
    from sklearn.datasets import load_digits
    np.testing.assert_allclose(x[5, ..., 0], load_digits().images[5] / 16.0)


def _bilinear_matrix(n_in, n_out):
    """Rows = output pixels; half-pixel centres, edges clamped (as jax.image.resize upsamples)."""
    src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(int)
    hi, t = np.minimum(lo + 1, n_in - 1), src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1 - t)
    np.add.at(m, (np.arange(n_out), hi), t)
    return m


def test_load_digits_resized():
    x8, _ = data.load_digits()
    x, y = data.load_digits(size=(28, 28))
    _check_arrays(x, y, 1797, (28, 28, 1))
    assert data.load_digits(size=16)[0].shape == (1797, 16, 16, 1)
    m = _bilinear_matrix(8, 28)
    ref = np.einsum("ij,njk,lk->nil", m, x8[..., 0], m)
    np.testing.assert_allclose(x[..., 0], ref, atol=1e-5)


def test_load_registry(tmp_path):
    assert set(data.DATASETS) == {"depth", "digits", "mnist", "fashion_mnist", "cifar10",
                                  "folder"}
    x, y = data.load("depth", n=10, seed=1)
    _check_arrays(x, y, 10, (64, 64, 1))
    assert set(np.unique(y)) == {0, 1}  # kind="both" by default
    np.testing.assert_array_equal(x, data.depth_scenes(10, seed=1, kind="both")[0])
    assert data.load("digits")[0].shape == (1797, 8, 8, 1)
    _save(tmp_path / "a.png", np.zeros((5, 5), np.uint8))
    assert data.load("folder", path=tmp_path, size=None)[0].shape == (1, 5, 5, 1)
    with pytest.raises(ValueError, match=r"path=None is not allowed: load\('folder', path=\.\.\.\)"):
        data.load("folder")
    with pytest.raises(ValueError, match=r"name='kitti' is not allowed: must be one of 'depth', "
                       r"'digits', 'mnist', 'fashion_mnist', 'cifar10', 'folder'"):
        data.load("kitti")


def test_load_registry_tfds(no_network):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE):
        x, y = data.load("fashion_mnist", split="test", limit=2)
    _check_arrays(x, y, 2, (28, 28, 1))


# --------------------------------------------------------------------------- split, batches

def _toy(n=100, classes=(0, 1), weights=(0.7, 0.3)):
    counts = [int(round(w * n)) for w in weights]
    y = np.repeat(np.array(classes, np.int32), counts)
    x = np.arange(len(y), dtype=np.float32).reshape(-1, 1, 1, 1)  # x encodes the index
    return x, y


def test_split_sizes_stratified_and_disjoint():
    x, y = _toy()
    (xtr, ytr), (xte, yte) = data.train_test_split(x, y, test_fraction=0.2, seed=3)
    assert len(xte) == 20 and len(xtr) == 80
    assert np.sum(yte == 0) == 14 and np.sum(yte == 1) == 6  # 20% of 70 and of 30
    idx = np.concatenate([xtr, xte]).ravel().astype(int)
    assert sorted(idx) == list(range(100))  # disjoint and complete
    np.testing.assert_array_equal(y[xtr.ravel().astype(int)], ytr)  # pairs stay aligned


def test_split_deterministic_and_seeded():
    x, y = _toy()
    a = data.train_test_split(x, y, seed=1)
    b = data.train_test_split(x, y, seed=1)
    c = data.train_test_split(x, y, seed=2)
    np.testing.assert_array_equal(a[1][0], b[1][0])
    assert not np.array_equal(a[1][0], c[1][0])
    (_, _), (xte, _) = data.train_test_split(x, y, test_fraction=0.5, stratify=False)
    assert len(xte) == 50


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.1, 1.5])
def test_split_bad_fraction(frac):
    x, y = _toy()
    with pytest.raises(ValueError, match=rf"test_fraction={frac} is not allowed: must be in \(0, 1\)"):
        data.train_test_split(x, y, test_fraction=frac)


def test_split_label_mismatch():
    x, y = _toy()
    with pytest.raises(ValueError, match=r"labels.shape=\(99,\) is not allowed: must be \(100,\)"):
        data.train_test_split(x, y[:-1])


def test_batches_cover_each_index_once_and_are_key_deterministic():
    x, y = _toy(n=24, weights=(0.5, 0.5))
    key = jax.random.key(0)
    got = list(data.batches(key, x, y, 5))
    assert len(got) == data.num_batches(24, 5) == 4 and all(b[0].shape[0] == 5 for b in got)
    seen = np.concatenate([b[0].ravel() for b in got]).astype(int)
    assert len(set(seen)) == 20  # no repeats; 4 dropped
    for bx, by in got:
        np.testing.assert_array_equal(y[bx.ravel().astype(int)], by)

    full = list(data.batches(key, x, y, 5, drop_remainder=False))
    assert [len(b[1]) for b in full] == [5, 5, 5, 5, 4] and data.num_batches(24, 5, False) == 5
    order = np.concatenate([b[0].ravel() for b in full]).astype(int)
    assert sorted(order) == list(range(24))
    np.testing.assert_array_equal(order, np.asarray(jax.random.permutation(key, 24)))

    again = np.concatenate([b[0].ravel() for b in data.batches(key, x, y, 5)])
    other = np.concatenate([b[0].ravel() for b in data.batches(jax.random.key(1), x, y, 5)])
    np.testing.assert_array_equal(again, seen)
    assert not np.array_equal(other, again)
    plain = np.concatenate([b[0].ravel() for b in data.batches(key, x, y, 5, shuffle=False)])
    np.testing.assert_array_equal(plain, np.arange(20))


def test_batches_errors():
    x, y = _toy(n=10, weights=(0.5, 0.5))
    with pytest.raises(ValueError, match=r"batch_size=0 is not allowed: must be > 0"):
        next(data.batches(jax.random.key(0), x, y, 0))
    with pytest.raises(ValueError, match=r"batch_size=11 is not allowed: must be <= the number "
                       r"of examples \(10\)"):
        next(data.batches(jax.random.key(0), x, y, 11))


# --------------------------------------------------------------------------- normalisation

def test_channel_stats_and_normalize():
    x = np.zeros((2, 1, 2, 2), np.float32)
    x[..., 0] = [[[1, 3]], [[5, 7]]]  # mean 4, population std sqrt(5)
    x[..., 1] = 0.5
    x[0, 0, 0, 1] = 1.0  # channel 1: [1, .5, .5, .5] -> mean .625, std sqrt(3)/8
    mean, std = data.channel_stats(x)
    assert mean.dtype == np.float32 and std.shape == (2,)
    np.testing.assert_allclose(mean, [4.0, 0.625], rtol=1e-6)
    np.testing.assert_allclose(std, [np.sqrt(5.0), np.sqrt(3.0) / 8], rtol=1e-6)
    z = data.normalize(x, mean, std)
    np.testing.assert_allclose(z.mean(axis=(0, 1, 2)), 0.0, atol=1e-6)
    np.testing.assert_allclose(z.std(axis=(0, 1, 2)), 1.0, rtol=1e-5)
    zj = data.normalize(jnp.asarray(x), mean, std)
    assert isinstance(zj, jax.Array)
    np.testing.assert_allclose(np.asarray(zj), z, rtol=1e-6)
    with pytest.raises(ValueError, match=r"std=\[1.0, 0.0\] is not allowed: must be > 0"):
        data.normalize(x, mean, np.array([1.0, 0.0]))


def test_flatten():
    x = np.arange(24, dtype=np.float64).reshape(2, 2, 3, 2)
    f = data.flatten(x)
    assert f.shape == (2, 12) and f.dtype == np.float32
    np.testing.assert_array_equal(f[1], np.arange(12, 24))


def test_load_split_errors(tmp_path):
    with pytest.raises(ValueError, match="dataset='svhn' is not allowed"):
        data.load_split("svhn")
    with pytest.raises(ValueError, match="not prepared"):
        data.load_split("mnist", limit=10, data_dir=tmp_path)


def test_load_split_turns_tfds_keyerror_into_clear_error(monkeypatch):
    import tensorflow_datasets as tfds

    def ungenerated(*args, **kwargs):   # what tfds 4.9 raises for a never-generated dataset
        raise KeyError("Trying to access `splits['train']` but `splits` is empty.")
    monkeypatch.setattr(tfds, "data_source", ungenerated)
    with pytest.raises(ValueError, match="name='cifar10' is not allowed: the TFDS dataset .* not prepared"):
        data.load_split("cifar10")
