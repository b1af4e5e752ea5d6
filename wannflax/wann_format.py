"""The WANN release's network format (``.out``) and tuned weights (``.wann.json``).

The format is described, with the paper's swing-up champion, in
``shared/data/wann_paper/README.md``: an N x (N+1) matrix, row = source,
column = target, ``nan`` a disabled connection, the last column the
activation id; node order bias, inputs, hidden, outputs last.
"""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from wannflax import activations
from wannflax.genome import OUTPUT, Genome, InvalidGenomeError
from wannflax.network_io import _atomic_write, _check_single, _conn_weights, _read_json


def _parse_out(path: str) -> np.ndarray:
    """The N x (N+1) float matrix of a .out file (blank lines skipped)."""
    with open(path, encoding="utf-8") as handle:
        lines = [(n, line.strip()) for n, line in enumerate(handle, start=1)]
    lines = [(n, line) for n, line in lines if line]
    if not lines:
        raise InvalidGenomeError(f"{path}: empty network file.")
    num_rows = len(lines)
    rows = []
    for row, (line_no, line) in enumerate(lines):
        fields = line.split(",")
        if len(fields) != num_rows + 1:
            raise InvalidGenomeError(
                f"{path}: row {row} (line {line_no}) has {len(fields)} values; a "
                f"file of {num_rows} rows needs {num_rows + 1} per row (N x N+1: "
                "connection matrix, then the activation id)."
            )
        values = []
        for column, field in enumerate(fields):
            try:
                values.append(float(field))
            except ValueError:
                raise InvalidGenomeError(
                    f"{path}: row {row}, column {column} (line {line_no}) is not a "
                    f"number: {field.strip()!r}."
                ) from None
        rows.append(values)
    return np.asarray(rows, np.float64)


def load_wann_out(
    path: str | os.PathLike,
    num_inputs: int,
    num_outputs: int,
    max_nodes: int | None = None,
    max_conns: int | None = None,
) -> Genome:
    """The genome of a release ``.out`` file.

    Its compiled module computes what the release computes under a shared
    weight. For the stored or tuned per-connection weights as well, use
    :func:`load_wann_network`, which this wraps.
    """
    genome, _ = load_wann_network(
        path, num_inputs, num_outputs, max_nodes=max_nodes, max_conns=max_conns
    )
    return genome


def read_wann_tuned_weights(path: str | os.PathLike) -> tuple[np.ndarray, Any]:
    """The raw contents of a release ``.wann.json``: ``(p, score)``.

    ``p`` is float64 [K], the offsets that :func:`load_wann_network` adds to the
    tuned shared weight. Use :func:`load_wann_network` to apply them.
    """
    path = os.fspath(path)
    document = _read_json(path)
    if (
        not isinstance(document, list)
        or len(document) != 2
        or not isinstance(document[0], list)
    ):
        raise ValueError(
            f"{path}: expected [[p_0, ..., p_K-1], score], got a "
            f"{type(document).__name__}."
        )
    values = document[0]
    for i, value in enumerate(values):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ValueError(
                f"{path}: tuned weight {i} is {value!r}, not a finite number."
            )
    return np.asarray(values, np.float64), document[1]


