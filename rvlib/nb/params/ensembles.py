"""Parameters of notebook 09 (ensembles, uncertainty and the core of learners)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rvlib import validate
from rvlib.corruptions import CORRUPTIONS
from rvlib.nb.params.base import NotebookParams, choice_check, count, param, positive_int
from rvlib.uncertainty import SCORES

__all__ = ["EnsembleParams"]


def _members(name, value):
    value = positive_int(name, value)
    if value < 2:
        validate.fail(name, value, "an ensemble needs at least 2 members")
    return value


def _coverage(name, value):
    return validate.number(name, value, min=0.0, min_inclusive=False, max=1.0)


@dataclass(frozen=True)
class EnsembleParams(NotebookParams):
    """09_ensembles_core: deep ensembles on the digits, their uncertainty, core and specialists.

    Members use seeds ``seed .. seed + k - 1``; the transfer attack's surrogate
    uses ``surrogate_seed`` (must not be a member's).  Quick: at most 3
    members, 15 epochs, 5 attack steps and 5 specialist epochs.
    """
    notebook: ClassVar[str] = "09_ensembles_core"
    k: int = param(5, _members)
    epochs: int = param(30, positive_int)
    lr: float = param(0.003, validate.positive)
    batch_size: int = param(64, positive_int)
    hidden: int = param(128, positive_int)
    surrogate_seed: int = param(100, count)
    score: str = param("predictive_entropy", choice_check(SCORES))
    target_coverage: float = param(0.95, _coverage)
    eps: float = param(0.1, validate.positive)
    attack_steps: int = param(10, positive_int)
    corruption: str = param("gaussian", choice_check(CORRUPTIONS))
    severity: float = param(0.5, validate.probability)
    specialist_epochs: int = param(10, positive_int)
    specialist_lr: float = param(0.001, validate.positive)
    lam: float = param(1.0, validate.positive)

    def normalize(self) -> None:
        if self.seed <= self.surrogate_seed < self.seed + self.k:
            validate.fail("surrogate_seed", self.surrogate_seed,
                          f"must not be a member's seed ({self.seed}..{self.seed + self.k - 1})")

    @property
    def seeds(self) -> list[int]:
        return list(range(self.seed, self.seed + self.k))

    def quick_values(self) -> dict:
        return {"k": min(self.k, 3), "epochs": min(self.epochs, 15),
                "attack_steps": min(self.attack_steps, 5),
                "specialist_epochs": min(self.specialist_epochs, 5)}
