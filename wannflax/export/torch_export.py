"""Export of one genome and its weights to a plain PyTorch module.

The exported module computes what ``WANN.apply`` computes (REFERENCE.md
section 1): the bias node is 1, inputs pass unchanged, every later node applies
its activation to the weighted sum of its enabled incoming connections. Only
the part of the genome that can reach an output is kept: nodes with a path to
an output over enabled connections, and the enabled connections into them. A
kept hidden node without incoming connections still outputs act(0).

The kept nodes are grouped into layers by longest-path depth and evaluated
layer by layer. Each layer gathers its sources through an index table padded
to the layer's largest fan-in (padding reads the bias with a zero weight), so
the forward has no scatter (which ONNX handles poorly with repeated indices)
and a node only ever sees its own sources.

The connection weights are one ``nn.Parameter`` (``conn_weights``, in
ascending genome slot order); the persistent buffer ``conn_slots`` names the
genome slot of each, so a fine-tuned state_dict maps back onto the Flax
parameter tree (:func:`params_from_state_dict`).

torch is imported inside the functions: wannflax itself never needs it.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from wannflax import activations
from wannflax.genome import Genome
from wannflax.module import WANN
from wannflax.network_io import _atomic_write

EXPORT_FORMAT = "wannflax.torch_export"
EXPORT_VERSION = 1
METADATA_FILE = "wannflax.json"

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "ExportError",
    "ExportPlan",
    "PyTorchExport",
    "export_to_pytorch",
    "params_from_state_dict",
    "plan_export",
    "state_dict_path",
    "to_torch",
]


class ExportError(ValueError):
    """A genome or parameters that cannot be exported; the message says why."""


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """One layer of the exported network: nodes of equal depth.

    Attributes:
      nodes: genome node ids, sorted by activation then id.
      sources: int64 [len(nodes), fan_in]; positions in the value buffer
        (0 bias, 1..num_inputs inputs, then earlier layers' nodes in order).
      weights: int64 [len(nodes), fan_in]; indices into the exported weights,
        ``num_conns`` (a constant zero) for padding.
      groups: (activation name, start, end): nodes[start:end] share it.
    """

    nodes: tuple[int, ...]
    sources: np.ndarray
    weights: np.ndarray
    groups: tuple[tuple[str, int, int], ...]


@dataclasses.dataclass(frozen=True)
class ExportPlan:
    """The pruned network, in evaluation order, with its weights.

    Attributes:
      num_inputs: input width.
      num_outputs: output width.
      max_conns: connection capacity of the genome it came from.
      conn_slots: int64 [num_conns]; the genome slot of each exported weight,
        ascending.
      conn_weights: float32 [num_conns]; their values.
      layers: the layers, shallowest first.
      output_positions: int64 [num_outputs]; value-buffer positions of the
        output nodes, in output order.
      aggregate: the module class's ``torch_aggregate`` (how a node combines
        its weighted inputs).
    """

    num_inputs: int
    num_outputs: int
    max_conns: int
    conn_slots: np.ndarray
    conn_weights: np.ndarray
    layers: tuple[LayerPlan, ...]
    output_positions: np.ndarray
    aggregate: Any = None

    @property
    def nodes(self) -> tuple[int, ...]:
        """Kept hidden and output node ids, in evaluation order."""
        return tuple(node for layer in self.layers for node in layer.nodes)


class PyTorchExport(NamedTuple):
    """Paths written by :func:`export_to_pytorch`."""

    program: Path
    state_dict: Path


def _require_torch():
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "Export to PyTorch needs torch: install the export extra, "
            "pip install 'wannflax[export]' (torch==2.13.0)."
        ) from error
    return torch


def _check_module_class(module_class: type) -> None:
    if not (isinstance(module_class, type) and issubclass(module_class, WANN)):
        raise TypeError(
            f"module_class must be WANN or a subclass, got {module_class!r}."
        )
    # The export reimplements the forward in torch; an overridden hook without
    # a torch twin would be silently dropped, so refuse rather than compute
    # something else.
    if (
        module_class.aggregate is not WANN.aggregate
        and module_class.torch_aggregate is WANN.torch_aggregate
    ):
        raise NotImplementedError(
            f"{module_class.__name__} overrides aggregate() but not "
            "torch_aggregate(weighted, present); define its torch twin to export it."
        )
    if module_class.activate is not WANN.activate:
        raise NotImplementedError(
            f"{module_class.__name__} overrides activate(); export supports table "
            "activations only (register an activation with a torch_fn instead)."
        )


def _conn_weights(params: Any, genome: Genome) -> np.ndarray:
    """float32 [max_conns] from params, variables or a bare array; shape checked."""
    if isinstance(params, Mapping) and "params" in params:
        params = params["params"]
    if isinstance(params, Mapping):
        if "conn_weights" not in params:
            raise ExportError(
                "params must be {'conn_weights': f32[max_conns]} (the 'params' "
                f"collection of compile()'s variables); got keys {sorted(params)}."
            )
        params = params["conn_weights"]
    weights = np.asarray(jax.device_get(params))
    if weights.shape != (genome.max_conns,):
        raise ExportError(
            f"conn_weights has shape {tuple(weights.shape)} but the genome has "
            f"max_conns={genome.max_conns}: genome and params are of different "
            "capacity."
        )
    if not (
        np.issubdtype(weights.dtype, np.floating)
        or np.issubdtype(weights.dtype, np.integer)
    ):
        raise ExportError(f"conn_weights has dtype {weights.dtype}; expected floats.")
    return weights.astype(np.float32)


def plan_export(genome: Genome, params: Any, module_class: type = WANN) -> ExportPlan:
    """Checks a genome and its weights and prunes them to the active network.

    Args:
      genome: one concrete genome.
      params: ``{"conn_weights": f32[max_conns]}``, the whole variables dict
        of ``compile`` (its ``"params"`` are used) or the bare weight array.
      module_class: the module class the network is meant for; WANN or a
        subclass that keeps the table activations and, if it overrides
        ``aggregate``, also defines ``torch_aggregate``.

    Returns:
      The plan: kept nodes in layers, their connections and weights.

    Raises:
      ExportError: params of another capacity, a non-finite weight on a kept
        connection (naming it), or a kept node whose activation has no torch
        version (naming both).
      InvalidGenomeError: an invalid genome.
      NotImplementedError: a module class with its own ``activate``, or its
        own ``aggregate`` without ``torch_aggregate``.
    """
    _check_module_class(module_class)
    if isinstance(genome.node_kind, jax.core.Tracer):
        raise ExportError("Export needs a concrete genome, not one traced under jit.")
    if np.ndim(genome.node_kind) != 1:
        raise ExportError(
            "Export takes a single genome; index a population with "
            "population.index(i) first."
        )
    genome.validate()
    weights = _conn_weights(params, genome)
    arrays = jax.device_get(genome.arrays())
    num_inputs, num_outputs = genome.num_inputs, genome.num_outputs
    first_output = num_inputs + 1
    outputs = list(range(first_output, first_output + num_outputs))

    active = np.flatnonzero(arrays["conn_valid"] & arrays["conn_enabled"])
    incoming: dict[int, list[int]] = {}
    for slot in active:
        incoming.setdefault(int(arrays["conn_target"][slot]), []).append(int(slot))

    # Walk back from the outputs: what no output can reach is dead and dropped.
    kept = set(outputs)
    stack = list(outputs)
    while stack:
        node = stack.pop()
        for slot in incoming.get(node, ()):
            source = int(arrays["conn_source"][slot])
            if source > num_inputs and source not in kept:
                kept.add(source)
                stack.append(source)
    kept_slots = sorted(
        slot for node in kept for slot in incoming.get(node, ())
    )  # ascending, so exported weight i is the i-th kept slot

    for slot in kept_slots:
        if not np.isfinite(weights[slot]):
            source = int(arrays["conn_source"][slot])
            target = int(arrays["conn_target"][slot])
            raise ExportError(
                f"Connection slot {slot} ({source}->{target}) has non-finite weight "
                f"{float(weights[slot])!r}; only finite weights can be exported."
            )
    for node in sorted(kept):
        name = activations.activation_name(arrays["node_activation"][node])
        if activations.get(name).torch_fn is None:
            raise ExportError(
                f"Node {node} uses activation {name!r}, which has no torch version; "
                "register it with register_activation(..., torch_fn=...)."
            )

    # Longest-path depth over kept connections; the genome is acyclic (validated).
    depth = {node: 0 for node in range(first_output)}

    def depth_of(node: int) -> int:
        pending = [node]
        while pending:
            current = pending[-1]
            if current in depth:
                pending.pop()
                continue
            sources = [int(arrays["conn_source"][s]) for s in incoming.get(current, ())]
            missing = [s for s in sources if s not in depth]
            if missing:
                pending.extend(missing)
                continue
            depth[current] = 1 + max((depth[s] for s in sources), default=0)
            pending.pop()
        return depth[node]

    for node in sorted(kept):
        depth_of(node)

    weight_index = {slot: i for i, slot in enumerate(kept_slots)}
    zero_weight = len(kept_slots)
    position = {node: node for node in range(first_output)}
    layers = []
    for level in range(1, max(depth[n] for n in kept) + 1):
        nodes = sorted(
            (n for n in kept if depth[n] == level),
            key=lambda n: (int(arrays["node_activation"][n]), n),
        )
        fan_in = max(1, max(len(incoming.get(n, ())) for n in nodes))
        # Padding reads position 0 (the bias, 1) times the zero weight: 0, and
        # never 0 * inf as a dense product would give.
        sources = np.zeros((len(nodes), fan_in), np.int64)
        slots = np.full((len(nodes), fan_in), zero_weight, np.int64)
        for row, node in enumerate(nodes):
            for col, slot in enumerate(sorted(incoming.get(node, ()))):
                sources[row, col] = position[int(arrays["conn_source"][slot])]
                slots[row, col] = weight_index[slot]
        groups = []
        for row, node in enumerate(nodes):
            name = activations.activation_name(arrays["node_activation"][node])
            if groups and groups[-1][0] == name:
                groups[-1][2] = row + 1
            else:
                groups.append([name, row, row + 1])
        offset = len(position)
        for row, node in enumerate(nodes):
            position[node] = offset + row
        layers.append(
            LayerPlan(
                nodes=tuple(nodes),
                sources=sources,
                weights=slots,
                groups=tuple((name, start, end) for name, start, end in groups),
            )
        )
    return ExportPlan(
        num_inputs=num_inputs,
        num_outputs=num_outputs,
        max_conns=genome.max_conns,
        conn_slots=np.asarray(kept_slots, np.int64),
        conn_weights=weights[np.asarray(kept_slots, np.int64)].astype(np.float32),
        layers=tuple(layers),
        output_positions=np.asarray([position[n] for n in outputs], np.int64),
        aggregate=module_class.torch_aggregate,
    )


@functools.cache
def _module_class():
    """The torch module class, defined on first use so torch stays optional."""
    torch = _require_torch()

    class ExportedWANN(torch.nn.Module):
        """A pruned WANN as a torch module: [..., num_inputs] -> [..., num_outputs].

        ``conn_weights`` is the trainable parameter; ``conn_slots`` (a
        persistent buffer) gives the genome slot of each weight. The layer
        index tables are non-persistent buffers, so the state_dict holds only
        those two.
        """

        def __init__(self, plan: ExportPlan):
            super().__init__()
            self.num_inputs = plan.num_inputs
            self.num_outputs = plan.num_outputs
            self.conn_weights = torch.nn.Parameter(
                torch.as_tensor(plan.conn_weights.copy())
            )
            self.register_buffer("conn_slots", torch.as_tensor(plan.conn_slots.copy()))
            self.register_buffer(
                "output_positions",
                torch.as_tensor(plan.output_positions.copy()),
                persistent=False,
            )
            self.num_layers = len(plan.layers)
            self._aggregate = plan.aggregate or WANN.torch_aggregate
            self._groups = []
            for i, layer in enumerate(plan.layers):
                self.register_buffer(
                    f"layer{i}_sources",
                    torch.as_tensor(layer.sources.copy()),
                    persistent=False,
                )
                self.register_buffer(
                    f"layer{i}_weights",
                    torch.as_tensor(layer.weights.copy()),
                    persistent=False,
                )
                self._groups.append(
                    tuple(
                        (activations.get(name).torch_fn, start, end)
                        for name, start, end in layer.groups
                    )
                )

        def forward(self, x):
            """Maps a batch [..., num_inputs] to [..., num_outputs]."""
            if x.dim() < 1 or x.shape[-1] != self.num_inputs:
                raise ValueError(
                    f"Input batch has shape {tuple(x.shape)}; the network expects "
                    f"[batch, {self.num_inputs}]."
                )
            # As the Flax module does for integer batches: compute in floats.
            x = x.to(self.conn_weights.dtype)
            values = torch.cat([torch.ones_like(x[..., :1]), x], dim=-1)
            # A trailing zero weight that padded fan-in slots point at.
            weights = torch.cat([self.conn_weights, self.conn_weights.new_zeros(1)])
            for i in range(self.num_layers):
                sources = getattr(self, f"layer{i}_sources")
                slots = getattr(self, f"layer{i}_weights")
                pre = self._aggregate(
                    values[..., sources] * weights[slots], slots != len(weights) - 1
                )
                parts = [fn(pre[..., start:end]) for fn, start, end in self._groups[i]]
                values = torch.cat([values, *parts], dim=-1)
            return values[..., self.output_positions]

    return ExportedWANN


def __getattr__(name: str):
    # ``ExportedWANN`` exists only once torch is imported; expose it lazily.
    if name == "ExportedWANN":
        return _module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_torch(genome: Genome, params: Any, module_class: type = WANN):
    """The genome as a trainable ``torch.nn.Module``.

    Args:
      genome: one concrete genome.
      params: ``{"conn_weights": f32[max_conns]}``, compile()'s variables, or
        the bare weight array.
      module_class: WANN or a subclass; one that overrides ``aggregate``
        must define ``torch_aggregate`` too (see :func:`plan_export`).

    Returns:
      An ``ExportedWANN`` module in float32 mapping [..., num_inputs] to
      [..., num_outputs], equal to ``module.apply(variables, x)``. Its
      ``conn_weights`` parameter holds the kept connections' weights in
      ascending slot order and the ``conn_slots`` buffer their genome slots.

    Raises:
      ExportError, InvalidGenomeError, NotImplementedError: see
      :func:`plan_export`; ImportError without torch.
    """
    plan = plan_export(genome, params, module_class)
    return _module_class()(plan)


def state_dict_path(path: str | os.PathLike) -> Path:
    """Where :func:`export_to_pytorch` writes the state_dict for ``path``.

    ``model.pt2`` -> ``model.state_dict.pt``; the program and its state_dict
    always sit side by side.
    """
    path = Path(path)
    return path.with_name(path.stem + ".state_dict.pt")


def _check_writable(paths, overwrite: bool) -> None:
    if overwrite:
        return
    for path in paths:
        if os.path.lexists(path):
            raise FileExistsError(
                f"{path} already exists; pass overwrite=True to replace it."
            )


def _export_program(module, num_inputs: int):
    """torch.export of ``module`` with a free batch dimension."""
    torch = _require_torch()
    example = torch.zeros(2, num_inputs)
    batch = torch.export.Dim("batch")
    return torch.export.export(module, (example,), dynamic_shapes={"x": {0: batch}})


def _metadata(genome: Genome, plan: ExportPlan) -> str:
    return json.dumps(
        {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "num_inputs": plan.num_inputs,
            "num_outputs": plan.num_outputs,
            "conn_slots": plan.conn_slots.tolist(),
            "genome": genome.to_dict(),
        }
    )


def export_to_pytorch(
    genome: Genome,
    params: Any,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    module_class: type = WANN,
) -> PyTorchExport:
    """Writes the network as a ``torch.export`` program plus its state_dict.

    The program file loads with torch alone, no wannflax::

        model = torch.export.load(path).module()   # trainable nn.Module
        model.load_state_dict(torch.load(state_dict_file))

    It maps a float32 batch [batch, num_inputs] (any batch size) to
    [batch, num_outputs]. Its extra file ``wannflax.json`` records the genome
    and the slot of each weight.

    Args:
      genome: one concrete genome.
      params: ``{"conn_weights": f32[max_conns]}``, compile()'s variables, or
        the bare weight array.
      path: the program file (``.pt2`` by convention); the state_dict goes to
        :func:`state_dict_path` of it.
      overwrite: replace existing files; without it an existing file raises
        FileExistsError and nothing is written.
      module_class: see :func:`to_torch`.

    Returns:
      The two paths written.

    Raises:
      ExportError, InvalidGenomeError, NotImplementedError: before anything
      is written (see :func:`plan_export`; also ExportError for a network
      without any kept connection); FileExistsError naming the path.
    """
    torch = _require_torch()
    plan = plan_export(genome, params, module_class)
    if not len(plan.conn_slots):
        # torch 2.13's torch.export.save fails on a 0-element parameter
        # ("numel: integer multiplication overflow").
        raise ExportError(
            "No enabled connection reaches an output, so the network has no "
            "weights to export; torch.export.save cannot store an empty weight "
            "vector. to_torch() and export_to_onnx() handle such a network."
        )
    program_path, weights_path = Path(path), state_dict_path(path)
    _check_writable((program_path, weights_path), overwrite)
    module = _module_class()(plan)
    program = _export_program(module, plan.num_inputs)
    # Serialise both in memory first, so a failing export writes nothing.
    program_bytes = io.BytesIO()
    torch.export.save(
        program, program_bytes, extra_files={METADATA_FILE: _metadata(genome, plan)}
    )
    weights_bytes = io.BytesIO()
    torch.save(module.state_dict(), weights_bytes)
    _atomic_write(program_path, program_bytes.getvalue(), overwrite)
    _atomic_write(weights_path, weights_bytes.getvalue(), overwrite)
    return PyTorchExport(program_path, weights_path)


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def params_from_state_dict(
    genome: Genome, state_dict: Any, params: Any = None
) -> dict[str, Any]:
    """Loads fine-tuned torch weights back into the Flax parameter tree.

    Args:
      genome: the genome that was exported.
      state_dict: the exported module's state_dict (or the module itself):
        ``conn_weights`` [num_conns] and ``conn_slots`` [num_conns].
      params: the parameters exported from (same forms as for
        :func:`to_torch`); slots the export dropped keep their values. Without
        it they are 0, which changes no output (they are disabled, padding or
        feed only dead nodes).

    Returns:
      ``{"conn_weights": f32[max_conns]}`` aligned with the genome's slots,
      ready for ``module.apply({"params": ..., "genome": ...}, x)``.

    Raises:
      ExportError: missing keys, mismatched lengths, a slot that is not an
        enabled connection of ``genome`` (a state_dict of another genome) or
        a non-finite weight.
    """
    import jax.numpy as jnp

    if hasattr(state_dict, "state_dict") and callable(state_dict.state_dict):
        state_dict = state_dict.state_dict()
    missing = [k for k in ("conn_weights", "conn_slots") if k not in state_dict]
    if missing:
        raise ExportError(
            f"The state_dict lacks {missing}; expected the state_dict of an "
            "exported WANN (conn_weights and conn_slots)."
        )
    weights = _to_numpy(state_dict["conn_weights"])
    slots = _to_numpy(state_dict["conn_slots"])
    if weights.ndim != 1 or slots.shape != weights.shape:
        raise ExportError(
            f"conn_weights {tuple(weights.shape)} and conn_slots "
            f"{tuple(slots.shape)} must be matching vectors."
        )
    arrays = jax.device_get(genome.arrays())
    active = arrays["conn_valid"] & arrays["conn_enabled"]
    if len(np.unique(slots)) != len(slots):
        raise ExportError("conn_slots repeats a slot.")
    for slot in slots.tolist():
        if not 0 <= slot < genome.max_conns or not active[slot]:
            raise ExportError(
                f"conn_slots names slot {slot}, which is not an enabled connection "
                f"of this genome (max_conns={genome.max_conns}): was the state_dict "
                "exported from another genome?"
            )
    bad = np.flatnonzero(~np.isfinite(weights))
    if bad.size:
        slot = int(slots[bad[0]])
        raise ExportError(
            f"The fine-tuned weight of slot {slot} "
            f"({int(arrays['conn_source'][slot])}->{int(arrays['conn_target'][slot])})"
            f" is {float(weights[bad[0]])!r}, not finite."
        )
    if params is None:
        result = np.zeros(genome.max_conns, np.float32)
    else:
        result = _conn_weights(params, genome).copy()
    result[slots.astype(np.int64)] = weights.astype(np.float32)
    return {"conn_weights": jnp.asarray(result)}
