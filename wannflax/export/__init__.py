"""Export of WANNs to PyTorch and ONNX, and fine-tuned weights back to Flax.

* :func:`to_torch`: a trainable ``torch.nn.Module`` equal to the Flax module.
* :func:`export_to_pytorch`: a ``torch.export`` program that loads with torch
  alone, plus its state_dict.
* :func:`export_to_onnx`: an ONNX model (the ``onnx`` extra).
* :func:`params_from_state_dict`: fine-tuned torch weights back into
  ``{"conn_weights": f32[max_conns]}``.

Importing this package does not import torch; the functions do.
"""

from wannflax.export.onnx_export import export_to_onnx
from wannflax.export.torch_export import (
    ExportError,
    ExportPlan,
    PyTorchExport,
    export_to_pytorch,
    params_from_state_dict,
    plan_export,
    state_dict_path,
    to_torch,
)

__all__ = [
    "ExportError",
    "ExportPlan",
    "PyTorchExport",
    "export_to_onnx",
    "export_to_pytorch",
    "params_from_state_dict",
    "plan_export",
    "state_dict_path",
    "to_torch",
]
