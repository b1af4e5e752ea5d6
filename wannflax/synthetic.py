"""Random valid populations grown the way the search grows them.

For tests and benchmarks of the population forward
(``wannflax.evaluation``): evolved-looking genomes that fill a capacity, or
deep chains, built as numpy arrays so large populations stay cheap.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from wannflax import activations as activation_table
from wannflax.genome import BIAS, HIDDEN, INPUT, OUTPUT, Genome


def synthetic_population(
    seed: int,
    pop_size: int,
    num_inputs: int,
    num_outputs: int,
    max_nodes: int,
    max_conns: int,
    *,
    num_hidden: int | None = None,
    num_connections: int | None = None,
    shape: str = "evolved",
    activation_pool: Sequence[str] = activation_table.CLASSIFICATION_POOL,
    output_activation: str = "linear",
    prob_init_enable: float = 0.5,
    prob_disable: float = 0.0,
    distinct: int = 64,
) -> Genome:
    """Random valid genomes grown the way the search grows them.

    Each genome starts from random bias/input -> output links and is grown by
    splitting enabled connections (add node) and adding connections until it
    holds ``num_hidden`` hidden nodes and ``num_connections`` connections.
    With ``shape="evolved"`` a new connection must go to a strictly deeper
    node, as the add-connection mutation requires, which keeps genomes wide
    and shallow like evolved ones; ``shape="deep"`` only requires a random
    topological order, which gives long chains.

    Args:
      seed: numpy seed.
      pop_size: genomes returned.
      num_inputs, num_outputs, max_nodes, max_conns: the capacity.
      num_hidden: hidden nodes per genome (default: fill the node capacity).
      num_connections: connections per genome (default: fill the capacity;
        fewer when no further legal connection exists).
      shape: "evolved" or "deep".
      activation_pool: hidden-node activations, drawn uniformly.
      output_activation: activation of the output nodes.
      prob_init_enable: chance of each initial bias/input -> output link.
      prob_disable: chance that a finished connection is disabled (on top of
        the connections that splitting disables).
      distinct: how many different genomes to grow; the population repeats
        them, which keeps growing large populations cheap.

    Returns:
      A population Genome with leading axis ``pop_size``.
    """
    if shape not in ("evolved", "deep"):
        raise ValueError(f"Unknown genome shape {shape!r}; use 'evolved' or 'deep'.")
    rng = np.random.default_rng(seed)
    genomes = [
        _grow_genome(
            rng,
            num_inputs,
            num_outputs,
            max_nodes,
            max_conns,
            num_hidden,
            num_connections,
            shape,
            tuple(activation_pool),
            output_activation,
            prob_init_enable,
            prob_disable,
        )
        for _ in range(min(distinct, pop_size))
    ]
    stacked = jax.tree.map(lambda *leaves: np.stack(leaves), *genomes)
    picks = np.arange(pop_size) % len(genomes)
    return jax.tree.map(lambda leaf: jnp.asarray(leaf[picks]), stacked)


def _grow_genome(
    rng,
    num_inputs,
    num_outputs,
    max_nodes,
    max_conns,
    num_hidden,
    num_connections,
    shape,
    activation_pool,
    output_activation,
    prob_init_enable,
    prob_disable,
) -> Genome:
    num_fixed = 1 + num_inputs + num_outputs
    hidden_room = max_nodes - num_fixed
    num_hidden = hidden_room if num_hidden is None else min(num_hidden, hidden_room)
    num_connections = min(max_conns, num_connections or max_conns)
    outputs = np.arange(num_inputs + 1, num_fixed)
    initial = [
        (s, t)
        for s in range(num_inputs + 1)
        for t in outputs
        if rng.random() < prob_init_enable
    ]
    # Room for the splits that create the hidden nodes (two links each).
    room = max(num_connections - 2 * num_hidden, 1)
    keep = rng.permutation(len(initial))[:room]
    if not initial:
        initial = [(int(rng.integers(num_inputs + 1)), int(rng.choice(outputs)))]
        keep = [0]
    edges, existing = [], {}
    # Order keys: "deep" connects any lower rank to a higher one; "evolved"
    # uses depths (outputs last), as the add-connection mutation does.
    rank = np.zeros(max_nodes)
    rank[outputs] = 1.0
    depth = np.zeros(max_nodes, int)
    depth[outputs] = max_nodes + 1
    outputs_set = set(outputs.tolist())
    hidden = 0

    def key(node):
        return rank[node] if shape == "deep" else depth[node]

    children = {}

    def link(source, target):
        existing[(source, target)] = len(edges)
        edges.append([source, target, True])
        children.setdefault(source, []).append(target)

    def deepen(node, value):
        # Longest path from the inputs along every link, enabled or not;
        # outputs stay last whatever their depth.
        stack = [(node, value)]
        while stack:
            node, value = stack.pop()
            if node in outputs_set or depth[node] >= value:
                continue
            depth[node] = value
            stack += [(child, value + 1) for child in children.get(node, [])]

    def add_connection():
        feeders = np.concatenate(
            [np.arange(num_inputs + 1), np.arange(num_fixed, num_fixed + hidden)]
        )
        receivers = np.concatenate([outputs, np.arange(num_fixed, num_fixed + hidden)])
        tries = 200
        for source, target in zip(
            feeders[rng.integers(len(feeders), size=tries)],
            receivers[rng.integers(len(receivers), size=tries)],
            strict=True,
        ):
            source, target = int(source), int(target)
            if key(source) < key(target) and (source, target) not in existing:
                link(source, target)
                return True
        return False

    for i in sorted(keep):
        link(*initial[i])
    while True:
        # Every split leaves an enabled link, so one always exists.
        can_split = hidden < num_hidden and len(edges) + 2 <= num_connections
        can_connect = len(edges) < num_connections
        if not (can_split or can_connect):
            break
        if can_split and (not can_connect or rng.random() < 0.25 / 0.45):
            split = int(rng.integers(len(edges)))
            while not edges[split][2]:
                split = int(rng.integers(len(edges)))
            source, target, _ = edges[split]
            edges[split][2] = False
            node = num_fixed + hidden
            hidden += 1
            link(source, node)
            link(node, target)
            if shape == "deep":
                rank[node] = rng.uniform(rank[source], rank[target])
            else:
                deepen(node, depth[source] + 1)
        elif not add_connection() and not can_split:
            break
    for edge in edges:
        if edge[2] and rng.random() < prob_disable:
            edge[2] = False
    kind = np.full(max_nodes, HIDDEN, np.int32)
    kind[0], kind[1 : num_inputs + 1], kind[outputs] = BIAS, INPUT, OUTPUT
    node_activation = np.zeros(max_nodes, np.int32)
    pool_ids = [activation_table.activation_id(n) for n in activation_pool]
    node_activation[num_fixed : num_fixed + hidden] = rng.choice(pool_ids, hidden)
    node_activation[outputs] = activation_table.activation_id(output_activation)
    node_valid = np.arange(max_nodes) < num_fixed + hidden
    table = np.zeros((3, max_conns), np.int32)
    table[:, : len(edges)] = np.array(edges, np.int32).T
    conn_valid = np.arange(max_conns) < len(edges)
    # Built as numpy arrays (Genome.from_edges would validate each genome
    # through JAX, which dominates the time for large populations).
    return Genome(
        node_kind=kind,
        node_activation=node_activation,
        node_valid=node_valid,
        conn_source=table[0],
        conn_target=table[1],
        conn_enabled=table[2].astype(bool),
        conn_valid=conn_valid,
        num_inputs=num_inputs,
        num_outputs=num_outputs,
    )
