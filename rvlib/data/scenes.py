"""Seeded synthetic stand-in for the paper's KITTI LiDAR 2-D depth images (road scenes).

The real images are not redistributable; :func:`depth_scenes` draws scenes with
the same geometry (inverse depth, near = bright) so the per-image protocol runs
anywhere.  ``data.load_image_folder`` reads the real ones.
"""
from __future__ import annotations

import numpy as np

from rvlib import validate

DEPTH_KINDS = ("road", "nonroad", "both")


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
