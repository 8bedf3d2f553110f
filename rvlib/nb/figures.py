"""Every figure goes through ``savefig(name)`` into ``figures/`` as PDF and PNG, byte-stable.

The house style (:data:`STYLE`) is applied where figures are made and saved,
never at import: plot functions are wrapped in :func:`styled`, ``savefig``
saves inside the style, and a notebook that draws its own figures calls
:func:`use_style` once.  Saved files carry no dates or software versions, so
rerunning ``make run`` rewrites identical bytes.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import matplotlib.pyplot as plt

__all__ = ["STYLE", "use_style", "styled", "savefig", "figures_folder"]

STYLE = {"figure.dpi": 100, "savefig.dpi": 300, "axes.grid": True, "grid.alpha": 0.3,
         "axes.spines.top": False, "axes.spines.right": False, "font.size": 10,
         "legend.frameon": False, "pdf.fonttype": 42, "svg.hashsalt": "rvlib"}
# No creation date, no producer/software version: the same figure gives the same bytes.
_METADATA = {"pdf": {"CreationDate": None, "Producer": None, "Creator": None},
             "png": {"Software": None}}


def use_style() -> None:
    """Apply :data:`STYLE` to matplotlib globally (an explicit call, e.g. once per notebook)."""
    plt.rcParams.update(STYLE)


def styled(fn):
    """Run a plot function inside :data:`STYLE` without changing the global rcParams."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return fn(*args, **kwargs)
    return wrapper


def figures_folder() -> Path:
    """``$RVLIB_FIGURES`` if set, else ``figures`` (relative to the working directory)."""
    return Path(os.environ.get("RVLIB_FIGURES", "figures"))


def savefig(name: str, fig=None, *, folder=None) -> list[Path]:
    """Save ``fig`` (default: current) as ``<folder>/<name>.pdf`` and ``.png`` (300 dpi).

    ``name`` may contain a sub-folder (``"02_margin_ablation/snr_vs_lambda"``).
    """
    fig = fig or plt.gcf()
    base = Path(folder) if folder is not None else figures_folder()
    paths = []
    with plt.rc_context(STYLE):
        for ext in ("pdf", "png"):
            p = base / f"{name}.{ext}"
            p.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(p, bbox_inches="tight", metadata=_METADATA[ext])
            paths.append(p)
    return paths
