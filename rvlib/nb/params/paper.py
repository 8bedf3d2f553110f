"""Parameters of the paper's notebooks 01-05 (one frozen dataclass each)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rvlib import validate
from rvlib.data.splits import MULTICLASS
from rvlib.nb.params.base import (DIGITS_TRAIN, DigitsTrainingParams, ProtocolParams,
                                  choice_check, clips_check, lams_check, param, positive_int,
                                  positives, seed_check, size_check)
from rvlib.paper.protocol import MLP_UPDATES
from rvlib.paper.reference import INIT_SCALE
from rvlib.training.classifier import CLASSIFIERS



def _check_split(cfg, cnn: bool) -> None:
    """The image size the CNN can take and a batch size the training split can fill."""
    if cnn and cfg.size is not None and cfg.size % 4:
        validate.fail("size", cfg.size, "the CNN needs a multiple of 4 (two 2x2 poolings)")
    n_train = DIGITS_TRAIN if cfg.dataset == "digits" else cfg.limit
    if cfg.batch_size > n_train:
        where = "the digits training split's size" if cfg.dataset == "digits" else \
            "limit, the most training examples loaded"
        validate.fail("batch_size", cfg.batch_size, f"must be <= {n_train}, {where}")


def _split_memory(cfg) -> dict[str, float]:
    # float32 images (3 channels at most), train (limit) and test (limit // 4) at once
    side = 32 if cfg.size is None else cfg.size
    n = min(cfg.limit, DIGITS_TRAIN) if cfg.dataset == "digits" else cfg.limit
    return {"limit": 4.0 * 3 * side * side * 1.25 * n}   # limit x size x size images


__all__ = ["BaselineParams", "MarginParams", "HebbianParams", "HardwareParams", "RobustnessParams"]


@dataclass(frozen=True)
class BaselineParams(ProtocolParams):
    """01_train_baselines: the paper's master table, then a CNN on held-out data.

    ``update``: the MLP rows' training, a name of ``protocol.MLP_UPDATES``.
    Quick: the paper protocol stays (closed-form updates, cheap); the CNN
    trains at most 4 epochs on at most 4000 TFDS examples.
    """
    notebook: ClassVar[str] = "01_train_baselines"
    dataset: str = param("digits", choice_check(MULTICLASS))
    size: int | None = param(16, size_check)
    epochs: int = param(15, positive_int)
    batch_size: int = param(64, positive_int)
    lr: float = param(0.001, validate.positive)
    cnn_seed: int = param(0, seed_check)
    limit: int = param(20000, positive_int)
    update: str = param("published", choice_check(MLP_UPDATES))

    def normalize(self) -> None:
        _check_split(self, cnn=True)

    def memory_estimate(self) -> dict[str, float]:
        return super().memory_estimate() | _split_memory(self)

    def quick_values(self) -> dict:
        return {"epochs": min(self.epochs, 4), "limit": min(self.limit, 4000)}


@dataclass(frozen=True)
class MarginParams(DigitsTrainingParams):
    """02_margin_ablation: what λ does, on the paper protocol and on held-out digits.

    ``lam`` is added to both λ lists (sorted, no repeats), so its model is
    always part of the sweeps.  Quick: one seed (``seed``), at most 20 epochs.
    """
    notebook: ClassVar[str] = "02_margin_ablation"
    lam: float = param(1.0, validate.non_negative)
    lams_paper: list = param([0.0, 1.0, 10.0], lams_check)
    lams_controlled: list = param([0.0, 0.1, 1.0, 10.0, 20.0], lams_check)
    n_images: int = param(50, positive_int)
    update: str = param("published", choice_check(MLP_UPDATES))

    def normalize(self) -> None:
        super().normalize()
        self._set("lams_paper", sorted(set(self.lams_paper) | {self.lam}))
        self._set("lams_controlled", sorted(set(self.lams_controlled) | {self.lam}))

    def n_models(self) -> int:
        return len(self.lams_controlled) * len(self.seeds) + 1

    def memory_estimate(self) -> dict[str, float]:
        return super().memory_estimate() | {"n_images": 4.0 * 4096 * 8 * self.n_images}

    def quick_values(self) -> dict:
        return {"seeds": [self.seed], "epochs": min(self.epochs, 20)}


@dataclass(frozen=True)
class HebbianParams(ProtocolParams):
    """03_hebbian_vs_sgd: where the Hebbian SNR comes from, and the delta rule's limit.

    ``eta_ratios`` come back sorted; ``init_scales`` always include the
    paper's init scale (the reference row).  Quick: every other η ratio.
    """
    notebook: ClassVar[str] = "03_hebbian_vs_sgd"
    hebb_eta: float = param(0.2, validate.positive)
    delta_eta: float = param(0.01, validate.positive)
    iters: int = param(30, positive_int)
    eta_ratios: list = param([0.1, 0.3, 0.5, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0],
                             lambda n, v: sorted(validate.each(n, v, validate.positive,
                                                               nonempty="η ratio > 0")))
    init_scales: list = param([0.1, 0.01, 0.001], positives)

    def normalize(self) -> None:
        if INIT_SCALE not in self.init_scales:
            self._set("init_scales", self.init_scales + [INIT_SCALE])

    def quick_values(self) -> dict:
        return {"eta_ratios": self.eta_ratios[::2]}


@dataclass(frozen=True)
class HardwareParams(ProtocolParams):
    """04_hardware_constraints: conductance ranges on Hebbian crossbars and in gradient training.

    ``clips``: the crossbar ranges, unconstrained (the reference) first, then
    ``clip_ranges`` and ``custom_clip`` without repeats; ``grad_clips``:
    ``clips`` plus ``signed_clip``.  Quick: at most 4 training epochs.
    """
    notebook: ClassVar[str] = "04_hardware_constraints"
    eta: float = param(0.2, validate.positive)
    iters: int = param(30, positive_int)
    clip_ranges: list = param([None, [0.0, 2.0], [0.0, 1.0], [0.0, 0.5]], clips_check)
    custom_clip: Any = param([0.0, 0.25], validate.clip_range)
    dataset: str = param("digits", choice_check(MULTICLASS))
    size: int | None = param(16, size_check)
    grad_model: str = param("mlp", choice_check(CLASSIFIERS))
    epochs: int = param(10, positive_int)
    lr: float = param(0.003, validate.positive)
    batch_size: int = param(64, positive_int)
    grad_seed: int = param(0, seed_check)
    signed_clip: Any = param([-0.5, 0.5], validate.clip_range)
    limit: int = param(20000, positive_int)

    def normalize(self) -> None:
        _check_split(self, cnn=self.grad_model == "cnn")

    def memory_estimate(self) -> dict[str, float]:
        return super().memory_estimate() | _split_memory(self)

    @property
    def clips(self) -> list:
        return list(dict.fromkeys([None] + self.clip_ranges + [self.custom_clip]))

    @property
    def grad_clips(self) -> list:
        return self.clips + ([self.signed_clip] if self.signed_clip not in self.clips else [])

    def quick_values(self) -> dict:
        return {"epochs": min(self.epochs, 4)}


@dataclass(frozen=True)
class RobustnessParams(DigitsTrainingParams):
    """05_noise_robustness: four corruptions on held-out digits and on the per-image models.

    ``lams`` (sorted, no repeats) must hold 0 (the cross-entropy baseline) and
    ``lam_margin > 0``; ``severities`` must hold 0.0 (clean) and 0.5 (the
    paper's checkpoint).  Quick: the first seed, at most 15 epochs and 10 scenes.
    """
    notebook: ClassVar[str] = "05_noise_robustness"
    lams: list = param([0.0, 1.0, 10.0], lams_check)
    lam_margin: float = param(10.0, validate.non_negative)
    severities: list = param([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], validate.severities)
    n_scenes: int = param(50, positive_int)
    update: str = param("published", choice_check(MLP_UPDATES))

    def n_models(self) -> int:
        return len(self.lams) * len(self.seeds)

    def memory_estimate(self) -> dict[str, float]:
        return super().memory_estimate() | {"n_scenes": 4.0 * 4096 * 8 * self.n_scenes}

    def normalize(self) -> None:
        super().normalize()
        if 0.0 not in self.lams or self.lam_margin not in self.lams or self.lam_margin == 0.0:
            validate.fail("lams", self.lams,
                          f"must contain 0 (the baseline) and lam_margin={self.lam_margin} > 0")
        if 0.0 not in self.severities or 0.5 not in self.severities:
            validate.fail("severities", self.severities, "must contain 0.0 (clean) and 0.5")

    def quick_values(self) -> dict:
        return {"seeds": self.seeds[:1], "epochs": min(self.epochs, 15),
                "n_scenes": min(self.n_scenes, 10)}
