"""rvlib: a JAX research kit for the robustness of neural networks.

Reproduces and extends "A Systematic Decomposition of Neural Network
Robustness" (loss function, learning rule, hardware constraints, noise).
Submodules are imported explicitly (``from rvlib import losses``) so that a
notebook pays only for what it uses.
"""
__version__ = "0.1.0"
