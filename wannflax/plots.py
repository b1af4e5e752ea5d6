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

import numpy as np
from absl import logging
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from wannflax.activations import activation_name
from wannflax.genome import BIAS, HIDDEN, INPUT, OUTPUT, Genome
from wannflax.graph import node_depths

# The files ``write_run_plots`` leaves in a workdir.
PLOT_FILES = ("network.png", "search.png", "report.png", "training.png")

# Above this many inputs the unconnected ones are left out of the network
# picture: 64 digits pixels or 784 MNIST pixels would bury the graph.
MAX_SHOWN_INPUTS = 32

_DPI = 110


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | None) -> None:
    if path is None:
        return
    # Write-then-rename, so a reader never sees half a picture.
    partial = path + ".partial"
    figure.savefig(partial, format="png", dpi=_DPI)
    os.replace(partial, path)


def _whole_steps(ax) -> None:
    # Generations and epochs are counts; ticks at 0.5 would suggest otherwise.
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _size(champion: Mapping[str, Any]) -> str:
    hidden, connections = int(champion["hidden_nodes"]), int(champion["connections"])
    return (
        f"{hidden} hidden node{'' if hidden == 1 else 's'}, "
        f"{connections} connection{'' if connections == 1 else 's'}"
    )


def _finite(values: Iterable[Any]) -> np.ndarray:
    # Non-finite figures (a generation where every genome diverged) become
    # gaps in a curve instead of dragging the axis limits to infinity.
    array = np.asarray([np.nan if v is None else v for v in values], np.float64)
    return np.where(np.isfinite(array), array, np.nan)


def _stage_records(history: Iterable[Mapping[str, Any]], stage: str) -> list:
    # metrics.jsonl lines carry a "stage"; a trainer's or search's own
    # history does not. Either kind can be passed.
    return [record for record in history if record.get("stage", stage) == stage]


def _activation_colour(table_id: int):
    # Colours follow the table id, so an activation keeps its colour in every
    # picture of every run.
    palette = (
        "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #bcbd22 "
        "#17becf #7f7f7f #393b79 #ad494a #637939 #7b4173 #3182bd #e6550d"
    ).split()
    return palette[int(table_id) % len(palette)]


def _network_columns(genome: Genome, show_unused_inputs: bool) -> tuple:
    """Column (layer) and in-column order of every node drawn."""
    kind = np.asarray(genome.node_kind)
    valid = np.asarray(genome.node_valid)
    active = np.asarray(genome.conn_valid & genome.conn_enabled)
    source = np.asarray(genome.conn_source)[active]
    target = np.asarray(genome.conn_target)[active]
    depth = np.asarray(node_depths(genome))

    hidden = np.flatnonzero(valid & (kind == HIDDEN))
    output_column = int(depth[hidden].max()) + 1 if hidden.size else 1
    column = {}
    hidden_inputs = 0
    for node in np.flatnonzero(valid):
        if kind[node] == BIAS:
            column[int(node)] = 0
        elif kind[node] == INPUT:
            if show_unused_inputs or node in source:
                column[int(node)] = 0
            else:
                hidden_inputs += 1
        elif kind[node] == OUTPUT:
            column[int(node)] = output_column
        else:
            column[int(node)] = int(depth[node])

    # Nodes of a column are ordered by the mean height of their sources
    # (bias, inputs and outputs keep their numbering), which untangles most
    # of the crossing lines a plain id order would draw.
    height = {}
    for layer in range(output_column + 1):
        nodes = [node for node, col in column.items() if col == layer]
        if layer not in (0, output_column):
            sources = {
                node: [height[s] for s, t in zip(source, target) if t == node]
                for node in nodes
            }
            nodes.sort(
                key=lambda n: (
                    -np.mean(sources[n]) if sources[n] else 0.0,
                    n,
                )
            )
        for rank, node in enumerate(nodes):
            height[node] = (len(nodes) - 1) / 2.0 - rank
    return column, height, output_column, hidden_inputs, source, target


