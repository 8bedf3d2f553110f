"""The paper's published numbers (from shared/PAPER.md), kept in one place.

Nothing here is a result of rvlib: these are the values rvlib's measurements are
compared against in tables and in REPRODUCTION.md.
"""

# method key -> (label, rule, clip, loss, mean SNR, accuracy)
MASTER_TABLE = {
    "mlp_margin10": ("MLP margin-10", "gradient", None, "log-margin λ=10", 2399.01, 1.00),
    "hebbian": ("Hebbian unconstrained", "hebbian", None, "correlation", 274.17, 1.00),
    "hebbian_0_2": ("Hebbian loose", "hebbian", (0.0, 2.0), "correlation", 245.61, 1.00),
    "hebbian_0_1": ("Hebbian physical", "hebbian", (0.0, 1.0), "correlation", 169.30, 1.00),
    "hebbian_0_0.5": ("Hebbian tight", "hebbian", (0.0, 0.5), "correlation", 93.23, 1.00),
    "mlp_margin1": ("MLP margin-1", "gradient", None, "log-margin λ=1", 74.76, 1.00),
    "mlp_standard": ("MLP standard", "gradient", None, "λ=0", 6.37, 1.00),
    "sgd": ("SGD unconstrained", "delta", None, "MSE", 2.05, 0.38),
}

# Reported weight statistics: method key -> dict
WEIGHT_STATS = {
    "hebbian": {"mean": 0.375, "std": 0.750, "min": 0.001, "max": 2.5},
    "hebbian_0_1": {"mean": 0.443, "std": 0.443},
    "hebbian_0_0.5": {"mean": 0.250, "std": 0.240},
    "sgd": {"mean": 3.2e9, "std": 6.3e11},
}

# Accuracy at 50% Gaussian noise (sigma = 0.5)
ACCURACY_AT_HALF = {"mlp_margin10": 1.00, "hebbian": 1.00, "hebbian_0_1": 1.00,
                    "mlp_standard": 0.92, "sgd": 0.12}

# Headline factors
CLAIMS = {
    "loss": ("cross-entropy -> margin loss λ=10", "mlp_standard", "mlp_margin10", 375.0),
    "rule": ("SGD -> Hebbian (both unconstrained)", "sgd", "hebbian", 133.0),
    "constraint": ("unconstrained -> clip [0, 1]", "hebbian", "hebbian_0_1", 169.30 / 274.17),
}

# The robust-vision guide's validation checklist: (text, metric, op, threshold)
CHECKLIST = [
    ("margin model SNR > 2000 on clean data", "margin_clean_snr", ">", 2000.0),
    ("baseline SNR < 20", "baseline_clean_snr", "<", 20.0),
    ("margin model keeps > 85% accuracy at 50% Gaussian noise", "margin_acc_half", ">", 0.85),
    ("baseline drops below 70% at 50% Gaussian noise", "baseline_acc_half", "<", 0.70),
    ("SNR roughly linear in λ up to 10", "lambda_linearity_r2", ">", 0.9),
]

NOISE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
