"""Named device models: one typed table (``DEVICES``), read by name with :func:`get_device`.

* ``ideal``: a differential pair with no noise, drift or levels (the
  weights come back exactly: the reference row);
* ``pcm``: aihwkit's ``PCMLikeNoiseModel`` defaults (g_max = 25 µS,
  programming noise, drift, 1/f read noise; Nandakumar et al., ICECS 2019);
* ``pcm_4bit``: ``pcm`` programmed onto 16 conductance levels;
* ``rram_like``: an illustrative filamentary-RRAM stand-in, NOT a fitted
  model: 32 levels, the PCM programming noise at half scale, no drift, the
  1/f read noise at half scale (RRAM drifts little; its programming is
  coarse).  Use it to see the shape of a no-drift device, not for numbers.
* ``pcm_prog_only``, ``pcm_drift_only``, ``pcm_read_only``: one PCM effect
  each, to see which one costs what.
"""
from __future__ import annotations

from rvlib import validate
from rvlib.hardware.device import Device, check_device

__all__ = ["DEVICES", "get_device", "device_names"]

_PCM_SOURCE = "aihwkit PCMLikeNoiseModel defaults (Nandakumar et al., ICECS 2019)"

DEVICES: dict[str, Device] = {d.name: check_device(d) for d in (
    Device(name="ideal", prog_noise=0.0, drift_scale=0.0, read_noise=0.0,
           description="exact differential pair (no noise, no drift, continuous)",
           source="reference"),
    Device(name="pcm", description="phase-change memory, all three effects",
           source=_PCM_SOURCE),
    Device(name="pcm_4bit", levels=16, description="pcm on 16 conductance levels",
           source=_PCM_SOURCE + "; 4-bit levels added"),
    Device(name="rram_like", levels=32, prog_noise=0.5, drift_scale=0.0, read_noise=0.5,
           description="illustrative RRAM stand-in: 32 levels, half PCM noise, no drift",
           source="illustrative, not fitted to measurements"),
    Device(name="pcm_prog_only", drift_scale=0.0, read_noise=0.0,
           description="pcm programming noise only", source=_PCM_SOURCE),
    Device(name="pcm_drift_only", prog_noise=0.0, read_noise=0.0,
           description="pcm drift only", source=_PCM_SOURCE),
    Device(name="pcm_read_only", prog_noise=0.0, drift_scale=0.0,
           description="pcm 1/f read noise only", source=_PCM_SOURCE),
)}


def device_names() -> list[str]:
    return list(DEVICES)


def get_device(device, **changes) -> Device:
    """A preset by name (or a :class:`Device` as is), with optional field ``changes``, checked."""
    if isinstance(device, str):
        validate.choice("device", device, DEVICES)
        device = DEVICES[device]
    device = check_device(device)
    return device.replace(**changes) if changes else device
