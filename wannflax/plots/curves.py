"""The numbers of a run over time and at its end: search, training, report.

Search and training histories are drawn as curves over generations or epochs
(either an object's own ``history`` or the lines of metrics.jsonl); the
report is drawn as one bar per way of setting the connection weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from wannflax.plots.canvas import new_figure, save_png, size_caption


def _whole_steps(ax) -> None:
    # Generations and epochs are counts; ticks at 0.5 would suggest otherwise.
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _finite(values: Iterable[Any]) -> np.ndarray:
    # Non-finite figures (a generation where every genome diverged) become
    # gaps in a curve instead of dragging the axis limits to infinity.
    array = np.asarray([np.nan if v is None else v for v in values], np.float64)
    return np.where(np.isfinite(array), array, np.nan)


def _stage_records(history: Iterable[Mapping[str, Any]], stage: str) -> list:
    # metrics.jsonl lines carry a "stage"; a trainer's or search's own
    # history does not. Either kind can be passed.
    return [record for record in history if record.get("stage", stage) == stage]


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


def _plot_metrics(ax, records, generations, series, marker, dotted=None) -> None:
    """One line per ``(key, label)`` of ``series`` the records hold.

    The ``dotted`` key's line is drawn dotted.
    """
    for key, label in series:
        if key in records[0]:
            ax.plot(
                generations,
                _finite(record.get(key) for record in records),
                label=label,
                marker=marker,
                markersize=3,
                linestyle=":" if key == dotted else "-",
            )


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

    figure = new_figure(7.5, 6.0)
    fitness_ax, size_ax = figure.subplots(2, 1, sharex=True)
    _plot_metrics(
        fitness_ax,
        records,
        generations,
        (
            ("best_mean", "best mean over shared weights"),
            ("best_max", "best max over shared weights"),
            ("population_mean", "population mean"),
            ("champion_mean", "champion (best ever) mean"),
        ),
        marker,
        dotted="champion_mean",
    )
    _fit_to_the_best(fitness_ax, records)
    fitness_ax.set_ylabel("fitness")
    fitness_ax.set_title("architecture search")
    fitness_ax.legend(fontsize=8)
    fitness_ax.grid(alpha=0.3)

    _plot_metrics(
        size_ax,
        records,
        generations,
        (("mean_connections", "population mean"), ("champion_connections", "champion")),
        marker,
    )
    size_ax.set_ylabel("enabled connections")
    size_ax.set_xlabel("generation")
    _whole_steps(size_ax)
    size_ax.legend(fontsize=8)
    size_ax.grid(alpha=0.3)
    save_png(figure, path)
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

    figure = new_figure(max(6.0, 0.75 * len(rows) + 2.0), 4.5)
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
        title += f" of the champion ({size_caption(champion)})"
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    save_png(figure, path)
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
        figure = new_figure(6.0, 3.0)
        ax = figure.add_subplot()
        ax.text(0.5, 0.5, "no Stage 2 steps were run", ha="center", va="center")
        ax.set_xlabel("step")
        ax.set_ylabel("value")
        save_png(figure, path)
        return figure

    if "train_loss" in records[0]:
        epochs = [record["epoch"] for record in records]
        validation = sorted(key for key in records[0] if key.startswith("val_"))
        figure = new_figure(7.5, 6.0 if validation else 3.8)
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
        figure = new_figure(7.5, 4.2)
        ax = figure.add_subplot()
        _plot_metrics(
            ax,
            records,
            generations,
            (
                ("best_return", "generation best"),
                ("mean_return", "generation mean"),
                ("best_ever_return", "best ever"),
            ),
            marker,
            dotted="best_ever_return",
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
    save_png(figure, path)
    return figure
