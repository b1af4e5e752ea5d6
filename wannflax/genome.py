"""The padded genome: a fixed-capacity network description as a pytree of arrays.

Nodes are numbered 0 = bias, 1..num_inputs = inputs, the next num_outputs =
outputs, hidden nodes after that. Node and connection slots beyond what a
genome uses are padding, marked invalid. A population is the same pytree with
a leading axis, so one compiled function serves every genome of a capacity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from wannflax import activations

BIAS, INPUT, OUTPUT, HIDDEN = 0, 1, 2, 3
NODE_KIND_NAMES = {BIAS: "bias", INPUT: "input", OUTPUT: "output", HIDDEN: "hidden"}
ARRAY_FIELDS = (
    "node_kind",
    "node_activation",
    "node_valid",
    "conn_source",
    "conn_target",
    "conn_enabled",
    "conn_valid",
)


class InvalidGenomeError(ValueError):
    """A genome that is not a valid feed-forward network; the message says why."""


@struct.dataclass
class Genome:
    """A padded WANN genome (or a population of them, with a leading axis).

    Attributes:
      node_kind: int32 [..., max_nodes], one of BIAS, INPUT, OUTPUT, HIDDEN.
      node_activation: int32 [..., max_nodes], activation table ids.
      node_valid: bool [..., max_nodes], False for padding slots.
      conn_source: int32 [..., max_conns], source node of each connection.
      conn_target: int32 [..., max_conns], target node of each connection.
      conn_enabled: bool [..., max_conns], whether the connection is expressed.
      conn_valid: bool [..., max_conns], False for padding slots.
      num_inputs: static number of input nodes.
      num_outputs: static number of output nodes.
    """

    node_kind: jnp.ndarray
    node_activation: jnp.ndarray
    node_valid: jnp.ndarray
    conn_source: jnp.ndarray
    conn_target: jnp.ndarray
    conn_enabled: jnp.ndarray
    conn_valid: jnp.ndarray
    num_inputs: int = struct.field(pytree_node=False)
    num_outputs: int = struct.field(pytree_node=False)

    @property
    def max_nodes(self) -> int:
        """Node capacity."""
        return self.node_kind.shape[-1]

    @property
    def max_conns(self) -> int:
        """Connection capacity."""
        return self.conn_source.shape[-1]

    @property
    def num_fixed_nodes(self) -> int:
        """Bias, inputs and outputs: the slots every genome has."""
        return 1 + self.num_inputs + self.num_outputs

    def active_conns(self) -> jnp.ndarray:
        """bool [..., max_conns]: connections that are valid and enabled."""
        return self.conn_valid & self.conn_enabled

    def num_connections(self) -> jnp.ndarray:
        """Number of enabled connections (per genome for a population)."""
        return jnp.sum(self.active_conns(), axis=-1)

    def num_hidden(self) -> jnp.ndarray:
        """Number of hidden nodes (per genome for a population)."""
        return jnp.sum(self.node_valid & (self.node_kind == HIDDEN), axis=-1)

    def arrays(self) -> dict[str, jnp.ndarray]:
        """The array fields as a dict (the module's ``genome`` collection)."""
        return {name: getattr(self, name) for name in ARRAY_FIELDS}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, Any], num_inputs: int, num_outputs: int
    ) -> Genome:
        """Rebuilds a genome from :meth:`arrays` output."""
        missing = [name for name in ARRAY_FIELDS if name not in arrays]
        if missing:
            raise InvalidGenomeError(f"Genome arrays lack the fields {missing}.")
        return cls(
            **{name: jnp.asarray(arrays[name]) for name in ARRAY_FIELDS},
            num_inputs=num_inputs,
            num_outputs=num_outputs,
        )

    def index(self, i) -> Genome:
        """The i-th genome of a population."""
        return jax.tree.map(lambda leaf: leaf[i], self)

    @classmethod
    def empty(
        cls, num_inputs: int, num_outputs: int, max_nodes: int, max_conns: int
    ) -> Genome:
        """A genome with the fixed nodes and no connections.

        Raises:
          InvalidGenomeError: if the capacity cannot hold the fixed nodes.
        """
        num_fixed = 1 + num_inputs + num_outputs
        if num_inputs < 1 or num_outputs < 1:
            raise InvalidGenomeError(
                f"A genome needs at least one input and one output, got "
                f"num_inputs={num_inputs}, num_outputs={num_outputs}."
            )
        if max_nodes < num_fixed:
            raise InvalidGenomeError(
                f"max_nodes={max_nodes} is over capacity: the bias, {num_inputs} inputs "
                f"and {num_outputs} outputs need at least {num_fixed} node slots."
            )
        if max_conns < 1:
            raise InvalidGenomeError(f"max_conns must be positive, got {max_conns}.")
        kind = np.full(max_nodes, HIDDEN, np.int32)
        kind[0] = BIAS
        kind[1 : 1 + num_inputs] = INPUT
        kind[1 + num_inputs : num_fixed] = OUTPUT
        valid = np.zeros(max_nodes, bool)
        valid[:num_fixed] = True
        return cls(
            node_kind=jnp.asarray(kind),
            node_activation=jnp.zeros(max_nodes, jnp.int32),
            node_valid=jnp.asarray(valid),
            conn_source=jnp.zeros(max_conns, jnp.int32),
            conn_target=jnp.zeros(max_conns, jnp.int32),
            conn_enabled=jnp.zeros(max_conns, bool),
            conn_valid=jnp.zeros(max_conns, bool),
            num_inputs=num_inputs,
            num_outputs=num_outputs,
        )

    @classmethod
    def from_edges(
        cls,
        num_inputs: int,
        num_outputs: int,
        edges: Iterable[Sequence[Any]],
        activations: Mapping[int, str] | None = None,
        max_nodes: int | None = None,
        max_conns: int | None = None,
    ) -> Genome:
        """Builds a genome by hand.

        Args:
          num_inputs: number of inputs (nodes 1..num_inputs).
          num_outputs: number of outputs (the nodes after the inputs).
          edges: (source, target) pairs, or (source, target, enabled) triples.
            Hidden nodes are the ids after the outputs; the largest id named
            sets how many there are. Ids are kept as given, never renumbered:
            a hidden id below the largest that no edge names (e.g. 4 when the
            hidden ids used are 3 and 5) is still a hidden node, without
            connections, and counts in ``num_hidden()``.
          activations: node id -> activation name for hidden and output nodes;
            unnamed nodes are linear.
          max_nodes: node capacity (default: exactly the nodes used).
          max_conns: connection capacity (default: exactly the edges given).

        Returns:
          The padded genome.

        Raises:
          InvalidGenomeError: a cycle, an edge into the bias or an input, a
            duplicate edge, an unknown node, or more nodes or edges than the
            capacity; UnknownNameError for an unknown activation name.
        """
        edge_list = [tuple(edge) for edge in edges]
        activations = dict(activations or {})
        num_fixed = 1 + num_inputs + num_outputs
        for edge in edge_list:
            if len(edge) not in (2, 3):
                raise InvalidGenomeError(
                    f"Edge {edge!r} must be (source, target) or (source, target, enabled)."
                )
            for node in edge[:2]:
                if not isinstance(node, (int, np.integer)) or node < 0:
                    raise InvalidGenomeError(
                        f"Unknown node {node!r} in edge {edge!r}: nodes are integers "
                        f"0 (bias), 1..{num_inputs} (inputs), {num_inputs + 1}.."
                        f"{num_fixed - 1} (outputs), {num_fixed}.. (hidden)."
                    )
        named = [int(n) for edge in edge_list for n in edge[:2]]
        num_nodes = max([num_fixed - 1] + named) + 1
        for node in activations:
            if not isinstance(node, (int, np.integer)) or not 0 <= node < num_nodes:
                raise InvalidGenomeError(
                    f"Unknown node {node!r} in activations: the genome has nodes "
                    f"0..{num_nodes - 1}."
                )
            if node <= num_inputs:
                raise InvalidGenomeError(
                    f"Node {node} is the bias or an input, which has no activation."
                )
        max_nodes = num_nodes if max_nodes is None else int(max_nodes)
        max_conns = max(len(edge_list), 1) if max_conns is None else int(max_conns)
        if num_nodes > max_nodes:
            raise InvalidGenomeError(
                f"Over capacity: the edges use {num_nodes} nodes but max_nodes={max_nodes}."
            )
        if len(edge_list) > max_conns:
            raise InvalidGenomeError(
                f"Over capacity: {len(edge_list)} edges but max_conns={max_conns}."
            )
        genome = cls.empty(num_inputs, num_outputs, max_nodes, max_conns)

        seen = set()
        for edge in edge_list:
            source, target = int(edge[0]), int(edge[1])
            if target <= num_inputs:
                what = "the bias" if target == 0 else f"input {target}"
                raise InvalidGenomeError(
                    f"Edge {source}->{target} points into {what}; only hidden and "
                    "output nodes can receive connections."
                )
            if (source, target) in seen:
                raise InvalidGenomeError(f"Duplicate edge {source}->{target}.")
            seen.add((source, target))
        cycle = _find_cycle(num_nodes, [(int(e[0]), int(e[1])) for e in edge_list])
        if cycle:
            raise InvalidGenomeError(
                "The edges contain a cycle: " + " -> ".join(map(str, cycle))
            )

        node_activation = np.zeros(max_nodes, np.int32)
        for node, name in activations.items():
            node_activation[node] = _activation_id(name)
        node_valid = np.asarray(genome.node_valid).copy()
        node_valid[:num_nodes] = True
        conn_source = np.zeros(max_conns, np.int32)
        conn_target = np.zeros(max_conns, np.int32)
        conn_enabled = np.zeros(max_conns, bool)
        conn_valid = np.zeros(max_conns, bool)
        for slot, edge in enumerate(edge_list):
            conn_source[slot], conn_target[slot] = edge[0], edge[1]
            conn_enabled[slot] = bool(edge[2]) if len(edge) == 3 else True
            conn_valid[slot] = True
        return genome.replace(
            node_activation=jnp.asarray(node_activation),
            node_valid=jnp.asarray(node_valid),
            conn_source=jnp.asarray(conn_source),
            conn_target=jnp.asarray(conn_target),
            conn_enabled=jnp.asarray(conn_enabled),
            conn_valid=jnp.asarray(conn_valid),
        )

    def edges(self):
        """(source, target, enabled) of every valid connection, in slot order."""
        if self.node_kind.ndim != 1:
            raise ValueError("edges() takes a single genome, not a population.")
        source, target, enabled, valid = jax.device_get(
            (self.conn_source, self.conn_target, self.conn_enabled, self.conn_valid)
        )
        return [
            (int(s), int(t), bool(e))
            for s, t, e, v in zip(source, target, enabled, valid, strict=True)
            if v
        ]

    def validate(self) -> None:
        """Checks a single concrete genome; raises InvalidGenomeError if broken."""
        arrays = jax.device_get(self.arrays())
        node_valid = arrays["node_valid"]
        num_fixed = self.num_fixed_nodes
        if not node_valid[:num_fixed].all():
            raise InvalidGenomeError("A bias, input or output slot is marked invalid.")
        # Mutation reads the kinds, so they must agree with the numbering (a
        # bias slot marked hidden could otherwise receive connections).
        expected_kind = np.full(self.max_nodes, HIDDEN)
        expected_kind[0] = BIAS
        expected_kind[1 : 1 + self.num_inputs] = INPUT
        expected_kind[1 + self.num_inputs : num_fixed] = OUTPUT
        wrong = np.flatnonzero(node_valid & (arrays["node_kind"] != expected_kind))
        if wrong.size:
            node = int(wrong[0])
            kind = int(arrays["node_kind"][node])
            raise InvalidGenomeError(
                f"Node {node} has kind {NODE_KIND_NAMES.get(kind, kind)!r} but slot "
                f"{node} is a {NODE_KIND_NAMES[int(expected_kind[node])]} slot: nodes "
                "are numbered bias, inputs, outputs, then hidden."
            )
        for slot in np.flatnonzero(arrays["conn_valid"]):
            source = int(arrays["conn_source"][slot])
            target = int(arrays["conn_target"][slot])
            for node in (source, target):
                if not 0 <= node < self.max_nodes or not node_valid[node]:
                    raise InvalidGenomeError(
                        f"Connection slot {slot} ({source}->{target}) names unknown "
                        f"node {node}."
                    )
            if target <= self.num_inputs:
                raise InvalidGenomeError(
                    f"Connection slot {slot} ({source}->{target}) points into the bias "
                    "or an input."
                )
        num_activations = len(activations.activation_names())
        bad = np.flatnonzero(
            node_valid
            & (
                (arrays["node_activation"] < 0)
                | (arrays["node_activation"] >= num_activations)
            )
        )
        if bad.size:
            raise InvalidGenomeError(
                f"Node {int(bad[0])} has unknown activation id "
                f"{int(arrays['node_activation'][bad[0]])}."
            )
        pairs = [
            (int(arrays["conn_source"][s]), int(arrays["conn_target"][s]))
            for s in np.flatnonzero(arrays["conn_valid"])
        ]
        seen = set()
        for source, target in pairs:
            if (source, target) in seen:
                raise InvalidGenomeError(f"Duplicate connection {source}->{target}.")
            seen.add((source, target))
        cycle = _find_cycle(self.max_nodes, pairs)
        if cycle:
            raise InvalidGenomeError(
                "The connections contain a cycle: " + " -> ".join(map(str, cycle))
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of a single genome (names, not ids)."""
        arrays = jax.device_get(self.arrays())
        valid_nodes = np.flatnonzero(arrays["node_valid"])
        return {
            "format": "wannflax.genome",
            "version": 1,
            "num_inputs": self.num_inputs,
            "num_outputs": self.num_outputs,
            "max_nodes": self.max_nodes,
            "max_conns": self.max_conns,
            "nodes": [
                {
                    "id": int(i),
                    "kind": NODE_KIND_NAMES[int(arrays["node_kind"][i])],
                    "activation": activations.activation_name(
                        arrays["node_activation"][i]
                    ),
                }
                for i in valid_nodes
            ],
            "connections": [
                {
                    "slot": int(s),
                    "source": int(arrays["conn_source"][s]),
                    "target": int(arrays["conn_target"][s]),
                    "enabled": bool(arrays["conn_enabled"][s]),
                }
                for s in np.flatnonzero(arrays["conn_valid"])
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Genome:
        """Inverse of :meth:`to_dict`; the result is validated."""
        if data.get("format") != "wannflax.genome":
            raise InvalidGenomeError(
                "Not a wannflax genome description (format field)."
            )
        if data.get("version") != 1:
            raise InvalidGenomeError(
                f"Unsupported genome version {data.get('version')!r}; this wannflax reads 1."
            )
        genome = cls.empty(
            data["num_inputs"],
            data["num_outputs"],
            data["max_nodes"],
            data["max_conns"],
        )
        arrays = {k: np.array(v) for k, v in jax.device_get(genome.arrays()).items()}
        kinds = {name: kind for kind, name in NODE_KIND_NAMES.items()}
        for node in data["nodes"]:
            node_id = int(node["id"])
            if not 0 <= node_id < genome.max_nodes:
                raise InvalidGenomeError(f"Unknown node {node_id}: over capacity.")
            if node["kind"] not in kinds:
                raise InvalidGenomeError(
                    f"Node {node_id} has unknown kind {node['kind']!r}; the kinds are "
                    f"{', '.join(kinds)}."
                )
            arrays["node_valid"][node_id] = True
            arrays["node_kind"][node_id] = kinds[node["kind"]]
            arrays["node_activation"][node_id] = _activation_id(node["activation"])
        for conn in data["connections"]:
            slot = int(conn["slot"])
            if not 0 <= slot < genome.max_conns:
                raise InvalidGenomeError(f"Connection slot {slot} is over capacity.")
            arrays["conn_source"][slot] = conn["source"]
            arrays["conn_target"][slot] = conn["target"]
            arrays["conn_enabled"][slot] = conn["enabled"]
            arrays["conn_valid"][slot] = True
        result = cls.from_arrays(arrays, genome.num_inputs, genome.num_outputs)
        result.validate()
        return result


def _activation_id(name: str) -> int:
    return activations.activation_id(name)


def _find_cycle(num_nodes: int, pairs: Sequence[tuple]) -> list:
    """A list of nodes forming a cycle, or [] if the graph is acyclic."""
    children = [[] for _ in range(num_nodes)]
    for source, target in pairs:
        children[source].append(target)
    state = [0] * num_nodes  # 0 unseen, 1 on the current path, 2 finished
    for root in range(num_nodes):
        if state[root]:
            continue
        stack = [(root, iter(children[root]))]
        path = [root]
        state[root] = 1
        while stack:
            node, remaining = stack[-1]
            child = next(remaining, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state[child] == 1:
                return path[path.index(child) :] + [child]
            elif state[child] == 0:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(children[child])))
    return []
