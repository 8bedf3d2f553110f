"""rvlib: a JAX research kit for the robustness of neural networks.

Reproduces and extends "A Systematic Decomposition of Neural Network
Robustness" (loss function, learning rule, hardware constraints, noise).

The verbs a notebook uses are here (loaded on first use, so ``import rvlib``
costs nothing and has no side effects)::

    rvlib.load("digits"), rvlib.load_split("digits"), rvlib.depth_scenes(50)
    rvlib.make_model("mlp", ...), rvlib.get_loss("margin_loss", lam=10)
    rvlib.fit(...), rvlib.fit_many(...), rvlib.predict(...)
    rvlib.classifier_metrics(logits, labels), rvlib.summarize(values)
    rvlib.corrupt("gaussian", key, images, 0.5), rvlib.evaluate_robustness(models, x, y)
    rvlib.start_run(params), rvlib.savefig("name", fig)

Everything else lives in its module: the generic kit (``data``, ``models``,
``losses``, ``rules``, ``corruptions``, ``metrics``, ``stats``, ``training``,
``robustness``, ``hardware``), the paper's reproduction (``paper``) and the
notebook plumbing (``nb``); see the README's layout section.
"""
import importlib

__version__ = "0.1.0"

_VERBS = {
    "load": "data", "load_split": "data", "depth_scenes": "data", "train_test_split": "data",
    "make_model": "models", "get_loss": "losses",
    "fit": "training", "fit_many": "training", "predict": "training",
    "classifier_metrics": "metrics", "summarize": "stats",
    "corrupt": "corruptions", "evaluate_robustness": "robustness",
    "start_run": "nb", "savefig": "nb",
}
__all__ = sorted(_VERBS)


def __getattr__(name):
    if name in _VERBS:
        return getattr(importlib.import_module(f"rvlib.{_VERBS[name]}"), name)
    try:
        return importlib.import_module(f"rvlib.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"rvlib.{name}":
            raise
        raise AttributeError(f"module 'rvlib' has no attribute {name!r}") from None


def __dir__():
    return sorted(set(globals()) | set(_VERBS))
