"""Datasets as host NumPy arrays: synthetic depth scenes, image folders, TFDS, digits.

Every loader returns ``(images, labels)`` with ``images: f32[n, h, w, c]`` in
[0, 1] and ``labels: i32[n]``.  Data stays on the host; callers move batches to
the device (``jnp.asarray``) when they need them.  Nothing here downloads data:
TFDS datasets must be prepared beforehand (see :func:`load_tfds`).

The paper's images (KITTI LiDAR 2-D depth images, 64x64 grayscale) are not
redistributable, so :func:`depth_scenes` draws seeded road scenes with the
same geometry; :func:`load_image_folder` with ``convert="authors"``,
``order="glob"`` and ``evenly=50`` reads the real ones the way the authors'
script did (docs/protocol.md).
"""
from __future__ import annotations

import glob
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import jax
import numpy as np

from rvlib import validate

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
TFDS_NAMES = ("mnist", "fashion_mnist", "cifar10")
DEPTH_KINDS = ("road", "nonroad", "both")
# How a file's pixels become [0, 1] (name -> what it does).
CONVERSIONS = {
    "bitdepth": "divide by the file's full scale: 8-bit / 255, 16-bit / 65535 (keeps 16-bit "
                "depth maps' range), bilinear resize",
    "authors": "the authors' script: Pillow convert('L'), resize with Pillow's default filter "
               "(bicubic), / 255; 16-bit values above 255 saturate to 1.0",
}
# Which files, in which order (name -> what it does).
ORDERS = {
    "sorted": "image files (png, jpg, jpeg, bmp) sorted by name; class subfolders give labels",
    "glob": "the authors' list: glob('**/*.png', recursive=True) in file-system order (not "
            "sorted, machine dependent), every file label 0",
}


def _check_pair(images, labels) -> None:
    validate.image_shape("images", images)
    if np.shape(labels) != (np.shape(images)[0],):
        validate.fail("labels.shape", tuple(np.shape(labels)),
              f"must be ({np.shape(images)[0]},), one label per image")


def _hw(name: str, size) -> tuple[int, int] | None:
    """``None``, an int (square) or a pair ``(h, w)`` -> ``(h, w)`` of positive ints."""
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    try:
        h, w = size
    except (TypeError, ValueError):
        validate.fail(name, size, "must be None, an int or a pair (h, w)")
    return (validate.positive(f"{name}[0]", h, integer=True),
            validate.positive(f"{name}[1]", w, integer=True))


def _limit(limit) -> int | None:
    return None if limit is None else validate.positive("limit", limit, integer=True)


# --------------------------------------------------------------------------- depth scenes

