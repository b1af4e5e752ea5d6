"""Pictures of a run: what each figure shows, and that each saves a real PNG."""

import logging
import os

import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

import wannflax
from wannflax import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _genome():
    # 0 bias, 1..3 inputs, 4..5 outputs, 6 tanh and 8 sin at depth 1, 7 relu at
    # depth 2. Eight enabled connections, one disabled (1->5), five padding
    # slots (max_conns=14) and three padding nodes (max_nodes=12).
    return wannflax.Genome.from_edges(
        num_inputs=3,
        num_outputs=2,
        edges=[
            (1, 6),
            (2, 6),
            (6, 7),
            (3, 7),
            (7, 4),
            (0, 4),
            (6, 5),
            (1, 5, False),
            (2, 8),
        ],
        activations={6: "tanh", 7: "relu", 4: "sigmoid", 5: "sigmoid", 8: "sin"},
        max_nodes=12,
        max_conns=14,
    )


def _search_history():
    return [
        {
            "generation": g,
            "best_mean": -0.7 + 0.1 * g,
            "best_max": -0.5 + 0.1 * g,
            "population_mean": -0.9 + 0.1 * g,
            "mean_connections": 3.0 + g,
            "champion_mean": -0.7 + 0.1 * g,
            "champion_max": -0.5 + 0.1 * g,
            "champion_connections": 2 + g,
            "champion_hidden": 1,
        }
        for g in range(5)
    ]


def _supervised_report():
    return {
        "metric": "accuracy",
        "shared_weight": {
            "-2.0": 0.5,
            "-1.0": 0.75,
            "-0.5": 0.75,
            "0.5": 1.0,
            "1.0": 1.0,
            "2.0": 0.75,
        },
        "ensemble": 1.0,
        "tuned_shared": {"weight": 0.8, "accuracy": 1.0},
        "trained": 1.0,
        "evaluated_on": "train",
        "champion": {"hidden_nodes": 1, "connections": 5},
    }


def _control_report():
    def row(mean, std):
        return {"mean": mean, "std": std}

    return {
        "metric": "return",
        "episodes": 10,
        "shared_weight": {
            w: row(100.0 + i * 10, 5.0 + i)
            for i, w in enumerate(["-2.0", "-1.0", "-0.5", "0.5", "1.0", "2.0"])
        },
        "random_shared": row(90.0, 20.0),
        "tuned_shared": {"weight": 1.5, **row(200.0, 3.0)},
        "trained": row(480.0, 10.0),
        "evaluated_on": "10 test episodes",
    }


def _epochs():
    return [
        {"epoch": e, "train_loss": 1.0 / (e + 1), "val_accuracy": 0.5 + 0.1 * e}
        for e in range(4)
    ]


def _es_generations():
    return [
        {
            "generation": g,
            "best_return": 50.0 * g,
            "mean_return": 20.0 * g,
            "best_ever_return": 50.0 * g,
            "nonfinite": 0,
        }
        for g in range(3)
    ]


def _texts(ax):
    return [text.get_text() for text in ax.texts]


def _bars(ax):
    # With error bars the axes hold an ErrorbarContainer too; take the bars.
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    return bars


# -- the network -------------------------------------------------------------


def test_network_draws_one_line_per_enabled_connection_only():
    ax = plots.plot_network(_genome()).axes[0]
    # 9 edges given, 1 disabled, 5 padding slots: 8 lines, no more.
    assert len(ax.lines) == 8


def test_network_legend_names_each_activation_present_once():
    ax = plots.plot_network(_genome()).axes[0]
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "activation"
    names = [text.get_text() for text in legend.get_texts()]
    # Both outputs are sigmoid: one entry. Inputs and bias have no activation.
    assert sorted(names) == ["relu", "sigmoid", "sin", "tanh"]


def test_network_labels_inputs_outputs_and_hidden_activations():
    texts = _texts(plots.plot_network(_genome()).axes[0])
    for label in ("bias", "in 0", "in 1", "in 2", "out 0\nsigmoid", "out 1\nsigmoid"):
        assert label in texts
    assert sorted(t for t in texts if t in ("tanh", "relu", "sin")) == [
        "relu",
        "sin",
        "tanh",
    ]


