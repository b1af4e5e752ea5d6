"""Specification of wannflax.genome: the padded genome, built by hand.

Nodes are numbered 0 = bias, 1..I = inputs, the next O = outputs, hidden nodes
after that (REFERENCE.md section 1). Every invalid network is refused when it is
built, with a message that names what is wrong.
"""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import activations
from wannflax.genome import (
    BIAS,
    HIDDEN,
    INPUT,
    OUTPUT,
    Genome,
    InvalidGenomeError,
)
from wannflax.registry import UnknownNameError

TANH = activations.activation_id("tanh")
RELU = activations.activation_id("relu")


def two_in_two_out():
    """2 inputs (1, 2), 2 outputs (3, 4), hidden 5 and 6; one disabled edge."""
    return Genome.from_edges(
        num_inputs=2,
        num_outputs=2,
        edges=[(1, 6), (6, 5), (5, 3), (2, 4, False), (0, 4)],
        activations={5: "relu", 6: "tanh", 4: "tanh"},
    )


# -- numbering and layout ------------------------------------------------------


def test_from_edges_numbers_bias_then_inputs_then_outputs_then_hidden():
    genome = two_in_two_out()

    # The largest id named is 6, so there are 7 node slots and no padding.
    assert genome.max_nodes == 7
    assert genome.num_fixed_nodes == 5  # bias + 2 inputs + 2 outputs
    np.testing.assert_array_equal(
        genome.node_kind, [BIAS, INPUT, INPUT, OUTPUT, OUTPUT, HIDDEN, HIDDEN]
    )
    np.testing.assert_array_equal(genome.node_valid, [True] * 7)
    # Unnamed nodes are linear (table id 0); named ones carry their table id.
    np.testing.assert_array_equal(
        genome.node_activation, [0, 0, 0, 0, TANH, RELU, TANH]
    )
    assert int(genome.num_hidden()) == 2


def test_from_edges_keeps_edges_in_slot_order_with_their_enabled_flag():
    genome = two_in_two_out()

    assert genome.max_conns == 5
    np.testing.assert_array_equal(genome.conn_source, [1, 6, 5, 2, 0])
    np.testing.assert_array_equal(genome.conn_target, [6, 5, 3, 4, 4])
    np.testing.assert_array_equal(genome.conn_enabled, [True, True, True, False, True])
    np.testing.assert_array_equal(genome.conn_valid, [True] * 5)
    # Four of the five edges are enabled.
    assert int(genome.num_connections()) == 4
    assert genome.edges() == [
        (1, 6, True),
        (6, 5, True),
        (5, 3, True),
        (2, 4, False),
        (0, 4, True),
    ]


