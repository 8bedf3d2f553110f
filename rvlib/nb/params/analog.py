"""Parameters of notebook 07 (analog in-memory hardware)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rvlib import validate
from rvlib.hardware.device import check_time
from rvlib.hardware.presets import DEVICES
from rvlib.nb.params.base import (NotebookParams, choice_check, param, positive_int, positives,
                                  seeds_check)
from rvlib.training.classifier import CLASSIFIERS

__all__ = ["AnalogParams"]


def _alphas(name, values):
    return sorted(set(validate.each(name, values, validate.non_negative, nonempty="alpha")))


def _times(name, values):
    return sorted(set(validate.each(name, values, check_time, nonempty="time")))


def _bits(name, values):
    return sorted(set(validate.each(name, values, lambda n, v: validate.number(
        n, v, min=1, max=16, integer=True), nonempty="bit width")))


def _presets(name, values):
    return validate.each(name, values, choice_check(DEVICES), nonempty="preset", distinct="preset")


def _models(name, values):
    return validate.each(name, values, choice_check(CLASSIFIERS), nonempty="model",
                         distinct="model")


@dataclass(frozen=True)
class AnalogParams(NotebookParams):
    """07_analog_hardware: weight noise, device presets, drift, levels, clip ranges as devices.

    ``alphas`` must hold 0 (clean) and 0.1 (the seed study's checkpoint).
    Quick: the first seed, the MLP only, 10 epochs, 3 draws, the
    extreme bit widths, the first g_max and the first two presets.
    """
    notebook: ClassVar[str] = "07_analog_hardware"
    seeds: list = param([0, 1, 2], seeds_check)
    model_names: list = param(["mlp", "cnn"], _models)
    epochs: int = param(20, positive_int)
    lr: float = param(0.003, validate.positive)
    batch_size: int = param(64, positive_int)
    alpha_train: float = param(0.3, validate.positive)
    alphas: list = param([0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0], _alphas)
    draws: int = param(5, positive_int)
    presets: list = param(["ideal", "pcm", "pcm_4bit", "rram_like"], _presets)
    device: str = param("pcm", choice_check(DEVICES))
    t_eval: float = param(86400.0, check_time)
    times: list = param([1.0, 3600.0, 86400.0, 2592000.0, 31536000.0], _times)
    bits: list = param([1, 2, 3, 4, 6], _bits)
    g_maxes: list = param([2.0, 1.0, 0.5, 0.25, 0.1], positives)

    def normalize(self) -> None:
        if 0.0 not in self.alphas or 0.1 not in self.alphas:
            validate.fail("alphas", self.alphas, "must contain 0.0 (clean) and 0.1")

    def quick_values(self) -> dict:
        return {"seeds": self.seeds[:1], "model_names": ["mlp"], "draws": min(self.draws, 3),
                "epochs": min(self.epochs, 10), "bits": [self.bits[0], self.bits[-1]],
                "g_maxes": self.g_maxes[:1], "presets": self.presets[:2]}
