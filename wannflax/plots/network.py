"""The champion network: nodes laid out by depth, coloured by activation.

Columns are longest-path depths (bias and inputs left, outputs right), nodes
within a column are ordered to untangle crossings, and connections that skip
layers are drawn as arcs that bow around the nodes they pass.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from wannflax.activations import activation_name
from wannflax.genome import BIAS, HIDDEN, INPUT, OUTPUT, Genome
from wannflax.graph import node_depths
from wannflax.plots.canvas import new_figure, save_png, size_caption

# Above this many inputs the unconnected ones are left out of the network
# picture: 64 digits pixels or 784 MNIST pixels would bury the graph.
MAX_SHOWN_INPUTS = 32


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
    figure = new_figure(
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
    title = size_caption(
        {
            "hidden_nodes": genome.num_hidden(),
            "connections": genome.num_connections(),
        }
    )
    if left_out:
        title += f" ({left_out} unconnected inputs not shown)"
    ax.set_title(title, fontsize=10)
    save_png(figure, path)
    return figure
