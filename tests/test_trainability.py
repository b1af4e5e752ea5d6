"""Specification of trainability-aware search (wannflax.trainability).

Zero-cost proxies enter the WANN ranking in one of three ways (hybrid,
sequential, pareto) inside the one jitted generation step; "none" is the WANN
search unchanged. Also here: the numpy rank correlations the proxy study uses.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import proxies, ranking, trainability
from wannflax.correlation import average_ranks, kendall_tau_b, spearman
from wannflax.genome import Genome
from wannflax.module import make_module
from wannflax.problems import SupervisedProblem
from wannflax.proxies import UNDEFINED
from wannflax.registry import UnknownNameError
from wannflax.search import ArchitectureSearch, SearchConfig

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_Y = np.array([0, 1, 1, 0])
GENERATIONS = 4


def xor_problem(loss="cross_entropy"):
    y = XOR_Y if loss == "cross_entropy" else XOR_Y[:, None].astype(np.float32)
    return SupervisedProblem(XOR_X, y, loss_fn=loss, batch_size=4)


def small_config(**overrides):
    settings = dict(
        pop_size=16,
        max_nodes=7,  # two hidden slots: one depth bucket, a quick compile
        max_connections=16,
        prob_mean_connections=0.0,
        tournament_size=4,
        proxies=("synflow", "snip"),
        proxy_batch_size=4,
        seed=3,
    )
    settings.update(overrides)
    return SearchConfig(**settings)


# A ranking that records the objectives' shape at trace time, so a test can
# see what the search hands to NSGA-II.
RECORDED_SHAPES = []


@ranking.RANKINGS.register("recording_nsga2", overwrite=True)
def recording_nsga2(objectives, valid=None):
    RECORDED_SHAPES.append(tuple(objectives.shape))
    return ranking.nsga2_rank(objectives, valid)


RUNS = {
    "none": dict(proxy_strategy="none"),
    "hybrid_mix_0": dict(proxy_strategy="hybrid", proxy_mix=0.0),
    "hybrid": dict(proxy_strategy="hybrid", proxy_mix=0.5),
    "sequential": dict(proxy_strategy="sequential", proxy_top_fraction=0.25),
    "pareto": dict(proxy_strategy="pareto", ranking="recording_nsga2"),
}


@pytest.fixture(scope="module")
def searches():
    """One small XOR search per strategy, each run GENERATIONS generations."""
    runs = {}
    for name, overrides in RUNS.items():
        search = ArchitectureSearch(xor_problem(), small_config(**overrides))
        search.run(GENERATIONS, log_every=0)
        runs[name] = search
    return runs


def wann_keys(history):
    return [{k: v for k, v in row.items() if "proxy" not in k} for row in history]


# -- none is the WANN search --------------------------------------------------


def test_none_returns_the_wann_objectives_untouched_and_no_metrics():
    config = small_config()
    search_module = make_module(
        Genome.empty(2, 2, config.max_nodes, config.max_connections)
    )
    proxy_ranking = trainability.ProxyRanking(config, xor_problem(), search_module)
    objectives = jnp.arange(6.0).reshape(3, 2)

    result, metrics = proxy_ranking(None, None, objectives, None, None)

    # The very same array and no extra metric: nothing enters the trace.
    assert result is objectives
    assert metrics == {}


def test_hybrid_with_mix_0_ranks_exactly_like_none(searches):
    none, hybrid = searches["none"], searches["hybrid_mix_0"]

    # Same populations, champion and WANN metrics; the proxies are only logged.
    assert not any("proxy" in key for key in none.history[0])
    assert wann_keys(hybrid.history) == none.history
    assert_trees_equal(hybrid.champion, none.champion)
    assert_trees_equal(hybrid.state.population, none.state.population)
    assert "champion_proxy_synflow" in hybrid.history[-1]


def assert_trees_equal(a, b):
    for left, right in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(left), np.asarray(right))


# -- every strategy runs in the one compiled step -----------------------------


@pytest.mark.parametrize("name", ["hybrid", "sequential", "pareto"])
def test_each_strategy_runs_with_one_trace_and_logs_proxy_metrics(searches, name):
    search = searches[name]

    assert search.trace_count == 1
    assert len(search.history) == GENERATIONS
    last = search.history[-1]
    for key in (
        "champion_proxy_synflow",
        "champion_proxy_snip",
        "proxy_undefined",
        "proxy_fitness_spearman",
    ):
        assert key in last, key
    # The champion is still the best mean fitness ever seen.
    assert last["champion_mean"] == max(row["best_mean"] for row in search.history)


@pytest.mark.parametrize("name", ["hybrid", "sequential", "pareto"])
def test_the_same_seed_gives_the_same_run(searches, name):
    search = searches[name]
    first = (list(search.history), jax.device_get(search.state))

    search.state = search.init(jax.random.PRNGKey(search.config.seed))
    search.history = []
    search.run(GENERATIONS, log_every=0)

    assert search.history == first[0]
    assert_trees_equal(search.state, first[1])
    assert search.trace_count == 1


def test_a_proxy_strategy_changes_the_search(searches):
    # Mixing in the proxy rank must matter, or the feature does nothing.
    assert wann_keys(searches["hybrid"].history) != searches["none"].history


def test_pareto_hands_three_objectives_to_nsga2(searches):
    assert searches["pareto"].trace_count == 1
    assert RECORDED_SHAPES == [(16, 3)]


# -- the strategies' objectives, on a hand-made population --------------------

# XOR genomes: node 0 bias, 1-2 inputs, 3-4 outputs, 5 hidden.
EDGE_SETS = [
    [(1, 3), (2, 4)],
    [(0, 3), (1, 4), (2, 3)],
    [(1, 5), (5, 3), (2, 4)],
    [(1, 3)],
    [],
    [(2, 3), (2, 4)],
    [(1, 5), (2, 5), (5, 3), (5, 4)],
    [(0, 4)],
]
FITNESS_MEAN = np.array([0.1, 0.5, -0.2, 0.9, -np.inf, 0.3, 0.7, 0.0], np.float32)
TOP_THREE = [3, 6, 1]  # best mean fitness first


def hand_population():
    genomes = [
        Genome.from_edges(2, 2, edges, max_nodes=8, max_conns=8) for edges in EDGE_SETS
    ]
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *genomes)


def hand_ranking(**overrides):
    config = SearchConfig(
        pop_size=len(EDGE_SETS),
        max_nodes=8,
        max_connections=8,
        proxies=("snip", "synflow"),
        proxy_batch_size=4,
        **overrides,
    )
    config.validate(2, 2)
    module = make_module(Genome.empty(2, 2, 8, 8))
    return trainability.ProxyRanking(config, xor_problem(), module)


def hand_scores(proxy_ranking):
    population = hand_population()
    x, y = proxy_ranking.batch(jax.random.PRNGKey(0))
    champion = population.index(3)

    @jax.jit
    def scores(population, fitness_mean, champion, x, y):
        return proxy_ranking.population_scores(
            population, fitness_mean, champion, x, y, jax.random.key(0)
        )

    return scores(population, jnp.asarray(FITNESS_MEAN), champion, x, y)


@pytest.fixture(scope="module")
def whole_scores():
    """The hand population scored whole (as hybrid and pareto score it)."""
    return hand_scores(hand_ranking(proxy_strategy="hybrid"))


@pytest.fixture(scope="module")
def sequential():
    """A sequential ranking over the top ceil(0.3 * 8) = 3 genomes, mix 1."""
    proxy_ranking = hand_ranking(
        proxy_strategy="sequential", proxy_top_fraction=0.3, proxy_mix=1.0
    )
    return proxy_ranking, hand_scores(proxy_ranking)


def test_the_step_scores_genomes_as_the_public_proxy_api_does(whole_scores):
    # The search scores at a bucketed static depth inside its own jit; the
    # values are those compute_population gives for the same batch and key.
    population = hand_population()
    x, y = hand_ranking(proxy_strategy="hybrid").batch(jax.random.PRNGKey(0))
    expected = proxies.compute_population(
        ["snip", "synflow"],
        make_module(population),
        proxies.population_variables(population, 1.0),
        x,
        y,
        jax.random.key(0),
    )
    for name in ("snip", "synflow"):
        np.testing.assert_allclose(
            whole_scores.raw[name], expected[name], rtol=1e-5, err_msg=name
        )
        # The champion (genome 3) rides along in the same call.
        np.testing.assert_allclose(whole_scores.champion[name], expected[name][3])
    assert np.all(np.asarray(whole_scores.scored))


def test_sequential_scores_only_the_top_group(sequential, whole_scores):
    _, scores = sequential

    np.testing.assert_array_equal(scores.top, TOP_THREE)
    scored = np.zeros(8, bool)
    scored[TOP_THREE] = True
    np.testing.assert_array_equal(scores.scored, scored)
    # snip is finite for every genome it scores (0 without connections), so
    # finite scores mark exactly the genomes that were scored.
    np.testing.assert_array_equal(np.isfinite(scores.raw["snip"]), scored)
    assert np.all(np.asarray(scores.raw["snip"])[~scored] == UNDEFINED)
    assert np.all(np.isneginf(np.asarray(scores.aggregated)[~scored]))
    # Gathered, scored and scattered back to the right genomes.
    for name in ("snip", "synflow"):
        np.testing.assert_allclose(
            np.asarray(scores.raw[name])[TOP_THREE],
            np.asarray(whole_scores.raw[name])[TOP_THREE],
            rtol=1e-6,
        )
    # The aggregation ranks within the top group only.
    expected = proxies.aggregate(
        "az_log_rank",
        {n: np.asarray(v)[TOP_THREE] for n, v in whole_scores.raw.items()},
    )
    np.testing.assert_allclose(
        np.asarray(scores.aggregated)[TOP_THREE], expected, rtol=1e-6
    )


def test_sequential_keeps_the_top_group_above_the_rest(sequential):
    proxy_ranking, scores = sequential
    objectives = np.asarray(
        proxy_ranking.objectives(jnp.asarray(FITNESS_MEAN), jnp.zeros((8, 2)), scores)
    )
    column = objectives[:, 0]
    rest = [i for i in range(8) if i not in TOP_THREE]

    assert (
        column[TOP_THREE].min() >= 1.0 > column[rest][np.isfinite(column[rest])].max()
    )
    # With mix 1 the top group is ordered by the proxy alone.
    proxy_order = np.argsort(-np.asarray(scores.aggregated)[TOP_THREE], kind="stable")
    column_order = np.argsort(-column[TOP_THREE], kind="stable")
    np.testing.assert_array_equal(proxy_order, column_order)
    # Non-finite fitness stays the worst whatever the proxies say.
    assert column[4] == -np.inf


def test_hybrid_mixes_normalised_ranks_of_fitness_and_proxy(whole_scores):
    proxy_ranking = hand_ranking(proxy_strategy="hybrid", proxy_mix=0.25)
    scores = whole_scores
    second = jnp.arange(8.0)
    objectives = np.asarray(
        proxy_ranking.objectives(
            jnp.asarray(FITNESS_MEAN), jnp.stack([jnp.zeros(8), second], 1), scores
        )
    )

    fitness_rank = (average_ranks(FITNESS_MEAN) - 1) / 7
    proxy_rank = (average_ranks(np.asarray(scores.aggregated)) - 1) / 7
    expected = 0.75 * fitness_rank + 0.25 * proxy_rank
    expected[4] = -np.inf
    np.testing.assert_allclose(objectives[:, 0], expected, rtol=1e-6)
    np.testing.assert_array_equal(objectives[:, 1], second)  # unchanged


def test_pareto_adds_the_aggregated_proxy_as_a_third_objective(whole_scores):
    proxy_ranking = hand_ranking(proxy_strategy="pareto")
    scores = whole_scores
    wann = jnp.stack([jnp.asarray(FITNESS_MEAN), jnp.arange(8.0)], 1)
    objectives = np.asarray(
        proxy_ranking.objectives(jnp.asarray(FITNESS_MEAN), wann, scores)
    )

    assert objectives.shape == (8, 3)
    np.testing.assert_array_equal(objectives[:, :2], wann)
    expected = np.asarray(proxies.aggregate("az_log_rank", scores.raw)).copy()
    expected[4] = -np.inf
    np.testing.assert_allclose(objectives[:, 2], expected, rtol=1e-6)


def test_depth_buckets_end_at_the_exact_bound():
    # Buckets 2, 8, 32, ... that at least halve the steps, then the bound.
    assert trainability.depth_buckets(63) == (2, 8, 63)
    assert trainability.depth_buckets(31) == (2, 8, 31)
    assert trainability.depth_buckets(5) == (2, 5)
    assert trainability.depth_buckets(4) == (4,)
    assert trainability.depth_buckets(1) == (1,)


# -- bad settings are refused -------------------------------------------------


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("proxy_strategy", "greedy", "proxy_strategy must be one of none, hybrid"),
        ("proxies", (), "SearchConfig.proxies must be a non-empty list"),
        ("proxies", "snip", "SearchConfig.proxies must be a non-empty list"),
        ("proxies", ("snip", "snip"), "names a proxy twice"),
        ("proxy_weights", (1.0,), "proxy_weights must be empty .* one finite"),
        ("proxy_weights", (1.0, -1.0), "proxy_weights"),
        ("proxy_mix", 1.5, r"proxy_mix must lie in \[0, 1\]"),
        ("proxy_top_fraction", 0.0, r"proxy_top_fraction must lie in \(0, 1\]"),
        ("proxy_batch_size", 0, "proxy_batch_size must be a positive int"),
    ],
)
def test_bad_proxy_settings_are_refused_naming_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        ArchitectureSearch(xor_problem(), small_config(**{field: value}))


def test_an_unknown_proxy_is_refused_listing_the_registered_ones():
    with pytest.raises(
        UnknownNameError, match="SearchConfig.proxies: .*'snap'.*snip, synflow"
    ):
        ArchitectureSearch(xor_problem(), small_config(proxies=("synflow", "snap")))


def test_an_unknown_aggregation_is_refused_listing_the_choices():
    with pytest.raises(
        UnknownNameError, match="proxy_aggregation: .*'median'.*az_log_rank"
    ):
        ArchitectureSearch(xor_problem(), small_config(proxy_aggregation="median"))


def test_label_proxies_on_a_problem_without_labels_are_refused():
    with pytest.raises(ValueError, match=r"\['snip'\] need integer class labels"):
        ArchitectureSearch(xor_problem("mse"), small_config(proxy_strategy="hybrid"))
    # Label-free proxies are fine there.
    ArchitectureSearch(
        xor_problem("mse"),
        small_config(proxy_strategy="hybrid", proxies=("synflow", "jacob_cov")),
    )


class EpisodeProblem:
    """Stands in for a control task: scores policies, draws no data batches."""

    num_inputs, num_outputs = 2, 2

    def population_fitness(self, policy, population, weights, key):
        raise AssertionError("never evaluated in this test")


def test_proxy_strategies_on_control_tasks_are_refused():
    with pytest.raises(ValueError, match="needs a problem that draws data batches"):
        ArchitectureSearch(EpisodeProblem(), small_config(proxy_strategy="pareto"))


def test_a_proxy_batch_larger_than_the_generation_batch_is_refused():
    with pytest.raises(ValueError, match="proxy_batch_size=8 exceeds the 4 samples"):
        ArchitectureSearch(
            xor_problem(), small_config(proxy_strategy="hybrid", proxy_batch_size=8)
        )


# -- rank correlations, by hand ------------------------------------------------


def test_spearman_without_ties_is_one_minus_six_sum_d2_over_n_n2_minus_1():
    # d = (0, 1, 1, 0): 1 - 6 * 2 / (4 * 15) = 0.8.
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)


def test_spearman_with_ties_is_pearson_of_average_ranks():
    # Ranks (1, 2.5, 2.5, 4) and (1, 2, 3.5, 3.5); centred products sum to
    # 3.75 and both centred squares to 4.5: rho = 3.75 / 4.5.
    assert spearman([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(3.75 / 4.5)


def test_kendall_tau_b_with_ties():
    # Six pairs: four concordant, none discordant, one tied only in a and one
    # only in b: tau-b = 4 / sqrt(5 * 5) = 0.8.
    assert kendall_tau_b([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    # A full reversal without ties is -1.
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_undefined_scores_tie_for_the_lowest_rank():
    undefined = [-math.inf, -math.inf, 1.0, 2.0]
    assert spearman(undefined, [0, 0, 1, 2]) == pytest.approx(1.0)
    assert kendall_tau_b(undefined, [0, 0, 1, 2]) == pytest.approx(1.0)


def test_a_constant_signal_has_no_rank_correlation():
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="NaN"):
        spearman([1, math.nan], [1, 2])
