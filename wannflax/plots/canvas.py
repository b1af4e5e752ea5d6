"""The figure every picture of a run is drawn on, and how it is saved.

Each figure gets its own Agg canvas, never pyplot's (the package docstring
says why), and is saved write-then-rename. The network picture and the
report both title themselves with the champion's size, worded here once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_DPI = 110


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure of ``width`` x ``height`` inches on an Agg canvas."""
    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: str | None) -> None:
    """Writes ``figure`` as a PNG at ``path``; does nothing when ``path`` is None."""
    if path is None:
        return
    # Write-then-rename, so a reader never sees half a picture.
    partial = path + ".partial"
    figure.savefig(partial, format="png", dpi=_DPI)
    os.replace(partial, path)


def size_caption(champion: Mapping[str, Any]) -> str:
    """A title such as "3 hidden nodes, 1 connection" from a champion's counts.

    Args:
      champion: a mapping with ``hidden_nodes`` and ``connections``.

    Returns:
      The caption, singular or plural as the counts need.
    """
    hidden, connections = int(champion["hidden_nodes"]), int(champion["connections"])
    return (
        f"{hidden} hidden node{'' if hidden == 1 else 's'}, "
        f"{connections} connection{'' if connections == 1 else 's'}"
    )
