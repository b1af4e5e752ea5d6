"""Export of one genome and its weights to ONNX, through torch's exporter.

The network is first built as the torch module of :mod:`torch_export` (same
pruning, same numbers), then handed to ``torch.onnx.export`` (the
``torch.export``-based exporter, which needs ``onnxscript``). The model takes
``x`` float32 [batch, num_inputs] with a free batch size and returns ``y``
float32 [batch, num_outputs].

Needs the ``onnx`` extra (onnx, onnxscript; onnxruntime to run the result).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from wannflax.export import torch_export
from wannflax.genome import Genome
from wannflax.module import WANN
from wannflax.network_io import _atomic_write

__all__ = ["export_to_onnx"]


def _require_onnx():
    try:
        import onnx
        import onnxscript  # noqa: F401 - torch's exporter needs it.
    except ImportError as error:
        raise ImportError(
            "export_to_onnx needs the onnx extra: pip install 'wannflax[onnx]' "
            f"(onnx, onnxscript, onnxruntime); {error}."
        ) from error
    return onnx


def _onnx_bytes(module, num_inputs: int, opset_version: int | None = None) -> bytes:
    """The serialised, checked ONNX model of a torch module [B, in] -> [B, out]."""
    torch = torch_export._require_torch()
    onnx = _require_onnx()
    module.eval()  # no train-only layers, but the exporter warns otherwise
    program = torch.onnx.export(
        module,
        (torch.zeros(2, num_inputs),),
        dynamo=True,
        input_names=["x"],
        output_names=["y"],
        dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
        opset_version=opset_version,
        external_data=False,
        verbose=False,
    )
    model = program.model_proto
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export_to_onnx(
    genome: Genome,
    params: Any,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    module_class: type = WANN,
    opset_version: int | None = None,
) -> Path:
    """Writes the network as an ONNX model.

    Args:
      genome: one concrete genome.
      params: ``{"conn_weights": f32[max_conns]}``, compile()'s variables, or
        the bare weight array.
      path: the ``.onnx`` file to write.
      overwrite: replace an existing file; without it an existing file raises
        FileExistsError and nothing is written.
      module_class: WANN or a subclass (see ``torch_export.plan_export``).
      opset_version: ONNX opset (default: the exporter's).

    Returns:
      The path written. The model's input is ``x`` [batch, num_inputs], its
      output ``y`` [batch, num_outputs], both float32.

    Raises:
      ImportError: without the onnx extra (or torch).
      ExportError, InvalidGenomeError, NotImplementedError: before anything
      is written (see ``plan_export``); FileExistsError naming the path.
    """
    torch_export._require_torch()
    _require_onnx()
    plan = torch_export.plan_export(genome, params, module_class)
    path = Path(path)
    torch_export._check_writable((path,), overwrite)
    module = torch_export._module_class()(plan)
    _atomic_write(path, _onnx_bytes(module, plan.num_inputs, opset_version), overwrite)
    return path
