"""Image folders (PNG/JPEG/BMP) as arrays, read the way the authors' script picked its images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rvlib import validate

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def _image_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
                  and not f.name.startswith("."))


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


def _read_image(file: Path, hw, grayscale: bool) -> np.ndarray:
    """One file -> f32[h, w, c] in [0, 1]; 16-bit grayscale (depth PNGs) keeps its range."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as im:
            im.load()
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


def load_image_folder(path, *, size=(64, 64), grayscale: bool = True, limit=None):
    """Read PNG/JPEG/BMP images from ``path`` (files sorted by name).

    Layout: folder-per-class (subfolders sorted by name -> labels 0..k-1) or a
    flat folder of images (all label 0).  ``size=(h, w)`` (or an int) resizes
    with bilinear filtering; ``size=None`` keeps the native size, which must
    then be the same for all files.  ``limit`` caps the files read per class
    (the first ones by name).  ``grayscale=False`` gives RGB.
    Returns images ``f32[n, h, w, 1 or 3]`` in [0, 1] and labels ``i32[n]``.
    """
    folder = _existing_folder(path)
    hw = validate.image_size("size", size)
    limit = None if limit is None else validate.positive("limit", limit, integer=True)
    dirs = _class_dirs(folder)
    top_files = _image_files(folder)
    if dirs and top_files:
        validate.fail("path", str(path), f"mixes image files ({top_files[0].name!r}, ...) with class "
              f"subfolders ({dirs[0].name!r}, ...); use one layout")
    groups = [_image_files(d) for d in dirs] if dirs else [top_files]
    for d, files in zip(dirs, groups):
        if not files:
            validate.fail("path", str(path), f"class folder {d.name!r} has no images "
                  f"({', '.join(IMAGE_EXTENSIONS)})")
    if not any(groups):
        validate.fail("path", str(path), f"folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
    files = [(f, label) for label, group in enumerate(groups) for f in group[:limit]]

    arrays = [_read_image(f, hw, grayscale) for f, _ in files]
    if hw is None:
        shapes = [a.shape[:2] for a in arrays]
        odd = next((i for i, sh in enumerate(shapes) if sh != shapes[0]), None)
        if odd is not None:
            validate.fail("size", None, f"images have different shapes: {shapes[0]} in "
                  f"{files[0][0].name!r} and {shapes[odd]} in {files[odd][0].name!r}; "
                  "pass size=(h, w) to resize them")
    labels = np.array([label for _, label in files], np.int32)
    return np.stack(arrays).astype(np.float32), labels


def select_evenly(images, labels, n: int):
    """``n`` items evenly spaced through the (sorted) set, as the authors' script picked
    its 50 images: indices ``linspace(0, len - 1, n)`` rounded down.

    images: ``[N, ...]``, labels: ``[N]`` -> ``([n, ...], [n])``.
    """
    total = len(images)
    if len(labels) != total:
        validate.fail("labels.shape", tuple(np.shape(labels)), f"must be ({total},), one label per image")
    n = validate.positive("n", n, integer=True)
    if n > total:
        validate.fail("n", n, f"must be <= the number of images ({total})")
    idx = np.linspace(0, total - 1, n).astype(int)
    return images[idx], labels[idx]