def _connection_path(start: tuple, end: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Points of one connection line: straight to the next layer, else an arc.

    A straight line that skips layers can run exactly through a node in
    between and read as two connections; bowing it outwards, more for longer
    skips, keeps it clear of the nodes it passes.
    """
    (x0, y0), (x1, y1) = start, end
    span = abs(x1 - x0)
    if span <= 1:
        return np.array([x0, x1], float), np.array([y0, y1], float)
    middle = (y0 + y1) / 2.0
    bow = 0.2 + 0.15 * (span - 1)
    control = middle + 2.0 * (bow if middle >= 0 else -bow)
    t = np.linspace(0.0, 1.0, 32)
    xs = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * (x0 + x1) / 2.0 + t**2 * x1
    ys = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * control + t**2 * y1
    return xs, ys


def plot_network(
    genome: Genome, path: str | None = None, show_unused_inputs: bool | None = None
) -> Figure:
    """Draws one genome layered left to right by node depth.

    The bias and inputs form the left column, outputs the right one, hidden
    nodes sit at their longest-path depth in between. Hidden and output nodes
    are coloured by activation (one legend entry per activation present);
    outputs are squares. Only valid, enabled connections are drawn, one line
    each; connections from the bias are dashed.

    Args:
      genome: a single genome (not a population).
      path: where to save a PNG, if given.
      show_unused_inputs: draw inputs without an enabled connection; default:
        only when there are at most ``MAX_SHOWN_INPUTS`` inputs.

    Returns:
      The figure.

    Raises:
      ValueError: for a population (arrays with a leading axis).
    """
    if np.ndim(genome.node_kind) != 1:
        raise ValueError(
            "plot_network draws one genome; index a population first "
            f"(node_kind has shape {np.shape(genome.node_kind)})."
        )
    if show_unused_inputs is None:
        show_unused_inputs = genome.num_inputs <= MAX_SHOWN_INPUTS
    column, height, output_column, left_out, source, target = _network_columns(
        genome, show_unused_inputs
    )
    kind = np.asarray(genome.node_kind)
    act = np.asarray(genome.node_activation)

    tallest = max(list(height.values()) + [0.0]) * 2 + 1
    figure = _new_figure(
        width=min(max(6.0, 2.5 + 1.5 * (output_column + 1)), 30.0),
        height=min(max(3.5, 0.45 * tallest + 2.2), 40.0),
    )
    ax = figure.add_subplot()

    for s, t in zip(source, target):
        from_bias = kind[s] == BIAS
        xs, ys = _connection_path(
            (column[int(s)], height[int(s)]), (column[int(t)], height[int(t)])
        )
        ax.plot(
            xs,
            ys,
            color="#9a9a9a" if from_bias else "#4d4d4d",
            linestyle="--" if from_bias else "-",
            linewidth=0.8,
            alpha=0.75,
            zorder=1,
        )

    font = 8 if tallest <= 40 else 6
    fixed = [n for n in column if kind[n] in (BIAS, INPUT)]
    ax.scatter(
        [column[n] for n in fixed],
        [height[n] for n in fixed],
        s=160,
        c="white",
        edgecolors="black",
        zorder=2,
    )
    for node in fixed:
        label = "bias" if kind[node] == BIAS else f"in {node - 1}"
        ax.annotate(
            label,
            (column[node], height[node]),
            xytext=(-11, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=font,
        )

    present = sorted({int(act[n]) for n in column if kind[n] in (HIDDEN, OUTPUT)})
    for table_id in present:
        for node_kind, marker in ((HIDDEN, "o"), (OUTPUT, "s")):
            nodes = [n for n in column if kind[n] == node_kind and act[n] == table_id]
            if nodes:
                ax.scatter(
                    [column[n] for n in nodes],
                    [height[n] for n in nodes],
                    s=200,
                    marker=marker,
                    c=_activation_colour(table_id),
                    edgecolors="black",
                    zorder=2,
                )
    first_output = 1 + genome.num_inputs
    for node in column:
        if kind[node] == OUTPUT:
            ax.annotate(
                f"out {node - first_output}\n{activation_name(act[node])}",
                (column[node], height[node]),
                xytext=(11, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=font,
            )
        elif kind[node] == HIDDEN:
            ax.annotate(
                activation_name(act[node]),
                (column[node], height[node]),
                xytext=(0, 9),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=font - 1,
            )

    # Proxy handles: one per activation, none of them added to the axes, so
    # the axes' lines stay exactly the connections.
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=9,
            markerfacecolor=_activation_colour(table_id),
            markeredgecolor="black",
            label=activation_name(table_id),
        )
        for table_id in present
    ]
    if handles:
        ax.legend(
            handles=handles,
            title="activation",
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize=8,
            title_fontsize=8,
            frameon=False,
        )

    ax.set_xticks(range(output_column + 1))
    ax.set_xticklabels(
        ["inputs"] + [str(layer) for layer in range(1, output_column)] + ["outputs"]
    )
    ax.set_xlabel("depth (layer)")
    ax.set_xlim(-0.7, output_column + 0.7)
    ax.margins(y=0.06)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    title = _size(
        {
            "hidden_nodes": genome.num_hidden(),
            "connections": genome.num_connections(),
        }
    )
    if left_out:
        title += f" ({left_out} unconnected inputs not shown)"
    ax.set_title(title, fontsize=10)
    _save(figure, path)
    return figure


def _fit_to_the_best(ax, records: list) -> None:
    """Keeps the best curves readable when the population mean dives.

    A few diverging genomes can pull the population mean orders of magnitude
    below the best figures and flatten them into a line. Generations whose
    population mean lies below the outer fence (lower quartile minus three
    interquartile ranges) are then left below the lower limit.
    """
    best = np.concatenate(
        [
            _finite(record.get(key) for record in records)
            for key in ("best_mean", "best_max", "champion_mean")
            if key in records[0]
        ]
        or [np.array([np.nan])]
    )
    population = _finite(record.get("population_mean") for record in records)
    population = population[np.isfinite(population)]
    if np.all(np.isnan(best)) or not population.size:
        return
    lower, upper = np.percentile(population, [25, 75])
    fence = lower - 3.0 * (upper - lower)
    if population.min() >= fence:
        return
    low = min(np.nanmin(best), population[population >= fence].min())
    high = max(np.nanmax(best), population.max())
    pad = 0.05 * max(high - low, 1e-6)
    ax.set_ylim(low - pad, high + pad)
    for line in ax.lines:
        if line.get_label() == "population mean":
            line.set_label("population mean (clipped below)")


def plot_search_history(
    history: Iterable[Mapping[str, Any]], path: str | None = None
) -> Figure:
    """Fitness and network size over the generations of a search.

    Args:
      history: per-generation metrics (``ArchitectureSearch.history``, or the
        lines of metrics.jsonl, of which the "search" ones are used).
      path: where to save a PNG, if given.

    Returns:
      The figure: fitness (best mean, best max, population mean, champion
      mean) above, enabled connections (population mean, champion) below.

    Raises:
      ValueError: if the history holds no search generation.
    """
    records = _stage_records(history, "search")
    if not records:
        raise ValueError("The history holds no search generation to plot.")
    generations = [record["generation"] for record in records]
    marker = "o" if len(records) <= 30 else None

    figure = _new_figure(7.5, 6.0)
    fitness_ax, size_ax = figure.subplots(2, 1, sharex=True)
    for key, label in (
        ("best_mean", "best mean over shared weights"),
        ("best_max", "best max over shared weights"),
        ("population_mean", "population mean"),
        ("champion_mean", "champion (best ever) mean"),
    ):
        if key in records[0]:
            fitness_ax.plot(
                generations,
                _finite(record.get(key) for record in records),
                label=label,
                marker=marker,
                markersize=3,
                linestyle=":" if key == "champion_mean" else "-",
            )
    _fit_to_the_best(fitness_ax, records)
    fitness_ax.set_ylabel("fitness")
    fitness_ax.set_title("architecture search")
    fitness_ax.legend(fontsize=8)
    fitness_ax.grid(alpha=0.3)

    for key, label in (
        ("mean_connections", "population mean"),
        ("champion_connections", "champion"),
    ):
        if key in records[0]:
            size_ax.plot(
                generations,
                _finite(record.get(key) for record in records),
                label=label,
                marker=marker,
                markersize=3,
            )
    size_ax.set_ylabel("enabled connections")
    size_ax.set_xlabel("generation")
    _whole_steps(size_ax)
    size_ax.legend(fontsize=8)
    size_ax.grid(alpha=0.3)
    _save(figure, path)
    return figure


def _report_rows(report: Mapping[str, Any]) -> list[tuple]:
    """(label, value, std or None, colour) per bar of a report table."""
    metric = report.get("metric", "accuracy")

    def value(entry):
        if isinstance(entry, Mapping):
            return entry.get("mean", entry.get(metric)), entry.get("std")
        return entry, None

    rows = []
    for weight, entry in report["shared_weight"].items():
        rows.append((f"w = {float(weight):g}", *value(entry), "#4c72b0"))
    if "random_shared" in report:
        rows.append(("random w", *value(report["random_shared"]), "#8c8c8c"))
    if "ensemble" in report:
        rows.append(("ensemble", *value(report["ensemble"]), "#55a868"))
    if "tuned_shared" in report:
        tuned = report["tuned_shared"]
        rows.append((f"tuned w = {tuned['weight']:.3g}", *value(tuned), "#dd8452"))
    if "trained" in report:
        rows.append(("trained", *value(report["trained"]), "#c44e52"))
    return rows


def plot_report(report: Mapping[str, Any], path: str | None = None) -> Figure:
    """Bars of a report: each shared weight, then random / ensemble / tuned / trained.

    Args:
      report: a report dict (report.json) from ``accuracy_table`` or
        ``return_table``: supervised tables give one value per bar, control
        tables a mean with a std, drawn as an error bar.
      path: where to save a PNG, if given.

    Returns:
      The figure.
    """
    metric = report.get("metric", "accuracy")
    rows = _report_rows(report)
    labels = [row[0] for row in rows]
    values = _finite(row[1] for row in rows)
    errors = [row[2] for row in rows]
    has_errors = any(error is not None for error in errors)

    figure = _new_figure(max(6.0, 0.75 * len(rows) + 2.0), 4.5)
    ax = figure.add_subplot()
    ax.bar(
        range(len(rows)),
        np.nan_to_num(values),
        yerr=_finite(e or 0.0 for e in errors) if has_errors else None,
        capsize=4,
        color=[row[3] for row in rows],
        edgecolor="black",
        linewidth=0.5,
    )
    # Values go above the error bar, where they cannot be crossed by it.
    for index, (value, error) in enumerate(zip(values, errors)):
        top = np.nan_to_num(value) + (error or 0.0)
        ax.annotate(
            f"{value:.3g}" if np.isfinite(value) else "n/a",
            (index, top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, rotation=30, ha="right")
    evaluated_on = report.get("evaluated_on")
    ax.set_ylabel(f"{metric} ({evaluated_on})" if evaluated_on else metric)
    ax.set_xlabel("connection weights")
    if metric == "accuracy":
        ax.set_ylim(0.0, 1.08)
    title = f"mean {metric} ± std" if has_errors else metric
    champion = report.get("champion")
    if champion:
        title += f" of the champion ({_size(champion)})"
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    _save(figure, path)
    return figure


def plot_training_curve(
    history: Iterable[Mapping[str, Any]], path: str | None = None
) -> Figure:
    """Stage 2 over time: loss (and validation metrics) or ES returns.

    Args:
      history: per-step metrics of a ``WeightTrainer`` (``epoch``,
        ``train_loss``, ``val_*``) or an ``ESTrainer`` (``generation``,
        ``best_return``, ``mean_return``, ``best_ever_return``), or the lines
        of metrics.jsonl, of which the "train" ones are used.
      path: where to save a PNG, if given.

    Returns:
      The figure; with no steps, empty axes that say so.

    Raises:
      ValueError: for metrics of neither trainer.
    """
    records = _stage_records(history, "train")
    marker = "o" if len(records) <= 30 else None
    if not records:
        figure = _new_figure(6.0, 3.0)
        ax = figure.add_subplot()
        ax.text(0.5, 0.5, "no Stage 2 steps were run", ha="center", va="center")
        ax.set_xlabel("step")
        ax.set_ylabel("value")
        _save(figure, path)
        return figure

    if "train_loss" in records[0]:
        epochs = [record["epoch"] for record in records]
        validation = sorted(key for key in records[0] if key.startswith("val_"))
        figure = _new_figure(7.5, 6.0 if validation else 3.8)
        axes = figure.subplots(2 if validation else 1, 1, sharex=True, squeeze=False)
        loss_ax = axes[0, 0]
        loss_ax.plot(
            epochs,
            _finite(record["train_loss"] for record in records),
            label="training loss",
            marker=marker,
            markersize=3,
        )
        losses = _finite(record["train_loss"] for record in records)
        positive = losses[np.isfinite(losses)]
        if (
            positive.size
            and positive.min() > 0
            and positive.max() > 100 * positive.min()
        ):
            # A loss falling by orders of magnitude is flat on a linear axis.
            loss_ax.set_yscale("log")
        loss_ax.set_ylabel("training loss")
        loss_ax.set_title("weight training")
        loss_ax.legend(fontsize=8)
        loss_ax.grid(alpha=0.3)
        if validation:
            metric_ax = axes[1, 0]
            for key in validation:
                metric_ax.plot(
                    epochs,
                    _finite(record.get(key) for record in records),
                    label=key.replace("_", " "),
                    marker=marker,
                    markersize=3,
                    color="#c44e52",
                )
            metric_ax.set_ylabel(" / ".join(key[4:] for key in validation))
            metric_ax.legend(fontsize=8)
            metric_ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("epoch")
        _whole_steps(axes[-1, 0])
    elif "best_return" in records[0]:
        generations = [record["generation"] for record in records]
        figure = _new_figure(7.5, 4.2)
        ax = figure.add_subplot()
        for key, label, style in (
            ("best_return", "generation best", "-"),
            ("mean_return", "generation mean", "-"),
            ("best_ever_return", "best ever", ":"),
        ):
            if key in records[0]:
                ax.plot(
                    generations,
                    _finite(record.get(key) for record in records),
                    label=label,
                    linestyle=style,
                    marker=marker,
                    markersize=3,
                )
        ax.set_xlabel("ES generation")
        _whole_steps(ax)
        ax.set_ylabel("return")
        ax.set_title("weight training (evolution strategy)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    else:
        raise ValueError(
            "Unrecognised training metrics "
            f"{sorted(records[0])}: expected 'train_loss' (WeightTrainer) or "
            "'best_return' (ESTrainer)."
        )
    _save(figure, path)
    return figure


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
