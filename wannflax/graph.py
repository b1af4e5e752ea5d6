"""Graph facts of padded genomes computed inside jit: depths, order, adjacency."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from wannflax.genome import BIAS, INPUT, OUTPUT, Genome


def node_depths(genome: Genome, edge_mask: jnp.ndarray | None = None) -> jnp.ndarray:
    """Longest-path depth of each node of one genome.

    The bias and inputs have depth 0. Every other node has depth at least 1 (it
    needs one activation step even with no incoming connection) and one more
    than its deepest source. Depth is what the layered forward needs: after k
    activation steps every node of depth <= k holds its final value.

    Args:
      genome: a single genome (vmap for a population).
      edge_mask: connections to follow (default: valid and enabled ones).

    Returns:
      int32 [max_nodes]; padding slots get 0.
    """
    if edge_mask is None:
        edge_mask = genome.active_conns()
    is_source_node = (genome.node_kind == BIAS) | (genome.node_kind == INPUT)
    start = jnp.where(is_source_node | ~genome.node_valid, 0, 1).astype(jnp.int32)
    max_nodes = genome.max_nodes

    def relax(state):
        depth, _, steps = state
        candidate = jnp.where(edge_mask, depth[genome.conn_source] + 1, 0)
        incoming = jax.ops.segment_max(
            candidate, genome.conn_target, num_segments=max_nodes
        )
        new_depth = jnp.maximum(depth, incoming)
        return new_depth, jnp.any(new_depth != depth), steps + 1

    def not_settled(state):
        # A feed-forward graph settles within max_nodes sweeps; the bound keeps
        # a corrupted (cyclic) genome from looping forever.
        return state[1] & (state[2] < max_nodes)

    depth, _, _ = lax.while_loop(not_settled, relax, (start, jnp.array(True), 0))
    return depth


def num_layers(genome: Genome) -> jnp.ndarray:
    """Activation steps a forward pass needs: the largest node depth (>= 1)."""
    return jnp.maximum(jnp.max(node_depths(genome)), 1)


def used_width(genome: Genome) -> jnp.ndarray:
    """Non-input node slots up to the last valid one (per genome).

    Evaluating only that many slots after the inputs loses nothing.
    """
    first = genome.num_inputs + 1
    slots = jnp.arange(genome.max_nodes)
    last_valid = jnp.max(jnp.where(genome.node_valid, slots, 0), axis=-1)
    return jnp.maximum(last_valid + 1 - first, genome.num_outputs)


def topological_order(genome: Genome) -> jnp.ndarray:
    """Node slots sorted by depth (ties by id); padding slots come last.

    Any node comes after all of its sources, so evaluating nodes in this
    order is a valid feed-forward pass.
    """
    depth = node_depths(genome, genome.conn_valid)
    key = jnp.where(genome.node_valid, depth, genome.max_nodes + 1)
    return jnp.argsort(key, stable=True).astype(jnp.int32)


def mutation_layers(genome: Genome) -> jnp.ndarray:
    """Layers used by add-connection to keep the network feed-forward.

    Depths follow every valid connection, disabled ones too, so re-enabling a
    connection can never close a cycle. As in the WANN release, output nodes
    with no outgoing connections form the last layer, so any hidden node may
    feed them.
    """
    depth = node_depths(genome, genome.conn_valid)
    has_outgoing = (
        jax.ops.segment_max(
            genome.conn_valid.astype(jnp.int32),
            genome.conn_source,
            num_segments=genome.max_nodes,
        )
        > 0
    )
    is_sink_output = (genome.node_kind == OUTPUT) & ~has_outgoing
    return jnp.where(is_sink_output, genome.max_nodes + 1, depth)


def weight_matrix(genome: Genome, conn_weights: jnp.ndarray) -> jnp.ndarray:
    """Dense [max_nodes, max_nodes] matrix W[source, target] of active weights.

    Disabled and padding connections contribute nothing, whatever their
    weight, so their parameters never receive a gradient.
    """
    active = genome.active_conns()
    values = jnp.where(active, conn_weights, 0.0)
    matrix = jnp.zeros((genome.max_nodes, genome.max_nodes), values.dtype)
    return matrix.at[genome.conn_source, genome.conn_target].add(values)


def connection_exists(genome: Genome) -> jnp.ndarray:
    """bool [max_nodes, max_nodes]: a valid connection source -> target exists."""
    matrix = jnp.zeros((genome.max_nodes, genome.max_nodes), bool)
    return matrix.at[genome.conn_source, genome.conn_target].max(genome.conn_valid)
