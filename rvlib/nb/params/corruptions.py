"""08_common_corruptions: the CIFAR-10-C suite on held-out digits, mCE against the CE baseline."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rvlib import validate
from rvlib.corruptions import SUITE, TABLES
from rvlib.nb.params.base import DigitsTrainingParams, lams_check, param

__all__ = ["CommonCorruptionParams", "QUICK_CORRUPTIONS"]

# Quick runs: one corruption per family (same code path, 4 compilations instead of 15).
QUICK_CORRUPTIONS = ["gaussian_noise", "defocus_blur", "fog", "contrast"]


def _names(name, values):
    out = validate.each(name, values, lambda n, v: validate.choice(n, v, SUITE),
                        nonempty="corruption", distinct="corruption")
    return out


@dataclass(frozen=True)
class CommonCorruptionParams(DigitsTrainingParams):
    """``lams`` must hold 0 (the CE baseline, mCE's normaliser) and ``lam_margin > 0``.

    ``adv_eps > 0`` adds a PGD-adversarially trained CE model (L∞ ε, notebook 06's
    training) to the comparison; 0 leaves it out.

    Quick: the first seed, at most 15 epochs, one corruption per family.
    """
    notebook: ClassVar[str] = "08_common_corruptions"
    lams: list = param([0.0, 10.0], lams_check)
    lam_margin: float = param(10.0, validate.non_negative)
    suite_corruptions: list = param(list(SUITE)[:15], _names)
    table: str = param("cifar10", lambda n, v: validate.choice(n, v, TABLES))
    adv_eps: float = param(0.1, lambda n, v: validate.number(n, v, min=0.0, max=1.0))

    def normalize(self) -> None:
        if 0.0 not in self.lams or self.lam_margin not in self.lams or self.lam_margin == 0.0:
            validate.fail("lams", self.lams,
                          f"must contain 0 (the baseline) and lam_margin={self.lam_margin} > 0")

    def quick_values(self) -> dict:
        return {"seeds": self.seeds[:1], "epochs": min(self.epochs, 15),
                "suite_corruptions": [c for c in self.suite_corruptions if c in QUICK_CORRUPTIONS]
                or self.suite_corruptions[:1]}
