"""Specification of wannflax.evaluation: one population forward, several algorithms.

Every strategy computes, for each genome and shared weight w, what
``WANN.__call__`` computes with every connection weight set to w. They sum a
node's inputs in different orders, so results agree to float32 rounding, not
bit for bit; chunking never changes a result.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import activations, evaluation, graph, synthetic
from wannflax.genome import Genome
from wannflax.module import WANN, make_module
from wannflax.problems import make_supervised
from wannflax.registry import UnknownNameError
from wannflax.search import ArchitectureSearch, SearchConfig

STRATEGIES = ("node_sequential", "layered_dense", "depth_sorted", "sparse")
NUM_INPUTS, NUM_OUTPUTS, MAX_NODES, MAX_CONNS = 3, 2, 16, 48
ALL_ACTIVATIONS = activations.activation_names()
# Rounding differences between summation orders grow by |w f'| per layer
# (2 pi for sin under w = 2), so a deep chain under the paper's weights turns
# a 1-ulp difference into ~1e-4. Weights of at most 0.5 in magnitude keep the
# comparison at 1e-6 meaningful through every depth here; the paper weights
# are checked through a search on XOR, whose networks are shallow.
SMALL_WEIGHTS = jnp.array([-0.5, -0.25, 0.25, 0.5])


def by_hand(edges, acts, output_acts=("tanh", "linear")):
    first_output = NUM_INPUTS + 1
    acts = {**dict(zip((first_output, first_output + 1), output_acts)), **acts}
    return Genome.from_edges(
        NUM_INPUTS, NUM_OUTPUTS, edges, acts, max_nodes=MAX_NODES, max_conns=MAX_CONNS
    )


def special_genomes():
    """Structures random growth rarely makes; nodes 4, 5 are outputs, 6.. hidden."""
    names = list(ALL_ACTIVATIONS)
    # A chain of 10 hidden nodes, each activation in turn, then fan-out.
    chain = [(1, 6)] + [(6 + i, 7 + i) for i in range(9)] + [(15, 4), (15, 5)]
    chain_acts = {6 + i: names[i % len(names)] for i in range(10)}
    # Fan-in: output 4 reads the bias, every input and six hidden nodes.
    fan_in = [(0, 4), (1, 4), (2, 4), (3, 4)]
    fan_in += [(i % 4, 6 + i) for i in range(6)] + [(6 + i, 4) for i in range(6)]
    fan_in_acts = {6 + i: names[(3 * i + 1) % len(names)] for i in range(6)}
    # Disabled links, a dead node (no way out), a node whose only way out is
    # disabled, and an output feeding the other output.
    tangled = [
        (1, 6),
        (6, 4, False),
        (6, 7),
        (7, 4),
        (2, 8),
        (8, 5, False),
        (3, 9),
        (0, 5),
        (4, 5),
        (2, 4, False),
    ]
    tangled_acts = {6: "sin", 7: "step", 8: "gaussian", 9: "square"}
    return [
        by_hand(chain, chain_acts),
        by_hand(fan_in, fan_in_acts, ("sigmoid", "cos")),
        by_hand(tangled, tangled_acts, ("relu", "abs")),
        by_hand([], {}),  # no connections at all: outputs are act(0)
    ]


def stack(genomes):
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *genomes)


def concatenate(*populations):
    return jax.tree.map(lambda *leaves: jnp.concatenate(leaves), *populations)


def grown(seed, size, shape, **kwargs):
    return synthetic.synthetic_population(
        seed,
        size,
        NUM_INPUTS,
        NUM_OUTPUTS,
        MAX_NODES,
        MAX_CONNS,
        shape=shape,
        activation_pool=ALL_ACTIVATIONS,
        distinct=size,
        **kwargs,
    )


@pytest.fixture(scope="module")
def population():
    """4 hand-built, 20 evolved-looking and 20 deep genomes, every activation."""
    return concatenate(
        stack(special_genomes()),
        grown(0, 20, "evolved", output_activation="tanh", prob_disable=0.15),
        grown(1, 20, "deep", output_activation="sigmoid", prob_disable=0.15),
    )


@pytest.fixture(scope="module")
def module():
    template = Genome.empty(NUM_INPUTS, NUM_OUTPUTS, MAX_NODES, MAX_CONNS)
    return make_module(template, ALL_ACTIVATIONS)


@pytest.fixture(scope="module")
def x():
    # 8 samples x 4 weights: each node's row fills whole vector registers.
    # XLA evaluates sin_pi's polynomial with and without fused multiply-adds
    # in a fusion's vector body and its scalar remainder, so with ragged
    # sizes one element could round differently once a chunk changes the
    # array size; a genome's result would then depend on its chunk.
    return jax.random.uniform(
        jax.random.PRNGKey(7), (8, NUM_INPUTS), minval=-1, maxval=1
    )


@pytest.fixture(scope="module")
def reference(module, population, x):
    """WANN.__call__ with every connection weight set to w, per genome and w."""

    @jax.jit
    def apply_all(population):
        def one(genome, w):
            variables = {
                "params": {"conn_weights": jnp.full((MAX_CONNS,), w)},
                "genome": genome.arrays(),
            }
            return module.apply(variables, x)

        per_weight = jax.vmap(one, in_axes=(None, 0))
        return jax.vmap(per_weight, in_axes=(0, None))(population, SMALL_WEIGHTS)

    return apply_all(population)


@pytest.fixture(scope="module")
def evaluated(module, population, x):
    """Each strategy's outputs, whole and in chunks of 5 (one program each)."""
    results = {}
    for strategy in STRATEGIES:

        @jax.jit
        def both(population, strategy=strategy):
            whole = evaluation.population_outputs(
                module, population, x, SMALL_WEIGHTS, strategy
            )
            chunked = evaluation.population_outputs(
                module, population, x, SMALL_WEIGHTS, strategy, chunk_size=5
            )
            return whole, chunked

        results[strategy] = both(population)
    return results


