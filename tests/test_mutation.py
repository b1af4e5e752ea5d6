"""Specification of wannflax.mutation: the WANN release's four structural changes.

Each child gets exactly one change drawn by roulette (REFERENCE.md section 1):
add connection 0.20 (to a strictly later layer, never out of an output), add
node 0.25 (split an enabled connection), enable 0.05 (re-enable a disabled
connection), change activation 0.50 (a hidden node gets a different function).
A change that has no candidate or no room is skipped and the genome returned
untouched. No sequence of changes may ever break the feed-forward order.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import activations, graph, mutation
from wannflax.genome import HIDDEN, OUTPUT, Genome
from wannflax.registry import UnknownNameError
from wannflax.search import SearchConfig, initial_population

PAPER_PROBABILITIES = jnp.array([0.20, 0.25, 0.05, 0.50])
POOL = mutation.pool_ids_for(activations.CLASSIFICATION_POOL)
ONLY = {name: jnp.eye(4)[index] for index, name in enumerate(mutation.OPERATOR_NAMES)}


def keys(count, seed=0):
    return jax.random.split(jax.random.PRNGKey(seed), count)


def assert_same_genome(a, b):
    chex.assert_trees_all_equal(a, b)


# -- 10 000 random mutations never break the network -----------------------------

POPULATION, ROUNDS = 100, 100  # 10 000 mutations in all
NUM_INPUTS, NUM_OUTPUTS, MAX_NODES, MAX_CONNS = 3, 2, 20, 48
NUM_FIXED = 1 + NUM_INPUTS + NUM_OUTPUTS  # bias, inputs, outputs: 6 slots


def reaches_itself(genome):
    """bool: some node reaches itself over valid connections (a cycle).

    Written independently of graph.node_depths: the transitive closure by
    repeated squaring of the adjacency matrix.
    """
    adjacency = jnp.zeros((genome.max_nodes, genome.max_nodes), jnp.int32)
    adjacency = adjacency.at[genome.conn_source, genome.conn_target].max(
        genome.conn_valid.astype(jnp.int32)
    )
    reach = adjacency
    for _ in range(int(np.ceil(np.log2(genome.max_nodes)))):
        reach = jnp.minimum(reach + reach @ reach, 1)
    return jnp.any(jnp.diagonal(reach) > 0)


def invariants(before, after, operator, applied):
    """Per-genome bool checks of one mutation (vmapped over the population)."""
    kind = after.node_kind
    source, target, valid = after.conn_source, after.conn_target, after.conn_valid
    pairs = source * after.max_nodes + target
    same_pair = (pairs[:, None] == pairs[None, :]) & valid[:, None] & valid[None, :]
    duplicates = jnp.sum(same_pair) - jnp.sum(valid)

    new_conns = after.conn_valid & ~before.conn_valid
    new_nodes = after.node_valid & ~before.node_valid
    was_active = before.conn_valid & before.conn_enabled
    was_disabled = before.conn_valid & ~before.conn_enabled
    disabled_now = was_active & ~after.conn_enabled
    enabled_now = was_disabled & after.conn_enabled
    act_changed = after.node_activation != before.node_activation
    changed_node = jnp.argmax(act_changed)
    count = jnp.sum

    unchanged = jnp.all(
        jnp.stack(
            [
                jnp.all(a == b)
                for a, b in zip(
                    jax.tree.leaves(before), jax.tree.leaves(after), strict=True
                )
            ]
        )
    )
    exactly_one_change = jnp.select(
        [~applied, operator == 0, operator == 1, operator == 2, operator == 3],
        [
            unchanged,
            # add connection: one new enabled connection, nothing else.
            (count(new_conns) == 1)
            & jnp.all(after.conn_enabled | ~new_conns)
            & (count(new_nodes) == 0)
            & (count(disabled_now) == 0)
            & (count(enabled_now) == 0)
            & (count(act_changed) == 0),
            # add node: one node, two enabled connections, one disabled split.
            (count(new_nodes) == 1)
            & (count(new_conns) == 2)
            & jnp.all(after.conn_enabled | ~new_conns)
            & (count(disabled_now) == 1)
            & (count(enabled_now) == 0)
            & jnp.all(~act_changed | new_nodes),
            # enable: one disabled connection comes back.
            (count(enabled_now) == 1)
            & (count(new_conns) == 0)
            & (count(new_nodes) == 0)
            & (count(disabled_now) == 0)
            & (count(act_changed) == 0),
            # change activation: one hidden node, to another pool function.
            (count(act_changed) == 1)
            & (kind[changed_node] == HIDDEN)
            & jnp.any(POOL == after.node_activation[changed_node])
            & (count(new_conns) == 0)
            & (count(new_nodes) == 0)
            & (count(disabled_now) == 0)
            & (count(enabled_now) == 0),
        ],
    )
    depths = graph.node_depths(after, after.conn_valid)
    return {
        "acyclic": ~reaches_itself(after),
        "depths_settle_below_max_nodes": jnp.max(depths) < after.max_nodes,
        "targets_are_hidden_or_outputs": jnp.all(
            ~valid
            | (
                (target > NUM_INPUTS)
                & ((kind[target] == HIDDEN) | (kind[target] == OUTPUT))
            )
        ),
        "sources_are_never_outputs": jnp.all(~valid | (kind[source] != OUTPUT)),
        "endpoints_exist": jnp.all(
            ~valid | (after.node_valid[source] & after.node_valid[target])
        ),
        "no_duplicate_connections": duplicates == 0,
        "fixed_nodes_untouched": jnp.all(
            (after.node_kind[:NUM_FIXED] == before.node_kind[:NUM_FIXED])
            & (after.node_activation[:NUM_FIXED] == before.node_activation[:NUM_FIXED])
        ),
        "old_connections_keep_their_endpoints": jnp.all(
            ~before.conn_valid
            | (
                after.conn_valid
                & (after.conn_source == before.conn_source)
                & (after.conn_target == before.conn_target)
            )
        ),
        "nodes_are_never_removed": jnp.all(after.node_valid | ~before.node_valid),
        "exactly_one_change_or_none": exactly_one_change,
    }


@pytest.fixture(scope="module")
def stress_run():
    """Mutates a population 100 times over; checks every genome every round."""
    config = SearchConfig(
        pop_size=POPULATION,
        max_nodes=MAX_NODES,
        max_connections=MAX_CONNS,
        prob_init_enable=0.5,
    )
    population = initial_population(
        jax.random.PRNGKey(0), config, NUM_INPUTS, NUM_OUTPUTS
    )

    @jax.jit
    def one_round(population, key):
        result = jax.vmap(mutation.mutate, in_axes=(0, 0, None, None))(
            population, jax.random.split(key, POPULATION), PAPER_PROBABILITIES, POOL
        )
        checks = jax.vmap(invariants)(
            population, result.genome, result.operator, result.applied
        )
        return result, checks

    failures = {}
    operators, applied = [], []
    key = jax.random.PRNGKey(1)
    for round_index in range(ROUNDS):
        key, round_key = jax.random.split(key)
        result, checks = one_round(population, round_key)
        for name, ok in jax.device_get(checks).items():
            if not ok.all():
                failures.setdefault(name, round_index)
        population = result.genome
        operators.append(np.asarray(result.operator))
        applied.append(np.asarray(result.applied))
        # The full host-side validation on a rotating subsample.
        for index in (round_index % POPULATION, (7 * round_index + 3) % POPULATION):
            population.index(index).validate()
    return {
        "failures": failures,
        "operators": np.concatenate(operators),
        "applied": np.concatenate(applied),
        "final": population,
    }


def test_ten_thousand_mutations_keep_every_genome_a_valid_feed_forward_net(stress_run):
    # Every invariant held for all 100 genomes in all 100 rounds (the dict
    # maps a broken invariant to the first round it broke in).
    assert stress_run["failures"] == {}


def test_the_stress_run_reached_capacity_and_grew_real_networks(stress_run):
    final = stress_run["final"]
    # 14 hidden slots at most (20 - 6 fixed); the run must reach the limit so
    # that the capacity checks were exercised.
    assert int(jnp.max(final.num_hidden())) == MAX_NODES - NUM_FIXED
    assert float(jnp.mean(final.num_hidden())) > 5
    for index in range(0, POPULATION, 10):
        final.index(index).validate()


def test_operators_are_drawn_with_the_papers_probabilities(stress_run):
    # 10 000 draws: the standard error of a frequency is at most 0.005.
    frequencies = np.bincount(stress_run["operators"], minlength=4) / 10_000
    np.testing.assert_allclose(frequencies, [0.20, 0.25, 0.05, 0.50], atol=0.02)
    # Every operator applied many times (skips happen once genomes are full).
    for operator in range(4):
        drawn = stress_run["operators"] == operator
        assert np.sum(stress_run["applied"] & drawn) > 100


# -- hand-built genomes, each operator called directly ---------------------------
#
# Every genome below has 1 input (node 1), 1 output (node 2), hidden nodes from
# 3, and 8 node and 8 connection slots, so that one compiled program runs all
# four operators for 128 keys on any of them.

NUM_KEYS = 128


def small(edges, activations=None):
    return Genome.from_edges(1, 1, edges, activations, max_nodes=8, max_conns=8)


@jax.jit
def each_operator(genome, pool):
    """{operator name: (genomes, applied)} over NUM_KEYS keys, called directly."""

    def all_four(key):
        return {
            "add_connection": mutation.add_connection(genome, key),
            "add_node": mutation.add_node(genome, key, pool),
            "enable": mutation.enable_connection(genome, key),
            "change_activation": mutation.change_activation(genome, key, pool),
        }

    return jax.vmap(all_four)(keys(NUM_KEYS))


def run(operator, genome, pool=POOL):
    return each_operator(genome, pool)[operator]


def assert_skipped(operator, genome, pool=POOL):
    changed, applied = run(operator, genome, pool)
    assert not bool(jnp.any(applied))
    assert_same_genome(
        changed, jax.tree.map(lambda leaf: jnp.stack([leaf] * NUM_KEYS), genome)
    )


def test_a_genome_at_full_node_capacity_skips_add_node_unchanged():
    # x -> 3 -> 4 -> 5 -> 6 -> 7 -> out uses all 8 node slots.
    genome = small([(1, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 2)])

    assert_skipped("add_node", genome)


def test_a_genome_at_full_connection_capacity_skips_both_growth_operators():
    # 8 connections in 8 slots; nodes 3..6 leave two node slots free, and
    # bias -> out or 3 -> out would be new, so only the room is missing.
    genome = small([(1, 3), (3, 4), (4, 5), (5, 6), (6, 2), (0, 3), (0, 4), (0, 5)])

    assert_skipped("add_node", genome)
    assert_skipped("add_connection", genome)


def test_add_node_needs_two_free_connection_slots():
    # 7 connections: one free slot fits a new connection but not a split.
    genome = small([(1, 3), (3, 4), (4, 5), (5, 6), (6, 2), (0, 3), (0, 4)])

    assert_skipped("add_node", genome)
    _, applied = run("add_connection", genome)
    assert bool(jnp.all(applied))


def test_add_connection_skips_when_every_allowed_connection_exists():
    # Bias and input both feed the only output, and there are no hidden nodes.
    assert_skipped("add_connection", small([(1, 2), (0, 2)]))


def test_enable_and_change_activation_skip_without_a_candidate():
    # No disabled connection and no hidden node.
    genome = small([(1, 2)])

    assert_skipped("enable", genome)
    assert_skipped("change_activation", genome)


# -- add connection ------------------------------------------------------------------


def added_edges(genome):
    """The set of (source, target) that add_connection adds over the keys."""
    changed, applied = run("add_connection", genome)
    assert bool(jnp.all(applied))
    slot = len(genome.edges())
    return set(
        zip(
            np.asarray(changed.conn_source[:, slot]).tolist(),
            np.asarray(changed.conn_target[:, slot]).tolist(),
            strict=True,
        )
    )


def test_add_connection_never_links_nodes_of_equal_depth():
    # x -> 3 -> out, x -> 4 -> out. Layers: bias, x 0; 3 and 4 1; out (a sink)
    # last. New edges go to a strictly later layer and do not exist yet: from
    # the bias to 3, 4 and out; from x only to out (x->3, x->4 exist); 3 and 4
    # already feed out, and 3 <-> 4 is within one layer.
    genome = small([(1, 3), (1, 4), (3, 2), (4, 2)])

    assert added_edges(genome) == {(0, 2), (0, 3), (0, 4), (1, 2)}


@pytest.mark.parametrize("middle_enabled", [True, False])
def test_add_connection_never_points_back_up_a_chain(middle_enabled):
    # x -> 3 -> 4 -> out; 4 is deeper than 3, so 4 -> 3 would close a cycle.
    # That holds even when 3 -> 4 is disabled: it may be re-enabled later.
    # Allowed: bias -> 3, 4, out; x -> 4, out; 3 -> out.
    genome = small([(1, 3), (3, 4, middle_enabled), (4, 2)])

    assert added_edges(genome) == {(0, 2), (0, 3), (0, 4), (1, 4), (1, 2), (3, 2)}


def test_outputs_are_never_the_source_of_a_new_connection():
    # Built by hand with out -> 3, so the output is not a sink: its depth is 1.
    # Depths: bias, x 0; out 1; 5 1 (fed by the bias); 3 2; 4 2.
    # Strictly-later-layer pairs that do not exist yet:
    #   bias -> out, 3, 4; x -> 3, 4, 5; 5 -> 3; and out -> 4,
    # but out -> 4 has an output as its source, so it is never added.
    genome = small([(1, 2), (2, 3), (0, 5), (5, 4)])

    assert added_edges(genome) == {
        (0, 2),
        (0, 3),
        (0, 4),
        (1, 3),
        (1, 4),
        (1, 5),
        (5, 3),
    }


# -- add node, enable, change activation ---------------------------------------------


def test_add_node_splits_the_connection_into_two_enabled_ones():
    # x -> out in slot 0. The new node takes the first free node slot (3) and
    # the connections the first free slots (1: x -> 3, 2: 3 -> out); slot 0 is
    # disabled but kept.
    genome = small([(1, 2)])

    changed, applied = run("add_node", genome)

    assert bool(jnp.all(applied))
    first = changed.index(0)
    assert first.edges() == [(1, 2, False), (1, 3, True), (3, 2, True)]
    np.testing.assert_array_equal(first.node_valid, [1, 1, 1, 1, 0, 0, 0, 0])
    assert int(first.node_kind[3]) == HIDDEN
    first.validate()


def test_add_node_splits_only_enabled_connections():
    # bias -> out (slot 0) is disabled, so only x -> out (slot 1) is split.
    genome = small([(0, 2, False), (1, 2)])

    changed, applied = run("add_node", genome)

    assert bool(jnp.all(applied))
    np.testing.assert_array_equal(
        changed.conn_enabled[:, :4], [[0, 0, 1, 1]] * NUM_KEYS
    )
    np.testing.assert_array_equal(changed.conn_source[:, 2:4], [[1, 3]] * NUM_KEYS)
    np.testing.assert_array_equal(changed.conn_target[:, 2:4], [[3, 2]] * NUM_KEYS)


def test_add_node_draws_the_new_activation_from_the_pool():
    changed, _ = run("add_node", small([(1, 2)]))

    # 128 draws from the 10 functions of the pool: each appears.
    assert set(np.asarray(changed.node_activation[:, 3]).tolist()) == set(POOL.tolist())


def test_enable_re_enables_a_disabled_connection():
    changed, applied = run("enable", small([(1, 2), (0, 2, False)]))

    assert bool(jnp.all(applied))
    assert changed.index(0).edges() == [(1, 2, True), (0, 2, True)]


def test_change_activation_changes_one_hidden_node_to_a_different_function():
    # Hidden 3 (tanh), 4 (step, not in the pool), 5 (linear); the output is
    # square and must never change, nor anything but the chosen node.
    genome = small(
        [(1, 3), (3, 4), (4, 5), (5, 2)],
        activations={3: "tanh", 4: "step", 5: "linear", 2: "square"},
    )

    changed, applied = run("change_activation", genome)

    assert bool(jnp.all(applied))
    before = np.asarray(genome.node_activation)
    after = np.asarray(changed.node_activation)
    differs = after != before[None]
    # Exactly one node changed, always a hidden one (3, 4 or 5), to a
    # different function from the pool.
    np.testing.assert_array_equal(differs.sum(axis=1), 1)
    changed_nodes = differs.argmax(axis=1)
    assert set(changed_nodes.tolist()) == {3, 4, 5}
    new_ids = after[np.arange(NUM_KEYS), changed_nodes]
    assert set(new_ids.tolist()) <= set(POOL.tolist())
    assert np.all(new_ids != before[changed_nodes])


def test_change_activation_skips_when_the_pool_offers_nothing_new():
    # A pool that holds only tanh (ten times, to keep the compiled shape).
    genome = small([(1, 3), (3, 2)], activations={3: "tanh"})

    assert_skipped("change_activation", genome, mutation.pool_ids_for(["tanh"] * 10))


def test_the_pool_must_name_known_activations():
    with pytest.raises(ValueError, match="empty"):
        mutation.pool_ids_for([])
    with pytest.raises(UnknownNameError, match="swish"):
        mutation.pool_ids_for(["tanh", "swish"])
    # Table ids: linear is 0 and square 10 (release ids 1 and 11).
    np.testing.assert_array_equal(mutation.pool_ids_for(["linear", "square"]), [0, 10])


def test_pick_draws_every_true_entry_uniformly_and_no_false_one():
    mask = jnp.asarray([False, True, True, False, True, False, False, True])
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    picks = np.asarray(jax.vmap(mutation._pick, in_axes=(0, None))(keys, mask))
    counts = np.bincount(picks, minlength=8)
    np.testing.assert_array_equal(counts[~np.asarray(mask)], 0)
    # 1000 expected per entry; 4 standard deviations is about +-110.
    assert np.all(np.abs(counts[np.asarray(mask)] - 1000) < 110), counts


def test_pick_pair_picks_the_entry_pick_picks_on_the_flattened_mask():
    mask = jax.random.bernoulli(jax.random.PRNGKey(1), 0.2, (12, 12))
    keys = jax.random.split(jax.random.PRNGKey(2), 300)
    rows, columns = jax.vmap(mutation._pick_pair, in_axes=(0, None))(keys, mask)
    flat = jax.vmap(mutation._pick, in_axes=(0, None))(keys, mask.reshape(-1))
    np.testing.assert_array_equal(np.asarray(rows) * 12 + np.asarray(columns), flat)
    assert np.all(np.asarray(mask)[np.asarray(rows), np.asarray(columns)])


def test_first_free_finds_the_first_free_slots_in_order():
    valid = jnp.asarray([True, False, True, False, False, True])
    slots, room = mutation._first_free(valid, 2)
    np.testing.assert_array_equal(slots, [1, 3])
    assert bool(room)
    _, room = mutation._first_free(valid, 4)
    assert not bool(room)