def test_arrays_have_fixed_dtypes_and_padding_is_marked_invalid():
    genome = Genome.from_edges(1, 1, [(1, 2)], max_nodes=6, max_conns=4)

    chex.assert_shape([genome.node_kind, genome.node_activation], (6,))
    chex.assert_shape([genome.conn_source, genome.conn_target], (4,))
    chex.assert_type([genome.node_kind, genome.conn_source], jnp.int32)
    chex.assert_type([genome.node_valid, genome.conn_valid], jnp.bool_)
    # Nodes 0..2 exist; 3..5 are padding. One edge in slot 0; slots 1..3 padding.
    np.testing.assert_array_equal(genome.node_valid, [1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(genome.conn_valid, [1, 0, 0, 0])
    np.testing.assert_array_equal(genome.conn_enabled, [1, 0, 0, 0])


def test_a_hidden_id_skipped_by_the_edges_is_still_a_valid_hidden_node():
    # Edges name node 4 but not 3 (1 input, 1 output: hidden start at 3), so
    # node 3 exists as a hidden node without connections.
    genome = Genome.from_edges(1, 1, [(1, 4), (4, 2)])

    np.testing.assert_array_equal(
        genome.node_kind, [BIAS, INPUT, OUTPUT, HIDDEN, HIDDEN]
    )
    assert int(genome.num_hidden()) == 2


def test_a_population_is_the_same_pytree_with_a_leading_axis():
    genome = two_in_two_out()
    population = jax.tree.map(lambda leaf: jnp.stack([leaf] * 3), genome)

    assert population.max_nodes == 7 and population.max_conns == 5
    np.testing.assert_array_equal(population.num_connections(), [4, 4, 4])
    np.testing.assert_array_equal(population.num_hidden(), [2, 2, 2])
    chex.assert_trees_all_equal(population.index(1), genome)


# -- every invalid network is refused, with its reason ------------------------


@pytest.mark.parametrize(
    "edges, message",
    [
        # 3 -> 4 -> 3: two hidden nodes feeding each other.
        ([(1, 3), (3, 4), (4, 3), (4, 2)], "cycle: 3 -> 4 -> 3"),
        ([(1, 3), (3, 3), (3, 2)], "cycle: 3 -> 3"),  # a self-loop
        ([(1, 2), (2, 2)], "cycle: 2 -> 2"),  # a self-loop on an output
        ([(1, 3), (3, 2), (2, 3)], "cycle"),  # through an output
    ],
)
def test_from_edges_rejects_cycles_and_names_them(edges, message):
    with pytest.raises(InvalidGenomeError, match=message):
        Genome.from_edges(1, 1, edges)


def test_from_edges_rejects_an_edge_into_the_bias():
    with pytest.raises(InvalidGenomeError, match="2->0 points into the bias"):
        Genome.from_edges(1, 1, [(1, 2), (2, 0)])


def test_from_edges_rejects_an_edge_into_an_input():
    # Input 1 fed by input 2: inputs receive nothing, not even from inputs.
    with pytest.raises(InvalidGenomeError, match="2->1 points into input 1"):
        Genome.from_edges(2, 1, [(2, 1), (1, 3)])


def test_from_edges_rejects_a_negative_node_id():
    with pytest.raises(InvalidGenomeError, match="Unknown node -1"):
        Genome.from_edges(1, 1, [(-1, 2)])


def test_from_edges_rejects_an_activation_for_a_node_outside_the_genome():
    # The edges use nodes 0..2; node 7 does not exist.
    with pytest.raises(InvalidGenomeError, match="Unknown node 7 in activations"):
        Genome.from_edges(1, 1, [(1, 2)], activations={7: "tanh"})


@pytest.mark.parametrize("node", [0, 1])
def test_from_edges_rejects_an_activation_on_the_bias_or_an_input(node):
    with pytest.raises(InvalidGenomeError, match=f"Node {node} .*no activation"):
        Genome.from_edges(1, 1, [(1, 2)], activations={node: "tanh"})


def test_from_edges_rejects_an_unknown_activation_name_and_lists_the_choices():
    with pytest.raises(UnknownNameError) as raised:
        Genome.from_edges(1, 1, [(1, 2)], activations={2: "swish"})

    message = str(raised.value)
    assert "'swish'" in message
    for name in activations.PAPER_ACTIVATIONS:
        assert name in message


def test_from_edges_rejects_more_nodes_than_max_nodes():
    # Hidden node 4 means 5 nodes; max_nodes=4 cannot hold them.
    with pytest.raises(InvalidGenomeError, match="Over capacity.*max_nodes=4"):
        Genome.from_edges(1, 1, [(1, 4), (4, 2)], max_nodes=4)


def test_from_edges_rejects_more_edges_than_max_conns():
    with pytest.raises(InvalidGenomeError, match="Over capacity: 2 edges.*max_conns=1"):
        Genome.from_edges(1, 1, [(1, 2), (0, 2)], max_conns=1)


def test_from_edges_rejects_a_duplicate_edge_even_if_one_copy_is_disabled():
    with pytest.raises(InvalidGenomeError, match="Duplicate edge 1->2"):
        Genome.from_edges(1, 1, [(1, 2), (1, 2, False)])


def test_from_edges_rejects_malformed_edges():
    with pytest.raises(InvalidGenomeError, match="must be \\(source, target\\)"):
        Genome.from_edges(1, 1, [(1,)])


def test_empty_rejects_a_capacity_that_cannot_hold_the_fixed_nodes():
    # bias + 2 inputs + 2 outputs = 5 slots needed.
    with pytest.raises(InvalidGenomeError, match="max_nodes=4 is over capacity"):
        Genome.empty(2, 2, max_nodes=4, max_conns=8)


# -- serialisation and validation ----------------------------------------------


def test_to_dict_from_dict_round_trip_is_exact_and_json_ready():
    genome = Genome.from_edges(
        2,
        2,
        [(1, 6), (6, 5), (5, 3), (2, 4, False), (0, 4)],
        activations={5: "relu", 6: "tanh", 4: "tanh"},
        max_nodes=10,
        max_conns=9,
    )

    description = json.loads(json.dumps(genome.to_dict()))
    restored = Genome.from_dict(description)

    assert (restored.num_inputs, restored.num_outputs) == (2, 2)
    assert (restored.max_nodes, restored.max_conns) == (10, 9)
    chex.assert_trees_all_equal(restored, genome)
    # Names, not ids, are stored, so the file survives a reordered table.
    assert {"id": 6, "kind": "hidden", "activation": "tanh"} in description["nodes"]


def test_from_dict_validates_what_it_reads():
    description = Genome.from_edges(1, 1, [(1, 3), (3, 2)], max_conns=3).to_dict()
    # Slot 2 gets 2 -> 3, which with 3 -> 2 closes the cycle 3 -> 2 -> 3.
    description["connections"].append(
        {"slot": 2, "source": 2, "target": 3, "enabled": True}
    )

    with pytest.raises(InvalidGenomeError, match="cycle"):
        Genome.from_dict(description)


def test_from_dict_refuses_other_formats_and_versions():
    description = Genome.from_edges(1, 1, [(1, 2)]).to_dict()

    with pytest.raises(InvalidGenomeError, match="format"):
        Genome.from_dict({**description, "format": "neat"})
    with pytest.raises(InvalidGenomeError, match="version 2"):
        Genome.from_dict({**description, "version": 2})


def test_from_dict_refuses_an_unknown_node_kind():
    description = Genome.from_edges(1, 1, [(1, 3), (3, 2)]).to_dict()
    description["nodes"][3]["kind"] = "recurrent"

    with pytest.raises(InvalidGenomeError, match="recurrent"):
        Genome.from_dict(description)


def test_validate_accepts_well_formed_genomes():
    two_in_two_out().validate()
    Genome.from_edges(1, 1, [(1, 2)], max_nodes=9, max_conns=9).validate()
    Genome.empty(3, 2, max_nodes=8, max_conns=4).validate()


def _with(genome, **arrays):
    """The genome with some array fields replaced (to corrupt it on purpose)."""
    return genome.replace(**{k: jnp.asarray(v) for k, v in arrays.items()})


def test_validate_rejects_a_cycle_written_into_the_arrays():
    # Slots hold 1->3, 3->4, 4->2; rewrite slot 2 as 4->3 to close 3 -> 4 -> 3.
    genome = Genome.from_edges(1, 1, [(1, 3), (3, 4), (4, 2)])
    broken = _with(genome, conn_target=[3, 4, 3])

    with pytest.raises(InvalidGenomeError, match="cycle"):
        broken.validate()


def test_cycles_through_disabled_connections_count():
    # A disabled connection may be re-enabled by mutation, so it must never
    # close a cycle either: both from_edges and validate look at every edge.
    with pytest.raises(InvalidGenomeError, match="cycle: 3 -> 4 -> 3"):
        Genome.from_edges(1, 1, [(1, 3), (3, 4), (4, 3, False), (4, 2)])

    genome = Genome.from_edges(1, 1, [(1, 3), (3, 4), (4, 2)])
    broken = _with(genome, conn_target=[3, 4, 3], conn_enabled=[True, True, False])
    with pytest.raises(InvalidGenomeError, match="cycle"):
        broken.validate()


def test_validate_rejects_edges_into_the_bias_or_an_input():
    genome = Genome.from_edges(2, 1, [(1, 3), (2, 3)])

    with pytest.raises(InvalidGenomeError, match="into the bias or an input"):
        _with(genome, conn_target=[3, 0]).validate()
    with pytest.raises(InvalidGenomeError, match="into the bias or an input"):
        _with(genome, conn_target=[3, 1]).validate()


def test_validate_rejects_connections_to_padding_or_missing_nodes():
    genome = Genome.from_edges(1, 1, [(1, 2)], max_nodes=5)

    # Node 4 is a padding slot (invalid); node 9 lies outside the capacity.
    with pytest.raises(InvalidGenomeError, match="unknown node 4"):
        _with(genome, conn_target=[4]).validate()
    with pytest.raises(InvalidGenomeError, match="unknown node 9"):
        _with(genome, conn_source=[9]).validate()


def test_validate_rejects_an_unknown_activation_id_and_an_invalid_fixed_slot():
    genome = Genome.from_edges(1, 1, [(1, 2)])
    table_size = len(activations.activation_names())

    with pytest.raises(InvalidGenomeError, match="unknown activation id"):
        _with(genome, node_activation=[0, 0, table_size]).validate()
    with pytest.raises(InvalidGenomeError, match="marked invalid"):
        _with(genome, node_valid=[True, True, False]).validate()


def test_validate_rejects_node_kinds_that_contradict_the_numbering():
    genome = Genome.from_edges(1, 1, [(1, 3), (3, 2)])

    # Node 0 must be the bias, node 3 (after the output) must be hidden.
    with pytest.raises(InvalidGenomeError, match="Node 0 .*bias"):
        _with(genome, node_kind=[HIDDEN, INPUT, OUTPUT, HIDDEN]).validate()
    with pytest.raises(InvalidGenomeError, match="Node 3 .*hidden"):
        _with(genome, node_kind=[BIAS, INPUT, OUTPUT, OUTPUT]).validate()


def test_validate_rejects_a_duplicate_connection():
    genome = Genome.from_edges(1, 1, [(1, 2), (0, 2)])

    with pytest.raises(InvalidGenomeError, match="Duplicate.*1->2"):
        _with(genome, conn_source=[1, 1]).validate()
