"""The paper-style result table of a run: each shared weight, ensemble, tuned, trained."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from wannflax.genome import Genome
from wannflax.module import compile


def ensemble_predictions(outputs: jnp.ndarray) -> jnp.ndarray:
    """Majority vote of class predictions over shared weights.

    Args:
      outputs: [K, B, C] outputs under K shared weights.

    Returns:
      int32 [B] classes; ties go to the tied class with the larger summed
      softmax probability.
    """
    num_classes = outputs.shape[-1]
    votes = jax.nn.one_hot(jnp.argmax(outputs, axis=-1), num_classes).sum(axis=0)
    confidence = jax.nn.softmax(outputs, axis=-1).sum(axis=0)
    # Confidence is < K, so it only ever separates equal vote counts.
    return jnp.argmax(votes * (outputs.shape[0] + 1) + confidence, axis=-1)


def accuracy_table(
    genome: Genome,
    problem: Any,
    x: jnp.ndarray,
    y: jnp.ndarray,
    weight_values: Sequence[float],
    tuned_weight: float,
    trained_params: Any | None = None,
) -> dict[str, Any]:
    """Evaluates a champion in the shape of the paper's MNIST table.

    Args:
      genome: the champion.
      problem: the supervised problem (gives the metric and predictions).
      x, y: the evaluation set (the test split).
      weight_values: the shared weights of the search.
      tuned_weight: the tuned single shared weight.
      trained_params: the trained ``params`` tree, if Stage 2 ran.

    Returns:
      ``{"metric": name, "shared_weight": {"-2.0": m, ...}, "ensemble": m,
      "tuned_shared": {"weight": w, <metric>: m}, "trained": m}``; the
      ensemble is present only for classification.
    """
    module, variables = compile(genome, 1.0)
    weights = jnp.asarray(list(weight_values) + [tuned_weight], jnp.float32)
    outputs = module.apply(
        {"genome": variables["genome"]}, x, weights, method=module.sweep
    )
    metric = jax.vmap(problem.metric, in_axes=(0, None))(outputs, y)
    metric = np.asarray(metric, np.float64)
    name = problem.metric_name
    table: dict[str, Any] = {
        "metric": name,
        "shared_weight": {
            str(float(w)): float(m)
            for w, m in zip(weight_values, metric[:-1], strict=True)
        },
    }
    if name == "accuracy" and problem.loss_name == "cross_entropy":
        votes = ensemble_predictions(outputs[:-1])
        table["ensemble"] = float(jnp.mean(votes == y))
    table["tuned_shared"] = {"weight": float(tuned_weight), name: float(metric[-1])}
    if trained_params is not None:
        trained = module.apply(
            {"params": trained_params, "genome": variables["genome"]}, x
        )
        table["trained"] = float(problem.metric(trained, y))
    return table
