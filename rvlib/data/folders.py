"""Image folders (PNG/JPEG/BMP) as arrays, read the way the authors' script picked its images."""
from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

from rvlib import validate

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
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


def check_background(name: str, value):
    """``None`` (refuse transparency), a gray level in [0, 1] or an (r, g, b) triple in [0, 1]."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) != 3:
            validate.fail(name, value, "must be None, a gray level in [0, 1] or (r, g, b)")
        return tuple(validate.probability(f"{name}[{i}]", v) for i, v in enumerate(value))
    v = validate.probability(name, value)
    return (v, v, v)


def _has_alpha(im) -> bool:
    """Whether some pixel of ``im`` is not fully opaque (an opaque alpha channel is no alpha)."""
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        alpha = im.convert("RGBA").getchannel("A")
        return alpha.getextrema()[0] < 255
    return False


def _composite(im, background):
    """``im`` over an opaque ``background`` (r, g, b in [0, 1]) -> RGB."""
    from PIL import Image

    color = tuple(int(round(255 * c)) for c in background) + (255,)
    return Image.alpha_composite(Image.new("RGBA", im.size, color), im.convert("RGBA")) \
        .convert("RGB")


def _read_image(file: Path, hw, grayscale: bool, convert: str = "bitdepth",
                background=None) -> np.ndarray:
    """One file -> f32[h, w, c] in [0, 1] (see :data:`CONVERSIONS`).

    A file with transparent pixels is composited onto ``background`` ((r, g,
    b) in [0, 1]) or, with ``background=None``, refused: dropping alpha would
    show the hidden colour of transparent pixels.  Every Pillow error
    (unreadable file, decompression bomb, truncated data) names the file.
    """
    from PIL import Image, UnidentifiedImageError

    transparent = None
    try:
        with Image.open(file) as im:
            im.load()
            if _has_alpha(im):
                if background is None:
                    transparent = im.mode
                    raise _Transparent
                im = _composite(im, background)
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
    except _Transparent:
        validate.fail("file", str(file), f"has transparent pixels (mode {transparent}): pass "
                      f"background=<gray level in [0, 1] or (r, g, b)> to composite it onto "
                      f"that colour")
    except Image.DecompressionBombError as err:
        validate.fail("file", str(file), f"too many pixels to decode safely "
                      f"(DecompressionBombError: {err})")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as err:
        validate.fail("file", str(file), f"not a readable image ({type(err).__name__}: {err})")
    return arr[..., None] if arr.ndim == 2 else arr


class _Transparent(Exception):
    """Internal: the file has transparency and no background was given."""


def load_image_folder(path, *, size=(64, 64), grayscale: bool = True, limit=None,
                      convert: str = "bitdepth", order: str = "sorted", evenly=None,
                      background=None):
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
    ``size`` must be an int or a pair of ints (``"64"`` is refused, not read
    as 6 x 4).  Files with transparent pixels (RGBA, LA, palette
    transparency) are composited onto ``background`` (a gray level in [0, 1]
    or an (r, g, b) triple) before any conversion, or refused when it is
    None; Pillow's errors (a decompression bomb too) name the file.
    Returns images ``f32[n, h, w, 1 or 3]`` in [0, 1] and labels ``i32[n]``.
    """
    folder = _existing_folder(path)
    hw = validate.image_size("size", size)
    background = check_background("background", background)
    limit = None if limit is None else validate.positive("limit", limit, integer=True)
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

    arrays = [_read_image(f, hw, grayscale, convert, background) for f, _ in files]
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
