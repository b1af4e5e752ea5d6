"""Stage 1: the WANN architecture search (Gaier & Ha 2019).

Paper: https://arxiv.org/abs/1906.04358. A population of padded genomes is
evaluated under a set of shared weights, ranked by NSGA-II on (mean fitness,
1 / connections) or, one generation in five, (mean, max) fitness, culled,
and refilled by tournament selection and one structural mutation per child.
One generation is one jitted step over fixed-shape arrays.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from flax import struct
from jax.sharding import Mesh

from wannflax import evaluation, mutation, ranking, sharding, trainability
from wannflax.genome import Genome
from wannflax.module import WANN, make_module
from wannflax.search_config import (  # re-exported: the search's public settings
    PAPER_WEIGHTS,
    SearchConfig,
    initial_population,
)

__all__ = [
    "PAPER_WEIGHTS",
    "ArchitectureSearch",
    "GenerationError",
    "SearchConfig",
    "SearchState",
    "initial_population",
    "width_buckets",
]


@struct.dataclass
class SearchState:
    """Everything a generation step reads and writes.

    ``key`` holds raw uint32 key data so the state can be checkpointed.
    ``champion_fitness`` is (mean, max) over shared weights of the best genome
    ever seen, ranked by mean fitness with fewer connections breaking ties.
    """

    population: Genome
    key: jnp.ndarray
    generation: jnp.ndarray
    champion: Genome
    champion_fitness: jnp.ndarray
    skipped_mutations: jnp.ndarray
    nonfinite_evaluations: jnp.ndarray


class GenerationError(RuntimeError):
    """Evaluating a generation raised; the message names where."""


def width_buckets(capacity: int, num_outputs: int) -> tuple:
    """Evaluation widths: outputs plus a quarter, half and all hidden slots."""
    hidden = capacity - num_outputs
    widths = {num_outputs + -(-hidden * share // 4) for share in (1, 2, 4)}
    return tuple(sorted(widths))


def _select_champion(fitness_mean, connections):
    # Best mean fitness; among equals, the fewest connections; then lowest index.
    order = jnp.lexsort((jnp.arange(fitness_mean.shape[0]), connections, -fitness_mean))
    return order[0]


class ArchitectureSearch:
    """Evolves weight agnostic topologies for a problem.

    Example:
      search = ArchitectureSearch(problem, SearchConfig(pop_size=64))
      champion = search.run(generations=50)
    """

    def __init__(
        self,
        problem: Any,
        config: SearchConfig | None = None,
        module_class: type = WANN,
        mesh: Mesh | None = None,
    ):
        self.problem = problem
        self.config = config or SearchConfig()
        self.config.validate(problem.num_inputs, problem.num_outputs)
        self.mesh = mesh
        if mesh is not None:
            sharding.check_divisible(
                self.config.pop_size, sharding.population_shards(mesh)
            )
        self.module_class = module_class
        self.history: list[dict[str, float]] = []
        self.trace_count = 0
        template = Genome.empty(
            problem.num_inputs,
            problem.num_outputs,
            self.config.max_nodes,
            self.config.max_connections,
        )
        names = tuple(
            dict.fromkeys(
                [
                    "linear",
                    self.config.output_activation,
                    *self.config.activation_options,
                ]
            )
        )
        self.module = make_module(template, names, None, module_class)
        self._weights = jnp.asarray(self.config.weight_values, jnp.float32)
        self._widths = width_buckets(
            self.config.max_nodes - problem.num_inputs - 1, problem.num_outputs
        )
        self._pool = mutation.pool_ids_for(self.config.activation_options)
        self._probs = jnp.asarray(self.config.mutation_probabilities())
        self._proxy_ranking = trainability.ProxyRanking(
            self.config, problem, self.module
        )
        state = self.init(jax.random.PRNGKey(self.config.seed))
        if mesh is None:
            self._step = jax.jit(self._generation)
        else:
            # The population axis is split over the mesh; everything else,
            # the metrics included, is replicated.
            self._state_sharding = self._shardings(state)
            self._step = jax.jit(
                self._generation,
                in_shardings=(self._state_sharding,),
                out_shardings=(self._state_sharding, sharding.replicated(mesh)),
            )
            state = jax.device_put(state, self._state_sharding)
        self.state = state

    # -- the pure core -------------------------------------------------------

    def init(self, key) -> SearchState:
        """A fresh search state."""
        init_key, key = jax.random.split(key)
        population = initial_population(
            init_key, self.config, self.problem.num_inputs, self.problem.num_outputs
        )
        return SearchState(
            population=population,
            key=key,
            generation=jnp.array(0, jnp.int32),
            champion=population.index(0),
            champion_fitness=jnp.full((2,), -jnp.inf, jnp.float32),
            skipped_mutations=jnp.array(0, jnp.int32),
            nonfinite_evaluations=jnp.array(0, jnp.int32),
        )

    def _shardings(self, state: SearchState) -> SearchState:
        """Population leaves split on the population axis; the rest replicated."""
        split = sharding.population_sharding(self.mesh)
        whole = sharding.replicated(self.mesh)
        return SearchState(
            population=jax.tree.map(lambda _: split, state.population),
            **{
                field: jax.tree.map(lambda _: whole, getattr(state, field))
                for field in (
                    "key",
                    "generation",
                    "champion",
                    "champion_fitness",
                    "skipped_mutations",
                    "nonfinite_evaluations",
                )
            },
        )

    def evaluate(self, population: Genome, key) -> jnp.ndarray:
        """Fitness [P, K] of each genome under each shared weight.

        Every genome sees the same batch (or, for a problem that scores
        policies itself through ``population_fitness``, the same episode
        seeds). Non-finite fitness becomes -inf so it can never win.

        Under a mesh each device evaluates its slice of the population with
        this same code (``shard_map``), drawing the same batch from the same
        key, so a genome is scored by the same program as on one device.
        """
        if self.mesh is None:
            return self._evaluate_slice(population, key)
        split = jax.sharding.PartitionSpec(sharding.POPULATION_AXIS)
        return jax.shard_map(
            self._evaluate_slice,
            mesh=self.mesh,
            in_specs=(split, jax.sharding.PartitionSpec()),
            out_specs=split,
            check_vma=False,
        )(population, key)

    def _evaluate_slice(self, population: Genome, key) -> jnp.ndarray:
        if hasattr(self.problem, "population_fitness"):
            fitness = self.problem.population_fitness(
                self.policy, population, self._weights, key
            )
            return jnp.where(jnp.isfinite(fitness), fitness, -jnp.inf)
        x, y = self.problem.sample_batch(key)
        per_weight = jax.vmap(
            jax.vmap(self.problem.fitness, in_axes=(0, None)), in_axes=(0, None)
        )
        # Hidden slots fill from the front, so early generations use a
        # fraction of the capacity; strategies that do not skip empty slots
        # themselves evaluate only the occupied prefix (one compiled branch
        # per width bucket, chosen once per generation), which is exact. The
        # fitness is taken inside each chunk, so the outputs of the whole
        # population are never held at once.
        fitness = evaluation.population_outputs(
            self.module,
            population,
            x,
            self._weights,
            strategy=self.config.evaluation,
            width=self._widths,
            chunk_size=self.config.population_chunk,
            reduce=lambda outputs: per_weight(outputs, y),
        )
        return jnp.where(jnp.isfinite(fitness), fitness, -jnp.inf)

    def policy(self, genome: Genome, shared_weight, observations) -> jnp.ndarray:
        """Outputs [..., num_outputs] of one genome under one shared weight."""
        conn_weights = jnp.full((genome.max_conns,), shared_weight, jnp.float32)
        variables = {
            "params": {"conn_weights": conn_weights},
            "genome": genome.arrays(),
        }
        return self.module.apply(variables, observations)

    def _generation(self, state: SearchState):
        self.trace_count += 1  # Runs once per trace, not per call.
        config = self.config
        key, eval_key, objective_key, tournament_key, mutate_key = jax.random.split(
            state.key, 5
        )
        population = state.population

        fitness = self.evaluate(population, eval_key)
        if self.mesh is not None:
            # Each device scored its slice; ranking, selection and the metrics
            # read the whole [P, K] array, reduced in the same order as on
            # one device, so a sharded run equals an unsharded one exactly.
            fitness = jax.lax.with_sharding_constraint(
                fitness, sharding.replicated(self.mesh)
            )
        nonfinite = jnp.sum(jnp.isneginf(fitness))
        fitness_mean, fitness_max = fitness.mean(axis=1), fitness.max(axis=1)
        connections = population.num_connections()

        best = _select_champion(fitness_mean, connections)
        improved = fitness_mean[best] > state.champion_fitness[0]
        champion = jax.tree.map(
            lambda new, old: jnp.where(improved, new, old),
            population.index(best),
            state.champion,
        )
        champion_fitness = jnp.where(
            improved,
            jnp.stack([fitness_mean[best], fitness_max[best]]),
            state.champion_fitness,
        )

        use_max = jax.random.uniform(objective_key) >= config.prob_mean_connections
        objectives = ranking.wann_objectives(
            fitness_mean, fitness_max, connections, use_max
        )
        objectives, proxy_metrics = self._proxy_ranking(
            population, fitness_mean, objectives, eval_key, champion
        )
        rank = ranking.RANKINGS.get(config.ranking)(objectives)
        order = jnp.argsort(rank)

        num_elites, num_parents = (
            config.num_elites(),
            config.pop_size - config.num_culled(),
        )
        num_children = config.pop_size - num_elites
        contestants = jax.random.randint(
            tournament_key, (num_children, config.tournament_size), 0, num_parents
        )
        parents = order[contestants.min(axis=1)]
        children = jax.tree.map(lambda leaf: leaf[parents], population)
        skipped = jnp.array(0, jnp.int32)
        for round_key in jax.random.split(mutate_key, config.mutations_per_child):
            result = jax.vmap(mutation.mutate, in_axes=(0, 0, None, None))(
                children,
                jax.random.split(round_key, num_children),
                self._probs,
                self._pool,
            )
            children = result.genome
            skipped = skipped + jnp.sum(~result.applied)
        elites = jax.tree.map(lambda leaf: leaf[order[:num_elites]], population)
        next_population = jax.tree.map(
            lambda e, c: jnp.concatenate([e, c]), elites, children
        )

        metrics = {
            "generation": state.generation,
            "best_mean": fitness_mean[best],
            "best_max": jnp.max(fitness_max),
            # Averaged on the host (see ``step``): a float sum inside the
            # program may be split across devices in another order.
            "fitness_mean": fitness_mean,
            "mean_connections": jnp.mean(connections.astype(jnp.float32)),
            "champion_mean": champion_fitness[0],
            "champion_max": champion_fitness[1],
            "champion_connections": champion.num_connections(),
            "champion_hidden": champion.num_hidden(),
            "skipped_mutations": skipped,
            "nonfinite": nonfinite,
            "objectives": jnp.where(use_max, 1, 0),
            **proxy_metrics,
        }
        next_state = SearchState(
            population=next_population,
            key=key,
            generation=state.generation + 1,
            champion=champion,
            champion_fitness=champion_fitness,
            skipped_mutations=state.skipped_mutations + skipped,
            nonfinite_evaluations=state.nonfinite_evaluations + nonfinite,
        )
        return next_state, metrics

    # -- the driver ----------------------------------------------------------

    def step(self) -> dict[str, float]:
        """Runs one generation; returns its metrics as Python numbers."""
        self.state, metrics = self._step(self.state)
        metrics = jax.device_get(metrics)
        fitness_mean = np.asarray(metrics.pop("fitness_mean"), np.float64)
        finite = np.isfinite(fitness_mean)
        metrics["population_mean"] = (
            float(fitness_mean[finite].mean()) if finite.any() else 0.0
        )
        return {
            name: value if isinstance(value, float) else value.item()
            for name, value in metrics.items()
        }

    def run(
        self,
        generations: int,
        callback: Callable[[dict[str, float]], None] | None = None,
        log_every: int = 1,
        checkpointer: Any = None,
        checkpoint_every: int = 0,
    ) -> Genome:
        """Runs ``generations`` generations and returns the champion genome.

        Args:
          generations: how many generations to run from the current state.
          callback: called with each generation's metrics (a dict of floats).
          log_every: absl-log every n-th generation (0: never).
          checkpointer: a ``wannflax.checkpoint.Checkpointer``; the state and
            history are saved every ``checkpoint_every`` generations and after
            the last one.
          checkpoint_every: generations between checkpoints (0: only at the end).

        Returns:
          The best genome ever seen (by mean fitness over shared weights).

        Raises:
          GenerationError: if evaluating a generation raises; it names the
            generation (and the individual, when one genome is to blame).
            The last checkpoint is complete at that point.
        """
        if generations < 0:
            raise ValueError(f"generations must be non-negative, got {generations}.")
        last = time.perf_counter()
        for index in range(generations):
            generation = int(self.state.generation)
            try:
                metrics = self.step()
            except Exception as error:
                raise GenerationError(
                    f"Generation {generation} failed: {self._blame(error)}"
                ) from error
            self.history.append(metrics)
            if callback is not None:
                callback(metrics)
            done = generation + 1
            if checkpointer is not None and (
                (checkpoint_every and done % checkpoint_every == 0)
                or index == generations - 1
            ):
                checkpointer.save(done, self.state, self.history)
            now = time.perf_counter()
            seconds, last = now - last, now
            if metrics["nonfinite"]:
                logging.warning(
                    "generation %d: %d non-finite evaluations scored as the worst.",
                    generation,
                    metrics["nonfinite"],
                )
            if log_every and (generation % log_every == 0 or index == generations - 1):
                logging.info(
                    "generation %d: best mean %.4f max %.4f | champion mean %.4f, "
                    "%d connections, %d hidden | %.2f generations/s",
                    generation,
                    metrics["best_mean"],
                    metrics["best_max"],
                    metrics["champion_mean"],
                    metrics["champion_connections"],
                    metrics["champion_hidden"],
                    1.0 / max(seconds, 1e-9),
                )
        return self.champion

    def restore(self, checkpointer: Any) -> int:
        """Loads the latest checkpoint into this search; returns its generation.

        The state must match this search's capacity and population size
        exactly (see ``Checkpointer.restore``).
        """
        self.state, self.history = checkpointer.restore(self.state)
        self.state = jax.device_put(
            self.state, None if self.mesh is None else self._state_sharding
        )
        return int(self.state.generation)

    def _blame(self, error: Exception) -> str:
        """Describes a failed evaluation, naming the genome if one is at fault."""
        population = self.state.population
        evaluate_one = jax.jit(lambda genome, key: self.evaluate(genome, key))
        key = jax.random.PRNGKey(0)

        def fails(index):
            single = jax.tree.map(lambda leaf: leaf[index : index + 1], population)
            try:
                jax.block_until_ready(evaluate_one(single, key))
            except Exception:
                return True
            return False

        failing = [i for i in range(self.config.pop_size) if fails(i)]
        if failing and len(failing) < self.config.pop_size:
            return f"individual {failing[0]} raised {type(error).__name__}: {error}"
        return f"every individual raised {type(error).__name__}: {error}"

    @property
    def champion(self) -> Genome:
        """The best genome seen so far.

        Raises:
          RuntimeError: if no genome has had a finite fitness yet; a genome
            whose fitness was NaN or infinite is never a champion.
        """
        if not np.isfinite(float(self.state.champion_fitness[0])):
            raise RuntimeError(
                f"No champion: after {int(self.state.generation)} generations no genome "
                f"has had a finite fitness ({int(self.state.nonfinite_evaluations)} "
                "non-finite evaluations). Check the problem's fitness for NaN or inf."
            )
        return jax.device_get(self.state.champion)
