"""Reading and writing networks: our own JSON format and the WANN release's.

Two formats:

* ``wannflax.network`` (:func:`save_network` / :func:`load_network`): one
  genome plus optional per-connection weights and free-form metadata, as
  readable, versioned JSON. Round trips are exact (float32 weights are written
  as the shortest decimal that reads back to the same value).
* The release's ``.out`` matrix format (:func:`load_wann_out`, :func:`load_wann_network` /
  :func:`save_wann_out`), and its ``.wann.json`` individually tuned weights
  (read through :func:`load_wann_network` with ``tuned_weights=``). The formats
  are described in ``shared/data/wann_paper/README.md``.

Connection slots of a genome read from a ``.out`` file follow the file's
matrix in row-major order (source row, then target column), over enabled and
disabled entries alike; padding slots come after. So the i-th enabled slot is
the i-th enabled entry of the matrix, which is how tuned weights are matched.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from wannflax import activations
from wannflax.genome import OUTPUT, Genome, InvalidGenomeError

NETWORK_FORMAT = "wannflax.network"
NETWORK_VERSION = 1

__all__ = [
    "NETWORK_FORMAT",
    "NETWORK_VERSION",
    "load_network",
    "load_wann_network",
    "load_wann_out",
    "read_wann_tuned_weights",
    "save_network",
    "save_wann_out",
]


# -- shared helpers ----------------------------------------------------------------


def _check_single(genome: Genome) -> None:
    if np.ndim(genome.node_kind) != 1:
        raise ValueError(
            "Expected a single genome, got a population; index it with "
            "population.index(i) first."
        )


def _conn_weights(params: Any, genome: Genome) -> np.ndarray:
    """The float32 [max_conns] weights of ``params``, checked shape and finite."""
    if not isinstance(params, Mapping) or "conn_weights" not in params:
        raise ValueError(
            "params must be a mapping {'conn_weights': f32[max_conns]} (the "
            "'params' collection of compile()'s variables)."
        )
    weights = np.asarray(jax.device_get(params["conn_weights"]))
    if weights.shape != (genome.max_conns,):
        raise ValueError(
            f"params['conn_weights'] has shape {tuple(weights.shape)}; the genome "
            f"has max_conns={genome.max_conns}, so it must be ({genome.max_conns},)."
        )
    if not np.issubdtype(weights.dtype, np.floating) and not np.issubdtype(
        weights.dtype, np.integer
    ):
        raise ValueError(
            f"params['conn_weights'] has dtype {weights.dtype}; expected floats."
        )
    weights = weights.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(weights))
    if bad.size:
        slot = int(bad[0])
        raise ValueError(
            f"params['conn_weights'][{slot}] is {weights[slot]!r} (not finite); "
            f"{bad.size} slot(s) are non-finite: {bad[:10].tolist()}."
        )
    return weights


def _atomic_write(path: str | os.PathLike, text: str | bytes, overwrite: bool) -> None:
    """Writes ``text`` (str, or bytes) to ``path`` through a temp file beside it.

    Without ``overwrite`` an existing file is never touched: the final step
    is a hard link, which fails if the name appeared meanwhile.
    """
    path = os.fspath(path)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True to replace it."
        )
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        binary = isinstance(text, bytes)
        with os.fdopen(
            fd, "wb" if binary else "w", encoding=None if binary else "utf-8"
        ) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(
                    f"{path} already exists; pass overwrite=True to replace it."
                ) from None
            except OSError:
                # A filesystem without hard links: fall back to check + rename.
                if os.path.lexists(path):
                    raise FileExistsError(
                        f"{path} already exists; pass overwrite=True to replace it."
                    ) from None
                os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


# -- the wannflax.network format ---------------------------------------------------


def save_network(
    path: str | os.PathLike,
    genome: Genome,
    params: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> None:
    """Writes one genome, optional weights and metadata as versioned JSON.

    The file is ``{"format": "wannflax.network", "version": 1, "genome":
    genome.to_dict(), "conn_weights": [...] or null, "metadata": {...}}``.
    Everything is checked before anything is written, and the write is
    atomic (temp file in the same directory, then rename).

    Args:
      path: destination file.
      genome: a single, valid genome.
      params: ``{"conn_weights": f32[max_conns]}`` (e.g. ``variables["params"]``
        of :func:`wannflax.compile`), or None to store the structure only.
      metadata: a JSON-serialisable mapping (task, shared weight, score...).
      overwrite: replace an existing file; otherwise FileExistsError.

    Raises:
      FileExistsError: ``path`` exists and ``overwrite`` is False.
      ValueError: weights of the wrong shape or non-finite (naming the slot),
        metadata that is not a JSON-serialisable mapping, or a population.
      InvalidGenomeError: an invalid genome.
    """
    _check_single(genome)
    genome.validate()
    weights = None if params is None else _conn_weights(params, genome)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise ValueError(f"metadata must be a mapping, got {type(metadata).__name__}.")
    document = {
        "format": NETWORK_FORMAT,
        "version": NETWORK_VERSION,
        "genome": genome.to_dict(),
        # float(float32) is exact, and json writes floats with repr, which
        # reads back to the same double, hence the same float32.
        "conn_weights": None if weights is None else [float(w) for w in weights],
        "metadata": dict(metadata),
    }
    try:
        text = json.dumps(document, indent=1, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"metadata is not JSON-serialisable (finite numbers, strings, lists, "
            f"dicts with string keys): {error}"
        ) from error
    _atomic_write(path, text + "\n", overwrite)


def load_network(
    path: str | os.PathLike,
) -> tuple[Genome, dict[str, Any] | None, dict[str, Any]]:
    """Reads a file written by :func:`save_network`.

    Returns:
      ``(genome, params, metadata)``: the validated genome, ``{"conn_weights":
      f32[max_conns]}`` or None if the file stored no weights, and the
      metadata dict.

    Raises:
      ValueError: not JSON, another format, a newer or unknown version, or
        malformed weights. InvalidGenomeError: an invalid genome.
    """
    path = os.fspath(path)
    document = _read_json(path)
    if not isinstance(document, dict) or document.get("format") != NETWORK_FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise ValueError(
            f"{path}: field 'format' is {found!r}; expected {NETWORK_FORMAT!r}."
        )
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            f"{path}: field 'version' is {version!r}; this wannflax reads version "
            f"{NETWORK_VERSION}."
        )
    if version > NETWORK_VERSION:
        raise ValueError(
            f"{path}: field 'version' is {version}, newer than this wannflax "
            f"supports (version {NETWORK_VERSION}); upgrade wannflax to read it."
        )
    if "genome" not in document:
        raise ValueError(f"{path}: field 'genome' is missing.")
    try:
        genome = Genome.from_dict(document["genome"])
    except (KeyError, TypeError) as error:
        raise InvalidGenomeError(
            f"{path}: field 'genome' is malformed ({error!r})."
        ) from error
    raw = document.get("conn_weights")
    params = None
    if raw is not None:
        if not isinstance(raw, list) or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) for w in raw
        ):
            raise ValueError(f"{path}: field 'conn_weights' must be a list of numbers.")
        params = {"conn_weights": np.asarray(raw, np.float64)}
        try:
            weights = _conn_weights(params, genome)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
        params = {"conn_weights": weights}
    metadata = document.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: field 'metadata' must be an object.")
    return genome, params, metadata


# -- the release's .out format -----------------------------------------------------


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


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not a JSON file: {error}") from error


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