def depth_scenes(n: int = 50, *, seed: int = 42, size: int = 64, kind: str = "road"):
    """Seeded synthetic stand-in for KITTI LiDAR 2-D depth images (road scenes).

    Pixel value = inverse depth (near = bright), like a LiDAR depth map: a dark
    sky above a horizon, ground brightening toward the camera, a road trapezoid
    converging to a vanishing point on the horizon, cars and poles drawn with
    the inverse depth of the ground they stand on.  Non-road scenes either have
    the road blocked by a wall at some distance or show an open field without a
    road.  A z-buffer (``prox``) decides occlusion, so draw order is irrelevant.

    kind: "road" (all label 1), "nonroad" (all label 0) or "both" (balanced,
    shuffled, 1 = road / 0 = non-road).
    Returns images ``f32[n, size, size, 1]`` in [0, 1] and labels ``i32[n]``.
    """
    n = validate.positive("n", n, integer=True)
    size = validate.number("size", size, min=8, integer=True)
    seed = validate.non_negative("seed", seed, integer=True)
    validate.choice("kind", kind, DEPTH_KINDS)
    rng = np.random.default_rng(seed)
    if kind == "both":
        labels = rng.permutation(np.arange(n) < (n + 1) // 2).astype(np.int32)
    else:
        labels = np.full(n, int(kind == "road"), np.int32)
    return _render_scenes(rng, labels, size)[..., None], labels


def _render_scenes(rng: np.random.Generator, labels, s: int):
    """labels: i32[n] (1 road, 0 non-road) -> f32[n, s, s] in [0, 1].

    Speed: most quantities depend on the row only (``[n, s, 1]``) or the
    column only (``[n, 1, s]``); full ``[n, s, s]`` arrays are formed as few
    times as possible and then updated in place.
    """
    f32 = np.float32
    n = labels.shape[0]
    coord = (np.arange(s, dtype=f32) + 0.5) / s
    R, C = coord[None, :, None], coord[None, None, :]  # row (0 = top), column

    def u(lo, hi, shape=()):  # per-image (or per-slot) parameters broadcast over pixels
        return rng.uniform(lo, hi, (n, *shape)).astype(f32).reshape(n, *shape, 1, 1)

    road = (labels == 1)[:, None, None]
    # Non-road scenes: a wall across the road, or an open field without a road.
    wall = ~road & (rng.random(n) < 0.5)[:, None, None]
    has_road = road | wall

    horizon = u(0.30, 0.50)
    below = R > horizon
    # Proximity in [0, 1]: 0 at the horizon, 1 at the bottom row.  Inverse depth of
    # flat ground is linear in it (pinhole camera), so brightness = base + gain * prox.
    prox = np.clip((R - horizon) / (1.0 - horizon), 0.0, 1.0)
    base, gain = u(0.12, 0.28), u(0.50, 0.75)

    def shade(p):
        return base + gain * p

    # Ground with a low-frequency plaid texture (grass, gravel), stronger on fields,
    # fading toward the horizon; above the horizon a dark sky.  Written as
    # row_term + row_amp * col_wave so only two full-size operations are needed.
    tex_amp = np.where(has_road, u(0.02, 0.06), u(0.05, 0.12))
    row_wave = np.sin(2 * np.pi * (u(3, 9) * R + u(0, 1)))
    col_wave = np.sin(2 * np.pi * (u(2, 6) * C + u(0, 1)))
    row_term = np.where(below, shade(prox), u(0.0, 0.06) + 0.04 * R)
    img = row_term + np.where(below, tex_amp * prox * row_wave, 0.0) * col_wave
    zbuf = np.broadcast_to(prox, img.shape).copy()  # proximity of the visible surface

    # Road trapezoid: its centre moves linearly from the vanishing point (on the
    # horizon) to the bottom row, its half-width grows linearly with proximity.
    vx, half_width = u(0.35, 0.65), u(0.22, 0.42)
    bottom_x = vx + u(-0.15, 0.15)
    dist = np.abs(C - _centre_at(vx, bottom_x, prox))
    dash = np.sin(2 * np.pi * 3.0 * np.log(prox + 0.05)) > 0  # dashes shrink with distance
    road_row = shade(prox) * (1.0 + u(0.06, 0.22))
    road_px = road_row + np.where(dash, 0.12 * prox, 0.0) * (dist < 0.012 + 0.02 * prox)
    np.copyto(img, road_px, where=(dist < half_width * prox) & (has_road & below))

    def draw(rows, cols, p_obj, value):
        # z-buffer: an object covers a pixel only where it is nearer than what is there.
        hit = (rows & cols) & (zbuf < p_obj)
        np.copyto(img, value, where=hit)
        np.copyto(zbuf, p_obj, where=hit)

    # Cars on the road and poles at its edges; nearer = lower in the image = brighter.
    k = 3  # object slots per image, each drawn for all images at once
    p_obj = u(0.08, 0.95, (k,))
    is_car = rng.random((n, k, 1, 1)) < 0.6
    active = rng.random((n, k, 1, 1)) < 0.75
    lateral = u(-1.0, 1.0, (k,))
    for j in range(k):
        p, car = p_obj[:, j], is_car[:, j]
        bottom = horizon + p * (1.0 - horizon)
        centre, spread = _centre_at(vx, bottom_x, p), half_width * p
        x = np.where(car, centre + 0.6 * spread * lateral[:, j],
                     centre + 1.15 * spread * np.sign(lateral[:, j]))
        width = np.where(car, 0.9 * spread + 0.03, 0.015 + 0.03 * p)
        height = np.where(car, 0.55 * width + 0.02, 0.15 + 0.5 * p)
        draw(active[:, j] & (R <= bottom) & (R > bottom - height),
             np.abs(C - x) < width / 2, p, shade(p) * 1.04 + 0.03)

    # Wall blocking the road: a near, wide, tall plane with brick-like stripes.
    p_wall = u(0.30, 0.85)
    w_bottom = horizon + p_wall * (1.0 - horizon)
    bricks = 0.03 * np.sign(np.sin(2 * np.pi * u(8, 14) * R))
    draw(wall & (R <= w_bottom) & (R > w_bottom - u(0.25, 0.55)),
         np.abs(C - _centre_at(vx, bottom_x, p_wall)) < u(0.30, 0.55),
         p_wall, shade(p_wall) * 1.05 + bricks)

    # Mild pixel noise, uniform with std 0.02 (uint8 draws: much cheaper than normals).
    noise = rng.integers(0, 256, img.shape, dtype=np.uint8)
    img += (noise.astype(f32) - 127.5) * f32(0.02 * np.sqrt(12.0) / 256.0)
    return np.clip(img, 0.0, 1.0, out=img)


def _centre_at(vx, bottom_x, p):
    """Road centre column at proximity ``p`` (linear between vanishing point and bottom)."""
    return vx + (bottom_x - vx) * p


# --------------------------------------------------------------------------- image folders

def _image_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
                  and not f.name.startswith("."))


