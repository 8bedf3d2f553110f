"""Interactive widgets for live kernels: the λ explorer slider of the λ study."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt

from rvlib import validate
from rvlib.nb.paper_plots import plot_paper_response
from rvlib.paper.lambda_study import paper_response
from rvlib.paper.reference import NOISE_LEVELS

__all__ = ["lambda_explorer"]


def lambda_explorer(image, *, lams: Sequence[float] = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 20.0, 50.0),
                    value: float = 1.0, levels=NOISE_LEVELS, update: str = "published"):
    """An ipywidgets slider over ``lams`` that retrains the paper's MLP on ``image`` and redraws.

    Returns the ``VBox(slider, output)``.  Nothing is drawn until the slider
    moves, so executing the cell (papermill, nbval) has a fixed output: show
    the initial state with ``paper_plots.plot_paper_response(paper_response(image, value))``.
    """
    import ipywidgets as widgets

    lams = validate.each("lams", lams, validate.non_negative, nonempty="λ >= 0")
    value = validate.non_negative("value", value)
    if value not in lams:
        lams = sorted(set(lams) | {value})
    slider = widgets.SelectionSlider(options=[(f"{v:g}", v) for v in lams], value=value,
                                     description="λ", continuous_update=False)
    out = widgets.Output()

    def redraw(change):
        with out:
            out.clear_output(wait=True)
            plot_paper_response(paper_response(image, change["new"], levels=levels,
                                               update=update))
            plt.show()

    slider.observe(redraw, names="value")
    return widgets.VBox([slider, out])
