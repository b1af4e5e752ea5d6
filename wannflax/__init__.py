"""wannflax: Weight Agnostic Neural Networks in Flax."""

from wannflax import activations, graph
from wannflax.activations import register_activation
from wannflax.genome import Genome, InvalidGenomeError
from wannflax.module import WANN, compile
from wannflax.registry import Registry, UnknownNameError

__version__ = "0.1.0"
