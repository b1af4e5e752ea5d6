"""Pictures of a run: the champion network, search and training curves, the report.

Every function builds a matplotlib ``Figure`` on the Agg canvas directly, never
through pyplot, so nothing needs a screen, no global figure list grows over a
long session, and figures can be drawn from any thread. Pass ``path`` to also
save a PNG there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from absl import logging

from wannflax.genome import Genome
from wannflax.plots.curves import (
    plot_report,
    plot_search_history,
    plot_training_curve,
)
from wannflax.plots.network import MAX_SHOWN_INPUTS, plot_network

__all__ = [
    "MAX_SHOWN_INPUTS",
    "PLOT_FILES",
    "plot_network",
    "plot_report",
    "plot_search_history",
    "plot_training_curve",
    "write_run_plots",
]

# The files ``write_run_plots`` leaves in a workdir.
PLOT_FILES = ("network.png", "search.png", "report.png", "training.png")


def write_run_plots(
    workdir: str,
    champion: Genome,
    search_history: Iterable[Mapping[str, Any]],
    train_history: Iterable[Mapping[str, Any]],
    report: Mapping[str, Any],
) -> list[str]:
    """Saves the four pictures of a finished run into ``workdir``.

    A picture that fails is logged as a warning and skipped: the run's
    results are already on disk and must not be lost to a drawing problem.

    Args:
      workdir: the run's directory.
      champion: the champion genome.
      search_history: the search's per-generation metrics.
      train_history: Stage 2's per-step metrics.
      report: the report dict.

    Returns:
      Paths of the pictures written.
    """
    jobs = (
        ("network.png", plot_network, champion),
        ("search.png", plot_search_history, list(search_history)),
        ("report.png", plot_report, report),
        ("training.png", plot_training_curve, list(train_history)),
    )
    written = []
    for name, draw, data in jobs:
        path = os.path.join(workdir, name)
        try:
            draw(data, path)
        except Exception as error:  # noqa: BLE001 - a picture never sinks a run.
            logging.warning(
                "Could not draw %s: %s: %s", name, type(error).__name__, error
            )
        else:
            written.append(path)
    if written:
        logging.info("Pictures: %s", ", ".join(written))
    return written
