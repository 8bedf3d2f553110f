"""scikit-learn's bundled 8x8 handwritten digits (10 classes), and bilinear resizing."""
from __future__ import annotations

import jax
import numpy as np

from rvlib import validate


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

    hw = validate.image_size("size", size)
    digits = sk_digits()
    images = (digits.images.astype(np.float32) / 16.0)[..., None]
    if hw is not None and hw != images.shape[1:3]:
        images = resize(images, hw)
    return images, digits.target.astype(np.int32)
