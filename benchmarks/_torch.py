"""The benchmarks' PyTorch twin of rvlib's CNN (imports torch only, never jax)."""


def torch_cnn(shape, classes: int):
    """conv32-pool-conv64-pool-fc256-fc(classes) on NCHW inputs of ``shape = (h, w, c)``."""
    from torch import nn

    h, w, c = shape
    return nn.Sequential(
        nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * (h // 4) * (w // 4), 256), nn.ReLU(), nn.Linear(256, classes))
