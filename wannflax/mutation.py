"""Structural mutations of padded genomes, as in the WANN release.

Each operator is a pure function of one genome and a key that returns the
changed genome and whether the change happened; a change that has no candidate
or would exceed the capacity is skipped and reported, never half applied.
Populations are handled with ``jax.vmap``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from wannflax import activations as activation_table
from wannflax import graph
from wannflax.genome import BIAS, HIDDEN, INPUT, OUTPUT, Genome

ADD_CONNECTION, ADD_NODE, ENABLE, CHANGE_ACTIVATION = range(4)
OPERATOR_NAMES = ("add_connection", "add_node", "enable", "change_activation")


class MutationResult(NamedTuple):
    """A mutated genome, which operator was drawn and whether it applied."""

    genome: Genome
    operator: jnp.ndarray
    applied: jnp.ndarray


def _pick(key, mask):
    """A uniformly random index where ``mask`` is True (0 if none).

    One random integer per call: the u-th True entry for u uniform in
    [0, count). Sampling a categorical over the mask would draw one Gumbel
    number per entry, which for add-connection's max_nodes^2 candidates was
    most of a generation's time.
    """
    count = jnp.sum(mask, dtype=jnp.int32)
    u = jax.random.randint(key, (), 0, jnp.maximum(count, 1))
    return jnp.argmax(jnp.cumsum(mask, dtype=jnp.int32) > u)


def _pick_pair(key, mask):
    """A uniformly random (row, column) where the 2-D ``mask`` is True.

    As ``_pick`` on the flattened mask (the same draw picks the same entry),
    but it counts rows first and then one row's columns, so the running
    counts are taken over max_nodes entries twice rather than over
    max_nodes^2 once.
    """
    per_row = jnp.sum(mask, axis=1, dtype=jnp.int32)
    before = jnp.cumsum(per_row)
    u = jax.random.randint(key, (), 0, jnp.maximum(before[-1], 1))
    row = jnp.argmax(before > u)
    within = u - (before[row] - per_row[row])
    column = jnp.argmax(jnp.cumsum(mask[row], dtype=jnp.int32) > within)
    return row, column


def _unless_skipped(applied, changed: Genome, genome: Genome) -> Genome:
    """``changed`` if the operator applied, else ``genome`` untouched.

    A skipped operator still computes its edit on an arbitrary slot (the first
    one when none is free), so its raw result must never escape.
    """
    return jax.tree.map(lambda new, old: jnp.where(applied, new, old), changed, genome)


def _first_free(valid, count=1):
    """The first ``count`` free slots and whether there are that many.

    Slot i is the i-th free one where the running count of free slots first
    reaches i + 1 (no sort); without enough free slots the missing ones are 0.
    """
    free = jnp.cumsum(~valid, dtype=jnp.int32)
    slots = jnp.stack([jnp.argmax(free > i) for i in range(count)])
    return slots, free[-1] >= count


def add_connection(genome: Genome, key) -> tuple:
    """Connects a random node to a node in a strictly later layer.

    Sources are the bias, inputs and hidden nodes; targets hidden and output
    nodes that the source does not already feed.
    """
    layers = graph.mutation_layers(genome)
    kind = genome.node_kind
    can_feed = genome.node_valid & ((kind == BIAS) | (kind == INPUT) | (kind == HIDDEN))
    can_receive = genome.node_valid & ((kind == HIDDEN) | (kind == OUTPUT))
    candidates = (
        can_feed[:, None]
        & can_receive[None, :]
        & (layers[:, None] < layers[None, :])
        & ~graph.connection_exists(genome)
    )
    source, target = _pick_pair(key, candidates)
    slots, has_room = _first_free(genome.conn_valid)
    slot = slots[0]
    applied = jnp.any(candidates) & has_room
    changed = genome.replace(
        conn_source=genome.conn_source.at[slot].set(source.astype(jnp.int32)),
        conn_target=genome.conn_target.at[slot].set(target.astype(jnp.int32)),
        conn_enabled=genome.conn_enabled.at[slot].set(True),
        conn_valid=genome.conn_valid.at[slot].set(True),
    )
    return _unless_skipped(applied, changed, genome), applied


def add_node(genome: Genome, key, pool_ids: jnp.ndarray) -> tuple:
    """Splits a random enabled connection with a new hidden node.

    The old connection is disabled; source -> new and new -> target are added
    and the new node gets a random activation from the pool.
    """
    pick_key, act_key = jax.random.split(key)
    active = genome.active_conns()
    split = _pick(pick_key, active)
    node_slots, node_room = _first_free(genome.node_valid)
    conn_slots, conn_room = _first_free(genome.conn_valid, 2)
    node = node_slots[0].astype(jnp.int32)
    activation = pool_ids[jax.random.randint(act_key, (), 0, pool_ids.shape[0])]
    applied = jnp.any(active) & node_room & conn_room
    sources = jnp.stack([genome.conn_source[split], node])
    targets = jnp.stack([node, genome.conn_target[split]])
    changed = genome.replace(
        node_kind=genome.node_kind.at[node].set(HIDDEN),
        node_activation=genome.node_activation.at[node].set(activation),
        node_valid=genome.node_valid.at[node].set(True),
        conn_source=genome.conn_source.at[conn_slots].set(sources),
        conn_target=genome.conn_target.at[conn_slots].set(targets),
        conn_enabled=genome.conn_enabled.at[split].set(False).at[conn_slots].set(True),
        conn_valid=genome.conn_valid.at[conn_slots].set(True),
    )
    return _unless_skipped(applied, changed, genome), applied


def enable_connection(genome: Genome, key) -> tuple:
    """Re-enables a random disabled connection."""
    disabled = genome.conn_valid & ~genome.conn_enabled
    slot = _pick(key, disabled)
    changed = genome.replace(conn_enabled=genome.conn_enabled.at[slot].set(True))
    applied = jnp.any(disabled)
    return _unless_skipped(applied, changed, genome), applied


def change_activation(genome: Genome, key, pool_ids: jnp.ndarray) -> tuple:
    """Gives a random hidden node a different activation from the pool."""
    node_key, act_key = jax.random.split(key)
    hidden = genome.node_valid & (genome.node_kind == HIDDEN)
    node = _pick(node_key, hidden)
    current = genome.node_activation[node]
    choices = pool_ids != current
    activation = pool_ids[_pick(act_key, choices)]
    changed = genome.replace(
        node_activation=genome.node_activation.at[node].set(activation)
    )
    applied = jnp.any(hidden) & jnp.any(choices)
    return _unless_skipped(applied, changed, genome), applied


def mutate(
    genome: Genome, key, probabilities: jnp.ndarray, pool_ids: jnp.ndarray
) -> MutationResult:
    """Applies one structural change drawn by roulette.

    Args:
      genome: one genome.
      key: PRNG key.
      probabilities: float [4], weights of add connection, add node, enable,
        change activation (normalised here).
      pool_ids: int [A], activation ids new and changed hidden nodes draw from.

    Returns:
      MutationResult; when ``applied`` is False the genome is unchanged.
    """
    choose_key, *op_keys = jax.random.split(key, 5)
    operator = jax.random.categorical(choose_key, jnp.log(probabilities))
    # Under vmap every branch is computed anyway; selecting by mask keeps the
    # program free of lax.switch and lets each operator stay readable.
    outcomes = (
        add_connection(genome, op_keys[0]),
        add_node(genome, op_keys[1], pool_ids),
        enable_connection(genome, op_keys[2]),
        change_activation(genome, op_keys[3], pool_ids),
    )
    result, applied = genome, jnp.array(False)
    for index, (changed, ok) in enumerate(outcomes):
        take = (operator == index) & ok
        result = jax.tree.map(
            lambda new, old, t=take: jnp.where(t, new, old), changed, result
        )
        applied = applied | take
    return MutationResult(result, operator, applied)


def pool_ids_for(names: Sequence[str]) -> jnp.ndarray:
    """Table ids of an activation pool, validated (unknown names raise)."""
    if not names:
        raise ValueError("The activation pool is empty; name at least one activation.")
    return jnp.asarray([activation_table.activation_id(n) for n in names], jnp.int32)
