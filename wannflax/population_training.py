"""Stage 2 for many genomes at once: WeightTrainer's recipe, vmapped over genomes.

Studies of how well a search signal predicts trainability need hundreds of
genomes trained alike. ``WeightTrainer`` compiles one program per genome (its
module's depth and activations are the genome's own), so here a population is
trained by one program instead: a module whose static depth covers every
genome (extra layered steps are exact for feed-forward genomes) and whose
activation set is the union of theirs. The recipe is ``WeightTrainer``'s: the
shared weight tuned on the training set over a grid (best training accuracy,
then lower loss, then the earlier grid entry), every valid connection started
at it, then epochs of shuffled mini-batches under the configured optax
optimizer, with the same batch order ``WeightTrainer`` draws from the same
seed. Results agree with ``WeightTrainer`` up to float rounding.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from wannflax import activations as activation_table
from wannflax import graph
from wannflax.genome import Genome
from wannflax.module import WANN, make_module
from wannflax.optimizers import make_optimizer
from wannflax.training import WeightTrainerConfig


def population_module(population: Genome, module_class: type = WANN) -> WANN:
    """A module exact for every genome of a concrete population.

    Its static depth is the deepest genome's and its activations are the
    union of the activations the valid nodes use.
    """
    depth = int(np.max(np.asarray(jax.jit(jax.vmap(graph.num_layers))(population))))
    used = np.unique(
        np.asarray(population.node_activation)[np.asarray(population.node_valid)]
    )
    used_names = {activation_table.activation_name(int(i)) for i in used}
    names = tuple(n for n in activation_table.activation_names() if n in used_names)
    return make_module(population, names, depth, module_class)


def tune_shared_weights(
    module: WANN, population: Genome, problem: Any, grid, chunk_size: int = 16
) -> jax.Array:
    """Each genome's best shared weight on the training set, as WeightTrainer picks it.

    Args:
      module: a module exact for the population (``population_module``).
      population: genomes with a leading population axis.
      problem: a supervised problem (``x_train``, ``y_train``, ``metric``,
        ``loss``, ``metric_name``).
      grid: candidate shared weights.
      chunk_size: genomes swept at a time, to bound memory.

    Returns:
      f32 [P], one grid weight per genome.
    """
    grid = jnp.asarray(grid, jnp.float32)
    higher_is_better = problem.metric_name != "mse"

    def best_weight(genome_arrays):
        outputs = module.apply(
            {"genome": genome_arrays}, problem.x_train, grid, method=module.sweep
        )
        metric = jax.vmap(problem.metric, in_axes=(0, None))(outputs, problem.y_train)
        loss = jax.vmap(lambda out: problem.loss(out, problem.y_train).mean())(outputs)
        score = metric if higher_is_better else -metric
        score = jnp.where(jnp.isfinite(score), score, -jnp.inf)
        loss = jnp.where(jnp.isfinite(loss), loss, jnp.inf)
        order = jnp.lexsort((jnp.arange(grid.shape[0]), loss, -score))
        return grid[order[0]]

    sweep_all = jax.jit(
        lambda arrays: jax.lax.map(best_weight, arrays, batch_size=chunk_size)
    )
    return sweep_all(population.arrays())


def train_population(
    population: Genome,
    problem: Any,
    config: WeightTrainerConfig,
    epochs: int,
    module_class: type = WANN,
) -> tuple[WANN, jax.Array, jax.Array]:
    """Trains every genome's connection weights with one vmapped program.

    Args:
      population: concrete genomes with a leading population axis.
      problem: a supervised problem.
      config: the Stage 2 settings (optimizer, learning rate, weight decay,
        batch size, shared weight or tuning grid, seed), as for WeightTrainer.
      epochs: passes over the training set.
      module_class: WANN or a subclass.

    Returns:
      ``(module, conn_weights f32[P, max_conns], shared_weights f32[P])``:
      the module to apply the trained weights with, the weights, and the
      shared weight each genome started from.
    """
    config.validate()
    if epochs < 0:
        raise ValueError(f"epochs must be non-negative, got {epochs}.")
    population = jax.device_get(population)
    module = population_module(population, module_class)
    size = int(np.shape(population.conn_valid)[0])
    if config.shared_weight is None:
        shared = tune_shared_weights(module, population, problem, config.tuning_grid)
    else:
        shared = jnp.full((size,), config.shared_weight, jnp.float32)
    params = {"conn_weights": jnp.where(population.conn_valid, shared[:, None], 0.0)}
    optimizer = make_optimizer(
        config.optimizer,
        config.learning_rate,
        config.weight_decay,
        **dict(config.optimizer_kwargs),
    )
    opt_state = jax.vmap(optimizer.init)(params)
    genome_arrays = population.arrays()
    num_train = int(problem.x_train.shape[0])
    batch_size = min(config.batch_size, num_train)
    steps_per_epoch = num_train // batch_size

    def loss(genome_params, genome, x, y):
        outputs = module.apply({"params": genome_params, "genome": genome}, x)
        return problem.loss(outputs, y).mean()

    def update_one(genome_params, genome_opt_state, genome, x, y):
        grads = jax.grad(loss)(genome_params, genome, x, y)
        updates, genome_opt_state = optimizer.update(
            grads, genome_opt_state, genome_params
        )
        return optax.apply_updates(genome_params, updates), genome_opt_state

    update_all = jax.vmap(update_one, in_axes=(0, 0, 0, None, None))

    # The genomes are an argument, not a closed-over constant: XLA would
    # otherwise spend long constant-folding their masks.
    @jax.jit
    def epoch(params, opt_state, key, genome_arrays):
        # The same key schedule as WeightTrainer: split, then permute.
        key, order_key = jax.random.split(key)
        order = jax.random.permutation(order_key, num_train)
        batches = order[: steps_per_epoch * batch_size].reshape(
            steps_per_epoch, batch_size
        )

        def step(carry, batch):
            params, opt_state = carry
            x, y = problem.x_train[batch], problem.y_train[batch]
            return update_all(params, opt_state, genome_arrays, x, y), None

        (params, opt_state), _ = jax.lax.scan(step, (params, opt_state), batches)
        return params, opt_state, key

    key = jax.random.PRNGKey(config.seed)
    for _ in range(epochs):
        params, opt_state, key = epoch(params, opt_state, key, genome_arrays)
    return module, params["conn_weights"], shared


def population_metric(
    module: WANN, population: Genome, conn_weights: jax.Array, problem: Any, x, y
) -> jax.Array:
    """The problem's metric (e.g. accuracy) of every genome on ``(x, y)``.

    Args:
      module: the module the weights were trained with.
      population: genomes with a leading population axis.
      conn_weights: f32 [P, max_conns].
      problem: the supervised problem (its ``metric``).
      x: inputs [N, num_inputs].
      y: targets for ``x``.

    Returns:
      f32 [P].
    """

    def one(genome_arrays, weights):
        outputs = module.apply(
            {"params": {"conn_weights": weights}, "genome": genome_arrays}, x
        )
        return problem.metric(outputs, y)

    return jax.jit(jax.vmap(one))(population.arrays(), conn_weights)