def test_network_layers_by_depth_inputs_left_outputs_right():
    ax = plots.plot_network(_genome()).axes[0]
    column = {text.get_text(): text.xy[0] for text in ax.texts}
    # tanh and sin read inputs (depth 1), relu reads tanh (depth 2), so the
    # outputs take column 3, one right of the deepest hidden node.
    assert column["bias"] == column["in 0"] == column["in 2"] == 0
    assert column["tanh"] == column["sin"] == 1
    assert column["relu"] == 2
    assert column["out 0\nsigmoid"] == column["out 1\nsigmoid"] == 3
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "inputs",
        "1",
        "2",
        "outputs",
    ]
    assert ax.get_xlabel() == "depth (layer)"
    assert ax.get_title() == "3 hidden nodes, 8 connections"


def test_network_with_many_inputs_leaves_the_unconnected_ones_out():
    genome = wannflax.Genome.from_edges(
        num_inputs=40, num_outputs=1, edges=[(3, 41), (7, 41)]
    )
    ax = plots.plot_network(genome).axes[0]
    shown = sorted(t for t in _texts(ax) if t.startswith("in "))
    # Inputs are 0-based: nodes 3 and 7 are inputs 2 and 6.
    assert shown == ["in 2", "in 6"]
    assert "38 unconnected inputs not shown" in ax.get_title()

    ax = plots.plot_network(genome, show_unused_inputs=True).axes[0]
    assert sum(t.startswith("in ") for t in _texts(ax)) == 40


def test_network_of_a_genome_without_connections_still_draws():
    genome = wannflax.Genome.empty(2, 1, max_nodes=6, max_conns=4)
    ax = plots.plot_network(genome).axes[0]
    assert len(ax.lines) == 0
    # The output is linear (id 0), the one activation present.
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["linear"]


def test_network_refuses_a_population():
    population = wannflax.Genome.from_arrays(
        {k: v[None] for k, v in _genome().arrays().items()}, 3, 2
    )
    with pytest.raises(ValueError, match="one genome"):
        plots.plot_network(population)


# -- curves and the report -----------------------------------------------------


def test_search_history_shows_fitness_and_connections_per_generation():
    figure = plots.plot_search_history(_search_history())
    fitness_ax, size_ax = figure.axes
    assert fitness_ax.get_ylabel() == "fitness"
    assert size_ax.get_ylabel() == "enabled connections"
    assert size_ax.get_xlabel() == "generation"
    labels = [t.get_text() for t in fitness_ax.get_legend().get_texts()]
    assert labels[:3] == [
        "best mean over shared weights",
        "best max over shared weights",
        "population mean",
    ]
    best_mean = fitness_ax.lines[0]
    assert list(best_mean.get_xdata()) == [0, 1, 2, 3, 4]
    assert best_mean.get_ydata()[4] == pytest.approx(-0.3)
    assert [t.get_text() for t in size_ax.get_legend().get_texts()] == [
        "population mean",
        "champion",
    ]


def test_search_history_clips_population_dives_that_would_flatten_the_best():
    history = _search_history()
    history[2]["population_mean"] = -1000.0  # one generation of diverging genomes
    fitness_ax = plots.plot_search_history(history).axes[0]
    # Without clipping the best curves (-0.7 .. -0.1) would span 0.1 % of the
    # axis; the lower limit stops near the population's 10th percentile.
    low, high = fitness_ax.get_ylim()
    assert -1.0 < low < -0.7 and high > -0.1
    labels = [t.get_text() for t in fitness_ax.get_legend().get_texts()]
    assert "population mean (clipped below)" in labels

    # An ordinary spread of the population mean is shown whole.
    fitness_ax = plots.plot_search_history(_search_history()).axes[0]
    assert fitness_ax.get_ylim()[0] < -0.9


def test_search_history_takes_metrics_jsonl_lines_and_skips_other_stages():
    lines = [{"stage": "search", **m} for m in _search_history()] + [
        {"stage": "train", "epoch": 0, "train_loss": 0.3}
    ]
    fitness_ax = plots.plot_search_history(lines).axes[0]
    assert len(fitness_ax.lines[0].get_xdata()) == 5