def test_the_test_population_covers_the_hard_cases(population):
    for i in range(population.node_kind.shape[0]):
        population.index(i).validate()
    used = np.unique(np.asarray(population.node_activation)[population.node_valid])
    assert len(used) == len(ALL_ACTIVATIONS)
    depths = np.asarray(jax.vmap(graph.num_layers)(population))
    assert depths.max() >= 11  # the chain: 10 hidden nodes, then the output
    assert np.any(population.conn_valid & ~population.conn_enabled)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_equals_apply_with_every_weight_set_to_w(
    strategy, evaluated, reference
):
    whole, _ = evaluated[strategy]

    chex.assert_shape(whole, (44, 4, 8, NUM_OUTPUTS))
    chex.assert_tree_all_finite(whole)
    np.testing.assert_allclose(whole, reference, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_chunks_give_exactly_the_whole_population_result(strategy, evaluated):
    # 44 genomes in chunks of 5: the last chunk is padded and cut again.
    whole, chunked = evaluated[strategy]

    np.testing.assert_array_equal(chunked, whole)


def test_the_hand_built_chain_matches_its_closed_form(evaluated, x):
    # Inputs x1 -> chain of the activations in table order -> tanh / linear
    # outputs; each link multiplies by w.
    whole, _ = evaluated["depth_sorted"]
    names = list(ALL_ACTIVATIONS)
    for k, w in enumerate(np.asarray(SMALL_WEIGHTS)):
        value = np.asarray(x[:, 0], np.float64)
        for i in range(10):
            fn = activations.get(names[i % len(names)]).fn
            value = np.asarray(fn(jnp.float32(w) * jnp.asarray(value, jnp.float32)))
        np.testing.assert_allclose(whole[0, k, :, 0], np.tanh(w * value), atol=1e-6)
        np.testing.assert_allclose(whole[0, k, :, 1], w * value, atol=1e-6)


def test_outputs_that_feed_other_outputs_are_not_taken_for_sinks():
    # Ten outputs (slots 3..12); outputs 3 and 4 read the inputs and feed
    # outputs 5 and 6, so eight outputs are sinks: depth_sorted's deep window
    # is then 8 rows, fewer than the ten output rows, and the outputs that
    # feed others must be computed before the sinks read them.
    edges = [(1, 3), (2, 4), (3, 5), (4, 6), (4, 5), (1, 13), (13, 7), (0, 12)]
    acts = {13: "tanh", **{o: ("sin", "gaussian", "abs")[o % 3] for o in range(3, 13)}}
    genome = Genome.from_edges(2, 10, edges, acts, max_nodes=20, max_conns=16)
    module = make_module(genome, ALL_ACTIVATIONS)
    x = jax.random.uniform(jax.random.PRNGKey(5), (8, 2), minval=-1, maxval=1)

    def apply_one(genome, w):
        variables = {
            "params": {"conn_weights": jnp.full((16,), w)},
            "genome": genome.arrays(),
        }
        return module.apply(variables, x)

    # Each population alone: the deep window follows the population's counts.
    for genomes in (stack([genome]), stack([by_hand_wide()])):
        expected = jax.vmap(
            lambda g: jax.vmap(lambda w: apply_one(g, w))(SMALL_WEIGHTS)
        )(genomes)
        # depth_sorted is the strategy that orders sinks last.
        outputs = evaluation.population_outputs(
            module, genomes, x, SMALL_WEIGHTS, "depth_sorted"
        )
        np.testing.assert_allclose(outputs, expected, rtol=1e-6, atol=1e-6)
    assert evaluation._depth_counts(stack([genome]), 17).tolist() == [11, 8]


def by_hand_wide():
    """Ten outputs that are all sinks, one of them reading a depth-2 node."""
    edges = [(0, 13), (13, 14), (14, 12), (1, 3), (2, 7)]
    return Genome.from_edges(
        2, 10, edges, {13: "relu", 14: "cos"}, max_nodes=20, max_conns=16
    )


def test_width_buckets_and_reduce_inside_chunks(module, population, x, evaluated):
    # Buckets wider than any genome's used width are exact; reduce sees each
    # chunk's [p, K, B, outputs] block and its results are concatenated.
    whole, _ = evaluated["layered_dense"]
    reduced = jax.jit(
        lambda p: evaluation.population_outputs(
            module,
            p,
            x,
            SMALL_WEIGHTS,
            "layered_dense",
            width=(6, 12, MAX_NODES - NUM_INPUTS - 1),
            chunk_size=8,
            reduce=lambda outputs: outputs.sum(axis=(2, 3)),
        )
    )(population)

    chex.assert_shape(reduced, (44, 4))
    np.testing.assert_allclose(reduced, whole.sum(axis=(2, 3)), rtol=1e-6, atol=1e-6)


def test_a_batch_too_large_for_the_cache_is_evaluated_in_slices(module):
    # 4 weights x 36 000 samples x 12 slots x 4 bytes = 6.9 MB > 6 MiB: two
    # slices of 18 000 samples, with the same results as one pass.
    genomes = stack(special_genomes())
    x = jax.random.uniform(jax.random.PRNGKey(3), (36_000, NUM_INPUTS))
    assert evaluation.auto_sample_slices(4, 36_000, MAX_NODES - NUM_INPUTS - 1) == 2

    def outputs(chunk_size):
        return evaluation.population_outputs(
            module, genomes, x, SMALL_WEIGHTS, "layered_dense", chunk_size=chunk_size
        )

    np.testing.assert_array_equal(outputs(-1), outputs(None))


def test_auto_picks_the_documented_strategy_and_chunk():
    assert evaluation.auto_strategy(32, 192) == "node_sequential"
    assert evaluation.auto_strategy(64, 384) == "depth_sorted"
    assert evaluation.auto_strategy(128, 768) == "depth_sorted"
    # Digits: [6 weights x 1000 samples x 63 slots] float32 is 1.5 MB, so
    # four genomes per 6 MiB chunk; iris-sized problems fit the whole
    # population.
    assert evaluation.auto_chunk_size(256, 6, 1000, 63) == 4
    assert evaluation.auto_chunk_size(16, 6, 60, 11) == 16
    # 6 MiB / (4 bytes x 6 x 100 x 28) = 93.6 genomes.
    assert evaluation.auto_chunk_size(4096, 6, 100, 28) == 93


def test_unknown_strategy_names_list_the_valid_ones(module, population, x):
    valid = "auto, depth_sorted, layered_dense, node_sequential, sparse"
    with pytest.raises(UnknownNameError, match=f"'fastest'.*{valid}"):
        evaluation.population_outputs(module, population, x, SMALL_WEIGHTS, "fastest")
    with pytest.raises(UnknownNameError, match=f"SearchConfig.evaluation.*{valid}"):
        SearchConfig(evaluation="fastest").validate(2, 1)


@pytest.mark.parametrize("chunk", [-2, 1.5, True, "4"])
def test_a_bad_population_chunk_is_refused_naming_the_field(chunk):
    with pytest.raises(ValueError, match="SearchConfig.population_chunk"):
        SearchConfig(population_chunk=chunk).validate(2, 1)


class MaxAggregation(WANN):
    """Each node takes the largest weighted input instead of the sum."""

    def aggregate(self, values, weights):
        weighted = values[..., :, None] * weights
        present = weights != 0
        largest = jnp.max(jnp.where(present, weighted, -jnp.inf), axis=-2)
        return jnp.where(jnp.any(present, axis=0), largest, 0.0)


class SoftsignEverywhere(WANN):
    """Every node applies x / (1 + |x|), whatever its activation id."""

    def activate(self, pre_activations, activation_ids):
        return pre_activations / (1.0 + jnp.abs(pre_activations))


@pytest.mark.parametrize("module_class", [MaxAggregation, SoftsignEverywhere])
def test_subclasses_keep_their_own_node_update(module_class, x):
    # Another aggregation falls back to the subclass's sweep; another
    # activation is called through module.apply inside the fast paths.
    genomes = stack(special_genomes())
    module = make_module(genomes.index(0), ALL_ACTIVATIONS, module_class=module_class)
    expected = jax.vmap(
        lambda g: module.apply(
            {"genome": g.arrays()}, x, SMALL_WEIGHTS, method=module.sweep
        )
    )(genomes)

    outputs = evaluation.population_outputs(
        module, genomes, x, SMALL_WEIGHTS, "depth_sorted", chunk_size=3
    )

    # Were the override ignored, the table's functions (or sums) would show.
    np.testing.assert_allclose(outputs, expected, rtol=1e-6, atol=1e-6)


def test_each_strategy_runs_the_default_search_alike():
    # The default is auto (node_sequential at 12 node slots). One full run
    # with depth_sorted must reproduce its champion and history; for the
    # other strategies, equal fitness on every population of the run means
    # the same ranking, hence the same run.
    problem = make_supervised("xor", batch_size=4)
    settings = dict(pop_size=24, max_nodes=12, max_connections=32, seed=2)
    default = ArchitectureSearch(problem, SearchConfig(**settings))
    populations = []
    for _ in range(6):
        populations.append(default.state.population)
        default.run(1, log_every=0)
    other = ArchitectureSearch(
        problem, SearchConfig(**settings, evaluation="depth_sorted")
    )
    other.run(6, log_every=0)

    assert other.trace_count == 1
    chex.assert_trees_all_equal(other.champion, default.champion)
    assert [row["best_mean"] for row in other.history] == pytest.approx(
        [row["best_mean"] for row in default.history], rel=1e-6
    )
    assert [row["mean_connections"] for row in other.history] == [
        row["mean_connections"] for row in default.history
    ]
    key = jax.random.PRNGKey(3)
    default_evaluate = jax.jit(default.evaluate)
    for strategy in ("layered_dense", "sparse"):
        config = SearchConfig(**settings, evaluation=strategy)
        evaluate = jax.jit(ArchitectureSearch(problem, config).evaluate)
        for population in populations:
            np.testing.assert_allclose(
                evaluate(population, key),
                default_evaluate(population, key),
                rtol=1e-6,
                atol=1e-6,
            )