def _glob_files(folder: Path) -> list[Path]:
    """The authors' listing: ``glob(f"{path}/**/*.png", recursive=True)``, as returned.

    Python's glob yields directory entries in the order the file system
    lists them (``os.scandir``), so this order is stable on one machine but
    not sorted and may differ on another copy of the same files.
    """
    pattern = os.path.join(glob.escape(str(folder)), "**", "*.png")
    return [Path(f) for f in glob.glob(pattern, recursive=True)]


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _existing_folder(path) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        validate.fail("path", str(path), "folder does not exist")
    return folder


def class_names(path) -> list[str]:
    """Sorted class subfolder names; a flat folder is one class named after itself."""
    folder = _existing_folder(path)
    dirs = _class_dirs(folder)
    return [d.name for d in dirs] if dirs else [folder.name]


def _read_image(file: Path, hw, grayscale: bool, convert: str = "bitdepth") -> np.ndarray:
    """One file -> f32[h, w, c] in [0, 1] (see :data:`CONVERSIONS`)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as im:
            im.load()
            if convert == "authors":
                # Their script, literally: Image.open(f).convert("L"); img.resize(resolution)
                # (Pillow's default filter); np.array(img) / 255.0 in float64.
                im = im.convert("L")
                if hw is not None:
                    im = im.resize((hw[1], hw[0]))
                return (np.asarray(im, np.float64) / 255.0).astype(np.float32)[..., None]
            if im.mode.startswith("I") or im.mode == "F":
                # 16-bit depth maps: convert("L") would saturate them at 255.
                peak = 1.0 if im.mode == "F" else 65535.0
                im = im.convert("F")
                if hw is not None:
                    im = im.resize((hw[1], hw[0]), Image.BILINEAR)
                arr = np.clip(np.asarray(im, np.float32) / peak, 0.0, 1.0)[..., None]
                return arr if grayscale else np.repeat(arr, 3, axis=-1)
            im = im.convert("L" if grayscale else "RGB")
            if hw is not None:
                im = im.resize((hw[1], hw[0]), Image.BILINEAR)
            arr = np.asarray(im, np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        validate.fail("file", str(file), f"not a readable image ({err})")
    return arr[..., None] if arr.ndim == 2 else arr


def load_image_folder(path, *, size=(64, 64), grayscale: bool = True, limit=None,
                      convert: str = "bitdepth", order: str = "sorted", evenly=None):
    """Read images from ``path``.

    ``order="sorted"`` (default): PNG/JPEG/BMP files sorted by name, in a
    folder-per-class layout (subfolders sorted by name -> labels 0..k-1) or
    a flat folder (all label 0).  ``order="glob"``: the authors' list, every
    ``*.png`` at any depth below ``path`` as ``glob("**/*.png",
    recursive=True)`` returns them: file-system order, NOT sorted (stable on
    one machine, may differ on another copy of the same files), all label 0.

    ``convert="bitdepth"`` (default) divides by the file's full scale: 8-bit
    by 255, 16-bit (Pillow modes ``I;16``/``I``) by 65535, so a 16-bit depth
    map keeps its range; bilinear resize.  ``convert="authors"`` is the
    authors' script: Pillow ``convert("L")``, resize with Pillow's default
    filter (bicubic), divide by 255, grayscale only.  On a 16-bit depth map
    ``convert("L")`` does not rescale: it clips, so every value above 255
    becomes 255 and reads as 1.0 (measured with Pillow 13: 256, 1000, 30000
    and 65535 all give 255).  A KITTI-style depth PNG (depth·256, 0 = no
    return) then turns into a near-binary mask of where the LiDAR returned.

    ``size=(h, w)`` (or an int) resizes; ``size=None`` keeps the native size,
    which must then be the same for all files.  ``limit`` caps the files
    read per class (the first ones in the listing order); ``evenly=n``
    instead reads ``n`` files per class at indices ``linspace(0, N − 1, n)``
    rounded down (the authors' pick of 50).  ``grayscale=False`` gives RGB.
    Returns images ``f32[n, h, w, 1 or 3]`` in [0, 1] and labels ``i32[n]``.
    """
    folder = _existing_folder(path)
    hw = _hw("size", size)
    limit = _limit(limit)
    validate.choice("convert", convert, CONVERSIONS)
    validate.choice("order", order, ORDERS)
    grayscale = validate.flag("grayscale", grayscale)
    if convert == "authors" and not grayscale:
        validate.fail("grayscale", grayscale, "convert='authors' is grayscale only "
                      "(Pillow convert('L')); use grayscale=True or convert='bitdepth'")
    if evenly is not None:
        evenly = validate.positive("evenly", evenly, integer=True)
        if limit is not None:
            validate.fail("evenly", evenly, "pass either limit= or evenly=, not both")
    if order == "glob":
        dirs, groups = [], [_glob_files(folder)]
        if not groups[0]:
            validate.fail("path", str(path), "has no *.png file at any depth (order='glob')")
    else:
        dirs = _class_dirs(folder)
        top_files = _image_files(folder)
        if dirs and top_files:
            validate.fail("path", str(path), f"mixes image files ({top_files[0].name!r}, ...) "
                          f"with class subfolders ({dirs[0].name!r}, ...); use one layout")
        groups = [_image_files(d) for d in dirs] if dirs else [top_files]
        for d, files in zip(dirs, groups):
            if not files:
                validate.fail("path", str(path), f"class folder {d.name!r} has no images "
                              f"({', '.join(IMAGE_EXTENSIONS)})")
        if not any(groups):
            validate.fail("path", str(path),
                          f"folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
    if evenly is not None:
        groups = [[g[i] for i in evenly_spaced(len(g), evenly, name="evenly")] for g in groups]
    files = [(f, label) for label, group in enumerate(groups) for f in group[:limit]]

    arrays = [_read_image(f, hw, grayscale, convert) for f, _ in files]
    if hw is None:
        shapes = [a.shape[:2] for a in arrays]
        odd = next((i for i, sh in enumerate(shapes) if sh != shapes[0]), None)
        if odd is not None:
            validate.fail("size", None, f"images have different shapes: {shapes[0]} in "
                  f"{files[0][0].name!r} and {shapes[odd]} in {files[odd][0].name!r}; "
                  "pass size=(h, w) to resize them")
    labels = np.array([label for _, label in files], np.int32)
    return np.stack(arrays).astype(np.float32), labels


def evenly_spaced(total: int, n: int, *, name: str = "n") -> np.ndarray:
    """The authors' pick: ``linspace(0, total − 1, n)`` rounded down -> ``int[n]``."""
    n = validate.positive(name, n, integer=True)
    if n > total:
        validate.fail(name, n, f"must be <= the number of images ({total})")
    return np.linspace(0, total - 1, n).astype(int)


def select_evenly(images, labels, n: int):
    """``n`` items evenly spaced through the set *in the order given*, as the authors'
    script picked its 50 images: indices ``linspace(0, len - 1, n)`` rounded down.

    The authors applied it to their file list in file-system order (not
    sorted): pass images read with ``load_image_folder(..., order="glob")``
    to pick the same files on the same machine, or use ``evenly=n`` there.
    images: ``[N, ...]``, labels: ``[N]`` -> ``([n, ...], [n])``.
    """
    total = len(images)
    if len(labels) != total:
        validate.fail("labels.shape", tuple(np.shape(labels)), f"must be ({total},), one label per image")
    idx = evenly_spaced(total, n)
    return images[idx], labels[idx]


# --------------------------------------------------------------------------- TFDS

def _tfds_missing_message(name: str, split: str, data_dir, err: Exception) -> str:
    where = data_dir if data_dir is not None else "the default TFDS data_dir (~/tensorflow_datasets)"
    return (f"name={name!r} is not allowed: the TFDS dataset (split={split!r}) is not prepared "
            f"in {where} (or only in the tfrecord format, which needs use_tf=True), and nothing is "
            f"downloaded at run time. Prepare it once, with network "
            f"access, in the array_record format that random access needs: "
            f"python -c \"import tensorflow_datasets as tfds; tfds.data_source({name!r}, "
            f"data_dir={data_dir!r}, download=True)\" (or `tfds build {name} "
            f"--file_format=array_record`; some datasets need TensorFlow to build). "
            f"TFDS said: {type(err).__name__}: {err}")


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
    limit = _limit(limit)
    if use_tf:
        return _load_tfds_tf(name, split, data_dir, limit)
    import tensorflow_datasets as tfds

    try:
        source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    # tfds 4.9 raises KeyError ('splits is empty') for a dataset never generated in data_dir
    except (NotImplementedError, FileNotFoundError, AssertionError, ValueError, KeyError) as err:
        raise ValueError(_tfds_missing_message(name, split, data_dir, err)) from err
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
        raise ValueError(_tfds_missing_message(name, split, data_dir, err)) from err
    images, labels = tfds.as_numpy(ds)
    return images.astype(np.float32) / 255.0, labels.astype(np.int32)


# --------------------------------------------------------------------------- digits

def resize(images, hw):
    """f32[n, h, w, c] -> f32[n, hw[0], hw[1], c], bilinear (jax.image.resize)."""
    n, _, _, c = images.shape
    out = jax.image.resize(images, (n, *hw, c), method="bilinear")
    return np.clip(np.asarray(out, np.float32), 0.0, 1.0)


def load_digits(*, size=None):
    """scikit-learn's bundled 8x8 digits (values 0..16) scaled to [0, 1].

    ``size=(h, w)`` or an int resizes bilinearly (e.g. 28 for the CNN).
    Returns images ``f32[1797, h, w, 1]`` and labels ``i32[1797]``.
    """
    from sklearn.datasets import load_digits as sk_digits

    hw = _hw("size", size)
    digits = sk_digits()
    images = (digits.images.astype(np.float32) / 16.0)[..., None]
    if hw is not None and hw != images.shape[1:3]:
        images = resize(images, hw)
    return images, digits.target.astype(np.int32)


# --------------------------------------------------------------------------- registry

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


# --------------------------------------------------------------------------- splits, batches

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


# --------------------------------------------------------------------------- normalisation

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
