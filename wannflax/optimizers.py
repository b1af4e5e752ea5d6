"""optax optimizers by name, with weight decay handled uniformly."""

from __future__ import annotations

import inspect
from typing import Any

import optax

from wannflax.registry import Registry

OPTIMIZERS: Registry = Registry("optimizer")

for _name in (
    "sgd",
    "adam",
    "adamw",
    "adamax",
    "adabelief",
    "adagrad",
    "adadelta",
    "adafactor",
    "lamb",
    "lion",
    "nadam",
    "noisy_sgd",
    "novograd",
    "radam",
    "rmsprop",
    "sm3",
    "yogi",
):
    if hasattr(optax, _name):
        OPTIMIZERS.add(_name, getattr(optax, _name))


def make_optimizer(
    name: str, learning_rate: float, weight_decay: float = 0.0, **kwargs: Any
) -> optax.GradientTransformation:
    """Builds a registered optimizer.

    Args:
      name: a registered name (unknown names raise, listing the choices).
      learning_rate: step size.
      weight_decay: decoupled decay; passed to optimizers that take it
        (adamw, lamb, lion, ...) and chained in front of the others.
      **kwargs: further arguments of the optax constructor.

    Returns:
      The optax transformation.
    """
    factory = OPTIMIZERS.get(name)
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}.")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be non-negative, got {weight_decay}.")
    takes_decay = "weight_decay" in inspect.signature(factory).parameters
    if takes_decay:
        return factory(learning_rate, weight_decay=weight_decay, **kwargs)
    optimizer = factory(learning_rate, **kwargs)
    if weight_decay > 0:
        optimizer = optax.chain(optax.add_decayed_weights(weight_decay), optimizer)
    return optimizer
