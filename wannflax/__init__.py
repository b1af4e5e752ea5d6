"""wannflax: Weight Agnostic Neural Networks in Flax."""

from wannflax import activations, graph, proxies, sharding
from wannflax.activations import register_activation
from wannflax.datasets import load_dataset
from wannflax.export import export_to_onnx, export_to_pytorch
from wannflax.genome import Genome, InvalidGenomeError
from wannflax.module import WANN, compile
from wannflax.network_io import (
    load_network,
    load_wann_network,
    load_wann_out,
    save_network,
    save_wann_out,
)
from wannflax.problems import SupervisedProblem
from wannflax.registry import Registry, UnknownNameError
from wannflax.search import ArchitectureSearch, SearchConfig
from wannflax.training import WeightTrainer, WeightTrainerConfig

__version__ = "0.1.0"


def __getattr__(name: str):
    # The ES trainer needs evosax (the `rl` extra); import it on first use so
    # `import wannflax` works without it.
    if name in ("ESTrainer", "ESTrainerConfig"):
        from wannflax import es_training

        return getattr(es_training, name)
    raise AttributeError(f"module 'wannflax' has no attribute {name!r}")


__all__ = [
    "WANN",
    "ArchitectureSearch",
    "ESTrainer",
    "ESTrainerConfig",
    "Genome",
    "InvalidGenomeError",
    "Registry",
    "SearchConfig",
    "SupervisedProblem",
    "UnknownNameError",
    "WeightTrainer",
    "WeightTrainerConfig",
    "activations",
    "compile",
    "export_to_onnx",
    "export_to_pytorch",
    "graph",
    "load_dataset",
    "load_network",
    "load_wann_network",
    "load_wann_out",
    "proxies",
    "register_activation",
    "save_network",
    "save_wann_out",
    "sharding",
]