def load_wann_network(
    path: str | os.PathLike,
    num_inputs: int,
    num_outputs: int,
    *,
    tuned_weights: str | os.PathLike | None = None,
    tuned_bias: float | None = None,
    stored_weights: bool = False,
    max_nodes: int | None = None,
    max_conns: int | None = None,
) -> tuple[Genome, dict[str, Any] | None]:
    """Reads a network in the WANN release's ``.out`` format.

    The file does not say how many inputs and outputs the task has, so the
    caller does (swing-up: 5 and 1). File node order is bias, inputs, hidden,
    outputs; ours puts the outputs right after the inputs, so the file's last
    ``num_outputs`` rows become nodes ``num_inputs+1 ..`` and its hidden rows
    follow in file order. Connection slots follow the matrix in row-major
    order over enabled and disabled entries (see the module docstring).
    Activation ids 1..11 map to the paper's functions; any other id (and the
    bias and input rows' ids) act as linear.

    Always returns ``(genome, params)``; ``params`` is None unless weights are
    asked for, in one of two ways (not both):

    * ``tuned_weights=path.wann.json, tuned_bias=b`` (both required together):
      the i-th enabled connection gets ``p_i + b`` (swing-up: b = -1.5).
    * ``stored_weights=True``: each enabled connection gets the number stored
      in the matrix (what :func:`save_wann_out` writes).

    In ``params = {"conn_weights": f32[max_conns]}`` disabled and padding
    slots hold 0 (the module ignores them). Without weights, use
    ``wannflax.compile(genome, shared_weight)`` as for any genome.

    Args:
      path: the ``.out`` file.
      num_inputs, num_outputs: the task's observation and action sizes.
      tuned_weights: a ``.wann.json`` file of individually tuned weights.
      tuned_bias: the task's tuned shared weight b, added to each p_i.
      stored_weights: return the weights stored in the matrix.
      max_nodes, max_conns: capacity (default: exactly what the file uses).

    Raises:
      InvalidGenomeError: the file is not N rows of N+1 numbers, has fewer
        than 1 + num_inputs + num_outputs nodes, a non-finite weight, a
        connection into the bias or an input, or one that does not point
        forward in file order (self-loops and cycles included); too small a
        capacity. Messages name the file and the row/column.
      ValueError: a tuned-weight file whose length differs from the number of
        enabled connections, or inconsistent arguments.
    """
    path = os.fspath(path)
    if (tuned_weights is None) != (tuned_bias is None):
        raise ValueError(
            "tuned_weights and tuned_bias go together: the release stores offsets "
            "p_i, and each tuned weight is p_i + tuned_bias (swing-up: -1.5)."
        )
    if tuned_weights is not None and stored_weights:
        raise ValueError("Ask for tuned_weights or stored_weights, not both.")
    for name, value in (("num_inputs", num_inputs), ("num_outputs", num_outputs)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an int, got {value!r}.")
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")
    num_inputs, num_outputs = int(num_inputs), int(num_outputs)

    matrix = _parse_out(path)
    n = matrix.shape[0]
    num_fixed = 1 + num_inputs + num_outputs
    if n < num_fixed:
        raise InvalidGenomeError(
            f"{path}: {n} nodes, but the bias, {num_inputs} inputs and "
            f"{num_outputs} outputs need at least {num_fixed}."
        )
    conns = matrix[:, :n]
    act_column = matrix[:, n]

    # File row -> our node id.
    num_hidden = n - num_fixed
    file_to_ours = np.empty(n, np.int64)
    file_to_ours[: 1 + num_inputs] = np.arange(1 + num_inputs)
    file_to_ours[1 + num_inputs : 1 + num_inputs + num_hidden] = np.arange(num_fixed, n)
    file_to_ours[n - num_outputs :] = np.arange(1 + num_inputs, num_fixed)

    def describe(row: int) -> str:
        if row == 0:
            return "the bias"
        if row <= num_inputs:
            return f"input {row}"
        if row >= n - num_outputs:
            return f"output {row - (n - num_outputs)}"
        return "a hidden node"

    sources, targets = np.nonzero(conns != 0)  # row-major; nan != 0 holds
    enabled = ~np.isnan(conns[sources, targets])
    for source, target in zip(sources.tolist(), targets.tolist(), strict=True):
        value = conns[source, target]
        if np.isinf(value):
            raise InvalidGenomeError(
                f"{path}: row {source}, column {target} holds {value}; a connection "
                "is 0 (none), nan (disabled) or a finite weight."
            )
        if target <= num_inputs:
            raise InvalidGenomeError(
                f"{path}: row {source}, column {target}: a connection from "
                f"{describe(source)} into {describe(target)}; only hidden and output "
                "nodes can receive connections."
            )
        if target <= source:
            kind = "a self-loop" if target == source else "a backward edge"
            raise InvalidGenomeError(
                f"{path}: row {source}, column {target}: the connection from file "
                f"node {source} ({describe(source)}) to file node {target} "
                f"({describe(target)}) is {kind}. The release evaluates nodes in "
                "file order, so every connection must go to a later node; this one "
                "would be a cycle or read a node before it is computed."
            )

    num_conns = len(sources)
    max_nodes = n if max_nodes is None else int(max_nodes)
    max_conns = max(num_conns, 1) if max_conns is None else int(max_conns)
    if max_nodes < n:
        raise InvalidGenomeError(f"{path}: {n} nodes but max_nodes={max_nodes}.")
    if max_conns < num_conns:
        raise InvalidGenomeError(
            f"{path}: {num_conns} connections (enabled and disabled) but "
            f"max_conns={max_conns}."
        )

    genome = Genome.empty(num_inputs, num_outputs, max_nodes, max_conns)
    node_valid = np.zeros(max_nodes, bool)
    node_valid[:n] = True
    node_activation = np.zeros(max_nodes, np.int32)
    for row in range(1 + num_inputs, n):
        act = act_column[row]
        table_id = (
            activations.from_paper_id(int(act))
            if np.isfinite(act) and act == int(act)
            else 0
        )
        node_activation[file_to_ours[row]] = table_id
    conn_source = np.zeros(max_conns, np.int32)
    conn_target = np.zeros(max_conns, np.int32)
    conn_enabled = np.zeros(max_conns, bool)
    conn_valid = np.zeros(max_conns, bool)
    conn_source[:num_conns] = file_to_ours[sources]
    conn_target[:num_conns] = file_to_ours[targets]
    conn_enabled[:num_conns] = enabled
    conn_valid[:num_conns] = True
    genome = genome.replace(
        node_activation=jnp.asarray(node_activation),
        node_valid=jnp.asarray(node_valid),
        conn_source=jnp.asarray(conn_source),
        conn_target=jnp.asarray(conn_target),
        conn_enabled=jnp.asarray(conn_enabled),
        conn_valid=jnp.asarray(conn_valid),
    )
    genome.validate()

    enabled_slots = np.flatnonzero(enabled)
    params = None
    if tuned_weights is not None:
        offsets, _ = read_wann_tuned_weights(tuned_weights)
        if len(offsets) != len(enabled_slots):
            raise ValueError(
                f"{os.fspath(tuned_weights)} has {len(offsets)} tuned weights but "
                f"{path} has {len(enabled_slots)} enabled connections; they must "
                "match one to one (row-major order of the matrix)."
            )
        weights = np.zeros(max_conns, np.float32)
        weights[enabled_slots] = offsets + float(tuned_bias)
        params = {"conn_weights": jnp.asarray(weights)}
    elif stored_weights:
        weights = np.zeros(max_conns, np.float32)
        weights[enabled_slots] = conns[sources, targets][enabled_slots]
        params = {"conn_weights": jnp.asarray(weights)}
    return genome, params


def _release_order(genome: Genome, arrays: Mapping[str, np.ndarray]) -> list[int]:
    """Our node ids in the release's file order, or InvalidGenomeError.

    Bias, inputs, hidden nodes in a topological order over every valid
    connection (ties by id), outputs last in id order.
    """
    num_inputs, num_fixed = genome.num_inputs, genome.num_fixed_nodes
    outputs = list(range(1 + num_inputs, num_fixed))
    hidden = [
        int(i)
        for i in np.flatnonzero(arrays["node_valid"])
        if i >= num_fixed and arrays["node_kind"][i] != OUTPUT
    ]
    valid_slots = np.flatnonzero(arrays["conn_valid"])
    for slot in valid_slots:
        source = int(arrays["conn_source"][slot])
        target = int(arrays["conn_target"][slot])
        if 1 + num_inputs <= source < num_fixed and not (
            1 + num_inputs <= target < num_fixed and target > source
        ):
            raise InvalidGenomeError(
                f"Connection slot {slot} ({source}->{target}) leaves output node "
                f"{source}; the release format puts the outputs last, in order, so "
                "only an edge to a later output can leave an output."
            )
    # Kahn's algorithm on the hidden nodes, smallest id first among the ready.
    hidden_set = set(hidden)
    indegree = dict.fromkeys(hidden, 0)
    children: dict[int, list[int]] = {h: [] for h in hidden}
    for slot in valid_slots:
        source = int(arrays["conn_source"][slot])
        target = int(arrays["conn_target"][slot])
        if source in hidden_set and target in hidden_set:
            indegree[target] += 1
            children[source].append(target)
    ready = [h for h in hidden if indegree[h] == 0]
    heapq.heapify(ready)
    ordered = []
    while ready:
        node = heapq.heappop(ready)
        ordered.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, child)
    if len(ordered) != len(hidden):  # validate() rules this out; be safe.
        raise InvalidGenomeError("The hidden nodes contain a cycle.")
    return list(range(1 + num_inputs)) + ordered + outputs


