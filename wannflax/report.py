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


def return_table(
    genome: Genome,
    problem: Any,
    weight_values: Sequence[float],
    tuned_weight: float,
    trained_params: Any | None = None,
    episodes: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """The paper's Table 1 for a control champion: mean and std of returns.

    Every row runs the same ``episodes`` test episodes (seeds from ``seed``).

    Args:
      genome: the champion.
      problem: an RL problem (``episode_returns``).
      weight_values: the search's shared weights.
      tuned_weight: the tuned single shared weight.
      trained_params: individually trained ``params``, if Stage 2 ran.
      episodes: test episodes per row.
      seed: seed of the test episodes.

    Returns:
      ``{"metric": "return", "episodes": n, "shared_weight": {"-2.0": {"mean",
      "std"}, ...}, "random_shared": {...}, "tuned_shared": {"weight", "mean",
      "std"}, "trained": {...}}``; "random_shared" draws one shared weight per
      episode uniformly from [-2, 2], as the paper's column does.
    """
    module, variables = compile(genome, 1.0)
    valid = jnp.asarray(genome.conn_valid)
    episode_keys = jax.random.split(jax.random.PRNGKey(seed), episodes)

    def returns(conn_weights, keys):
        def act(observation):
            params = {
                "params": {"conn_weights": conn_weights},
                "genome": variables["genome"],
            }
            return module.apply(params, observation[None, :])[0]

        return problem.episode_returns(act, keys)

    def shared(weight):
        return returns(jnp.where(valid, weight, 0.0), episode_keys)

    def summary(values):
        values = np.asarray(values, np.float64)
        return {"mean": float(values.mean()), "std": float(values.std())}

    weights = jnp.asarray(list(weight_values) + [tuned_weight], jnp.float32)
    per_weight = jax.jit(jax.vmap(shared))(weights)
    random_weights = jax.random.uniform(
        jax.random.PRNGKey(seed + 1), (episodes,), minval=-2.0, maxval=2.0
    )
    random_shared = jax.jit(
        jax.vmap(lambda w, k: returns(jnp.where(valid, w, 0.0), k[None])[0])
    )(random_weights, episode_keys)
    table: dict[str, Any] = {
        "metric": "return",
        "episodes": episodes,
        "shared_weight": {
            str(float(w)): summary(r)
            for w, r in zip(weight_values, per_weight[:-1], strict=True)
        },
        "random_shared": summary(random_shared),
        "tuned_shared": {"weight": float(tuned_weight), **summary(per_weight[-1])},
    }
    if trained_params is not None:
        trained = jax.jit(returns)(
            jnp.asarray(trained_params["conn_weights"]), episode_keys
        )
        table["trained"] = summary(trained)
    return table
