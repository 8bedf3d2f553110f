"""The paper's methods and published numbers: ONE typed source, read by name.

Nothing here is a result of rvlib: these are the values its measurements are
compared against (the paper and the authors' script; docs/protocol.md).  The
protocol, the report and the notebooks read them by name (``METHODS["hebbian_0_1"].paper_snr``,
``CHECKLIST["margin_acc_half"].threshold``), never by position.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Method", "WeightStats", "Claim", "ChecklistItem", "METHODS", "CLAIMS", "CHECKLIST",
           "NOISE_LEVELS", "TARGET", "PAPER_SEED", "NOISE_SEED", "INIT_SCALE", "HEBB_ETA",
           "HEBB_ITERS", "DELTA_ETA", "DELTA_ITERS", "MLP_LR", "MLP_ITERS", "MLP_HIDDEN",
           "MARGIN_FLOOR"]

# ------------------------------------------------------------------ the published protocol
TARGET = (1.0, 0.0)             # output 0 "target", output 1 "control"
PAPER_SEED = 42                 # image i: init key 42 + i
NOISE_SEED = 99                 # image i: noise key 99 + i, reused at every level
NOISE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
INIT_SCALE = 0.01               # crossbar init U[0, 0.01] (mean 0.005)
HEBB_ETA, HEBB_ITERS = 0.2, 30
DELTA_ETA, DELTA_ITERS = 0.01, 30
MLP_LR, MLP_ITERS, MLP_HIDDEN, MARGIN_FLOOR = 1e-3, 60, 128, 0.1


@dataclass(frozen=True)
class WeightStats:
    """Weight statistics the paper reports for a method (None: not reported)."""
    mean: float
    std: float
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Method:
    """One row of the paper's master table (or rvlib's addition, with no paper numbers).

    ``rule``: ``"gradient"`` (the per-image MLP), ``"hebbian"`` or ``"delta"``
    (crossbars); ``clip``: conductance range or None; ``lam``: the MLP's
    margin weight; ``eta``/``iters``: the crossbar rule's step and updates
    (``eta=None``: chosen from the images, see ``protocol.stable_delta_eta``).
    ``paper_*``: the published numbers (None where the paper has none).
    """
    key: str
    label: str
    rule: str
    loss: str
    clip: tuple[float, float] | None = None
    lam: float | None = None
    eta: float | None = None
    iters: int | None = None
    paper_snr: float | None = None
    paper_accuracy: float | None = None
    paper_accuracy_at_half: float | None = None
    paper_weights: WeightStats | None = None

    @property
    def in_paper(self) -> bool:
        return self.paper_snr is not None


def _hebbian(key, label, clip, snr, at_half=None, weights=None) -> Method:
    return Method(key, label, "hebbian", "correlation", clip=clip, eta=HEBB_ETA,
                  iters=HEBB_ITERS, paper_snr=snr, paper_accuracy=1.00,
                  paper_accuracy_at_half=at_half, paper_weights=weights)


def _mlp(key, label, lam, loss, snr, at_half=None) -> Method:
    return Method(key, label, "gradient", loss, lam=lam, iters=MLP_ITERS, paper_snr=snr,
                  paper_accuracy=1.00, paper_accuracy_at_half=at_half)


# The master table in the paper's order (mean SNR over 50 images × 7 noise levels), then
# the delta rule at a stable step, which rvlib adds (the paper's η diverges).
METHODS: dict[str, Method] = {m.key: m for m in (
    _mlp("mlp_margin10", "MLP margin-10", 10.0, "log-margin λ=10", 2399.01, at_half=1.00),
    _hebbian("hebbian", "Hebbian unconstrained", None, 274.17, at_half=1.00,
             weights=WeightStats(0.375, 0.750, 0.001, 2.5)),
    _hebbian("hebbian_0_2", "Hebbian loose", (0.0, 2.0), 245.61),
    _hebbian("hebbian_0_1", "Hebbian physical", (0.0, 1.0), 169.30, at_half=1.00,
             weights=WeightStats(0.443, 0.443)),
    _hebbian("hebbian_0_0.5", "Hebbian tight", (0.0, 0.5), 93.23,
             weights=WeightStats(0.250, 0.240)),
    _mlp("mlp_margin1", "MLP margin-1", 1.0, "log-margin λ=1", 74.76),
    _mlp("mlp_standard", "MLP standard", 0.0, "λ=0", 6.37, at_half=0.92),
    Method("sgd", "SGD unconstrained", "delta", "MSE", eta=DELTA_ETA, iters=DELTA_ITERS,
           paper_snr=2.05, paper_accuracy=0.38, paper_accuracy_at_half=0.12,
           paper_weights=WeightStats(3.2e9, 6.3e11)),
    Method("sgd_stable", "SGD (delta rule) at a stable η", "delta", "MSE", iters=DELTA_ITERS),
)}


@dataclass(frozen=True)
class Claim:
    """A headline factor: ``before`` -> ``after`` (method keys) changes mean SNR by ``stated``.

    ``stated``: the factor as the paper states it (375 = "375×"; -0.38 = "−38%").
    """
    key: str
    text: str
    before: str
    after: str
    stated: float


CLAIMS: dict[str, Claim] = {c.key: c for c in (
    Claim("loss", "cross-entropy -> margin loss λ=10", "mlp_standard", "mlp_margin10", 375.0),
    Claim("rule", "SGD -> Hebbian (both unconstrained)", "sgd", "hebbian", 133.0),
    Claim("constraint", "unconstrained -> clip [0, 1]", "hebbian", "hebbian_0_1", -0.38),
    Claim("constraint_tight", "unconstrained -> clip [0, 0.5]", "hebbian", "hebbian_0_0.5",
          -0.66),
)}


@dataclass(frozen=True)
class ChecklistItem:
    """One item of the robust-vision guide's validation checklist: ``metric op threshold``."""
    key: str
    text: str
    op: str           # ">" or "<"
    threshold: float

    def passes(self, value: float) -> bool:
        return value > self.threshold if self.op == ">" else value < self.threshold


CHECKLIST: dict[str, ChecklistItem] = {c.key: c for c in (
    ChecklistItem("margin_clean_snr", "margin model SNR > 2000 on clean data", ">", 2000.0),
    ChecklistItem("baseline_clean_snr", "baseline SNR < 20", "<", 20.0),
    ChecklistItem("margin_acc_half", "margin model keeps > 85% accuracy at 50% Gaussian noise",
                  ">", 0.85),
    ChecklistItem("baseline_acc_half", "baseline drops below 70% at 50% Gaussian noise", "<",
                  0.70),
    ChecklistItem("lambda_linearity_r2", "SNR roughly linear in λ up to 10", ">", 0.9),
)}