def save_wann_out(
    path: str | os.PathLike,
    genome: Genome,
    params: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> None:
    """Writes a genome in the WANN release's ``.out`` format.

    Node order is the release's: bias, inputs, hidden nodes in a topological
    order, outputs last; padding slots are dropped. Enabled connections carry
    their weight from ``params`` (or 1.0: under a shared weight the number is
    ignored), disabled ones ``nan``; the last column holds release activation
    ids (bias and inputs: 1). ``load_wann_out(path, I, O)`` reads it back to a
    genome with the same outputs (``stored_weights=True`` for the weights).
    Everything is checked before anything is written; the write is atomic.

    Raises:
      FileExistsError: ``path`` exists and ``overwrite`` is False.
      InvalidGenomeError: an invalid genome, an activation with no release
        id (naming the node), or an edge out of an output node that the
        release's outputs-last order cannot express.
      ValueError: weights of the wrong shape, non-finite, or exactly 0 on an
        enabled connection (0 means "no connection" in the format).
    """
    _check_single(genome)
    genome.validate()
    weights = None if params is None else _conn_weights(params, genome)
    arrays = {k: np.asarray(v) for k, v in jax.device_get(genome.arrays()).items()}
    order = _release_order(genome, arrays)
    position = {node: row for row, node in enumerate(order)}
    n = len(order)

    paper_ids = []
    for row, node in enumerate(order):
        if row <= genome.num_inputs:
            paper_ids.append(1)
            continue
        table_id = int(arrays["node_activation"][node])
        entry = activations.get(activations.activation_name(table_id))
        if entry.paper_id is None:
            raise InvalidGenomeError(
                f"Node {node} uses activation {entry.name!r}, which has no id in the "
                "WANN release's format (only the paper's functions do)."
            )
        paper_ids.append(int(entry.paper_id))

    cells = [["0"] * n for _ in range(n)]
    for slot in np.flatnonzero(arrays["conn_valid"]):
        source = position[int(arrays["conn_source"][slot])]
        target = position[int(arrays["conn_target"][slot])]
        if not arrays["conn_enabled"][slot]:
            cells[source][target] = "nan"
            continue
        weight = 1.0 if weights is None else float(weights[slot])
        if weight == 0.0:
            raise ValueError(
                f"params['conn_weights'][{slot}] is 0 on an enabled connection "
                f"({int(arrays['conn_source'][slot])}->"
                f"{int(arrays['conn_target'][slot])}); the .out format reads 0 as "
                "no connection."
            )
        cells[source][target] = repr(weight)
    lines = [
        ",".join(row_cells + [repr(float(pid))])
        for row_cells, pid in zip(cells, paper_ids, strict=True)
    ]
    _atomic_write(path, "\n".join(lines) + "\n", overwrite)