def test_search_history_without_generations_is_an_error():
    with pytest.raises(ValueError, match="no search generation"):
        plots.plot_search_history([])


def test_supervised_report_has_a_bar_per_weight_then_ensemble_tuned_trained():
    ax = plots.plot_report(_supervised_report()).axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [
        "w = -2",
        "w = -1",
        "w = -0.5",
        "w = 0.5",
        "w = 1",
        "w = 2",
        "ensemble",
        "tuned w = 0.8",
        "trained",
    ]
    heights = [bar.get_height() for bar in _bars(ax)]
    assert heights == [0.5, 0.75, 0.75, 1.0, 1.0, 0.75, 1.0, 1.0, 1.0]
    assert ax.get_ylabel() == "accuracy (train)"
    assert ax.get_xlabel() == "connection weights"
    # No std in a supervised table: no error bars.
    assert _bars(ax).errorbar is None


def test_control_report_draws_the_std_as_error_bars():
    ax = plots.plot_report(_control_report()).axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[6:] == ["random w", "tuned w = 1.5", "trained"]
    assert ax.get_ylabel() == "return (10 test episodes)"
    bars = _bars(ax)
    assert [bar.get_height() for bar in bars][-1] == 480.0
    # Each error bar spans mean - std .. mean + std: 2 * std long.
    segments = bars.errorbar.lines[2][0].get_segments()
    lengths = [abs(s[1][1] - s[0][1]) for s in segments]
    assert lengths == pytest.approx([10, 12, 14, 16, 18, 20, 40, 6, 20])


def test_training_curve_of_weight_training_shows_loss_and_accuracy():
    figure = plots.plot_training_curve(_epochs())
    loss_ax, metric_ax = figure.axes
    assert loss_ax.get_ylabel() == "training loss"
    assert metric_ax.get_ylabel() == "accuracy"
    assert metric_ax.get_xlabel() == "epoch"
    assert list(loss_ax.lines[0].get_ydata()) == [1.0, 0.5, 1 / 3, 0.25]


def test_training_curve_of_an_evolution_strategy_shows_returns():
    (ax,) = plots.plot_training_curve(_es_generations()).axes
    assert ax.get_xlabel() == "ES generation"
    assert ax.get_ylabel() == "return"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "generation best",
        "generation mean",
        "best ever",
    ]


def test_training_curve_without_steps_says_so_and_unknown_metrics_fail():
    (ax,) = plots.plot_training_curve([]).axes
    assert _texts(ax) == ["no Stage 2 steps were run"]
    with pytest.raises(ValueError, match="train_loss.*best_return"):
        plots.plot_training_curve([{"epoch": 0, "loss": 1.0}])


@pytest.mark.parametrize(
    "draw, data",
    [
        (plots.plot_network, _genome()),
        (plots.plot_search_history, _search_history()),
        (plots.plot_report, _supervised_report()),
        (plots.plot_report, _control_report()),
        (plots.plot_training_curve, _epochs()),
        (plots.plot_training_curve, _es_generations()),
    ],
)
def test_every_figure_saves_a_png(tmp_path, draw, data):
    path = tmp_path / "figure.png"
    assert isinstance(draw(data, str(path)), Figure)
    content = path.read_bytes()
    assert content[:8] == PNG_SIGNATURE
    # A blank 600x400 canvas compresses to ~2 KB; drawn figures are larger.
    assert len(content) > 10_000
    assert os.listdir(tmp_path) == ["figure.png"]  # no half-written leftovers


def test_a_failing_picture_is_a_warning_and_the_others_are_still_written(
    tmp_path, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("no ink")

    monkeypatch.setattr(plots, "plot_network", broken)
    with caplog.at_level(logging.WARNING):
        written = plots.write_run_plots(
            str(tmp_path), _genome(), _search_history(), _epochs(), _supervised_report()
        )
    assert sorted(os.path.basename(p) for p in written) == [
        "report.png",
        "search.png",
        "training.png",
    ]
    assert sorted(os.listdir(tmp_path)) == ["report.png", "search.png", "training.png"]
    assert "Could not draw network.png: RuntimeError: no ink" in caplog.text
