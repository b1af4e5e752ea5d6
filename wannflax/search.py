"""Stage 1: the WANN architecture search (Gaier & Ha 2019).

Paper: https://arxiv.org/abs/1906.04358. A population of padded genomes is
evaluated under a set of shared weights, ranked by NSGA-II on (mean fitness,
1 / connections) or, one generation in five, (mean, max) fitness, culled,
and refilled by tournament selection and one structural mutation per child.
One generation is one jitted step over fixed-shape arrays.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from flax import struct

from wannflax import activations as activation_table
from wannflax import graph, mutation, ranking
from wannflax.genome import Genome
from wannflax.module import WANN, make_module
from wannflax.registry import UnknownNameError

PAPER_WEIGHTS = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)


@dataclasses.dataclass
class SearchConfig:
    """Settings of the architecture search (defaults follow the WANN release).

    Attributes:
      pop_size: genomes per generation.
      max_nodes: node capacity (bias + inputs + outputs + hidden).
      max_connections: connection capacity.
      activation_options: the pool hidden nodes draw activations from.
      weight_values: the shared weights every genome is judged under.
      prob_init_enable: chance that each bias/input -> output connection is
        present in the initial, hidden-node-free population.
      prob_add_connection, prob_add_node, prob_enable, prob_change_activation:
        roulette weights of the structural change each child gets.
      mutations_per_child: structural changes per child (the paper: 1).
      cull_ratio: fraction of worst-ranked genomes that cannot be parents.
      elite_ratio: fraction of best-ranked genomes copied unchanged.
      tournament_size: contestants per tournament.
      prob_mean_connections: chance per generation of ranking on (mean,
        1/connections) rather than (mean, max).
      ranking: name in the ranking registry.
      output_activation: activation of the output nodes (never mutated).
      seed: PRNG seed.
    """

    pop_size: int = 128
    max_nodes: int = 64
    max_connections: int = 256
    activation_options: Sequence[str] = activation_table.CLASSIFICATION_POOL
    weight_values: Sequence[float] = PAPER_WEIGHTS
    prob_init_enable: float = 0.5
    prob_add_connection: float = 0.20
    prob_add_node: float = 0.25
    prob_enable: float = 0.05
    prob_change_activation: float = 0.50
    mutations_per_child: int = 1
    cull_ratio: float = 0.2
    elite_ratio: float = 0.2
    tournament_size: int = 8
    prob_mean_connections: float = 0.8
    ranking: str = "nsga2"
    output_activation: str = "linear"
    seed: int = 0

    def validate(self, num_inputs: int, num_outputs: int) -> None:
        """Raises ValueError / UnknownNameError naming the first bad field."""
        if not self.activation_options:
            raise ValueError("SearchConfig.activation_options is empty.")
        lookups = [
            ("activation_options", activation_table.ACTIVATIONS, n)
            for n in self.activation_options
        ]
        lookups += [
            ("output_activation", activation_table.ACTIVATIONS, self.output_activation),
            ("ranking", ranking.RANKINGS, self.ranking),
        ]
        for field, registry, name in lookups:
            try:
                registry.get(name)
            except UnknownNameError as error:
                raise UnknownNameError(f"SearchConfig.{field}: {error}") from None
        if self.pop_size < 2:
            raise ValueError(
                f"SearchConfig.pop_size must be at least 2, got {self.pop_size}."
            )
        weights = np.asarray(self.weight_values, dtype=np.float64)
        if weights.ndim != 1 or weights.size == 0 or not np.all(np.isfinite(weights)):
            raise ValueError(
                f"SearchConfig.weight_values must be a non-empty list of finite numbers, "
                f"got {list(self.weight_values)!r}."
            )
        probs = self.mutation_probabilities()
        if not np.all(np.isfinite(probs)) or np.any(probs < 0) or probs.sum() <= 0:
            raise ValueError(
                "SearchConfig mutation probabilities must be finite and non-negative with a positive "
                f"sum, got {probs.tolist()}."
            )
        for field in (
            "cull_ratio",
            "elite_ratio",
            "prob_init_enable",
            "prob_mean_connections",
        ):
            value = getattr(self, field)
            if not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"SearchConfig.{field} must lie in [0, 1], got {value}."
                )
        if self.num_elites() + self.num_culled() >= self.pop_size:
            raise ValueError(
                "SearchConfig.elite_ratio + cull_ratio leave no room for children or "
                f"parents (pop_size={self.pop_size})."
            )
        if self.tournament_size < 1 or self.mutations_per_child < 1:
            raise ValueError(
                "SearchConfig.tournament_size and mutations_per_child must be >= 1."
            )
        num_fixed = 1 + num_inputs + num_outputs
        if self.max_nodes < num_fixed:
            raise ValueError(
                f"SearchConfig.max_nodes={self.max_nodes} is too small: the bias, "
                f"{num_inputs} inputs and {num_outputs} outputs need {num_fixed} nodes; "
                f"use at least {num_fixed} plus room for hidden nodes."
            )
        expected = self.prob_init_enable * (num_inputs + 1) * num_outputs
        if self.max_connections < max(expected * 1.5, 4):
            raise ValueError(
                f"SearchConfig.max_connections={self.max_connections} is too small: the "
                f"initial population alone holds about {expected:.0f} connections "
                f"(prob_init_enable={self.prob_init_enable} of {(num_inputs + 1) * num_outputs}"
                " bias/input->output pairs); raise it or lower prob_init_enable."
            )

    def mutation_probabilities(self) -> np.ndarray:
        """Roulette weights in operator order (see mutation.OPERATOR_NAMES)."""
        return np.array(
            [
                self.prob_add_connection,
                self.prob_add_node,
                self.prob_enable,
                self.prob_change_activation,
            ],
            np.float32,
        )

    def num_elites(self) -> int:
        return int(math.floor(self.pop_size * self.elite_ratio))

    def num_culled(self) -> int:
        return int(math.floor(self.pop_size * self.cull_ratio))


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


def initial_population(
    key, config: SearchConfig, num_inputs: int, num_outputs: int
) -> Genome:
    """The sparse minimal start: no hidden nodes, random bias/input->output links."""
    template = Genome.empty(
        num_inputs, num_outputs, config.max_nodes, config.max_connections
    )
    output_id = activation_table.activation_id(config.output_activation)
    first_output = num_inputs + 1
    node_activation = template.node_activation.at[
        first_output : first_output + num_outputs
    ].set(output_id)
    sources, targets = np.meshgrid(
        np.arange(num_inputs + 1),
        np.arange(first_output, first_output + num_outputs),
        indexing="ij",
    )
    sources, targets = sources.reshape(-1), targets.reshape(-1)
    num_pairs, capacity = sources.size, config.max_connections
    if num_pairs < capacity:
        pad = capacity - num_pairs
        sources = np.concatenate([sources, np.zeros(pad, int)])
        targets = np.concatenate([targets, np.zeros(pad, int)])
    sources, targets = jnp.asarray(sources, jnp.int32), jnp.asarray(targets, jnp.int32)

    def one(genome_key):
        present = jax.random.bernoulli(
            genome_key, config.prob_init_enable, (num_pairs,)
        )
        present = jnp.concatenate(
            [present, jnp.zeros(max(capacity - num_pairs, 0), bool)]
        )
        # Only present links take slots; absent pairs can still be added later
        # by the add-connection operator.
        slots = jnp.argsort(~present, stable=True)[:capacity]
        valid = present[slots]
        return template.replace(
            node_activation=node_activation,
            conn_source=jnp.where(valid, sources[slots], 0),
            conn_target=jnp.where(valid, targets[slots], 0),
            conn_enabled=valid,
            conn_valid=valid,
        )

    return jax.vmap(one)(jax.random.split(key, config.pop_size))


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
    ):
        self.problem = problem
        self.config = config or SearchConfig()
        self.config.validate(problem.num_inputs, problem.num_outputs)
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
        self._step = jax.jit(self._generation)
        self.state = self.init(jax.random.PRNGKey(self.config.seed))

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

    def evaluate(self, population: Genome, key) -> jnp.ndarray:
        """Fitness [P, K] of each genome under each shared weight.

        Every genome sees the same batch. Non-finite fitness becomes -inf so
        it can never win.
        """
        x, y = self.problem.sample_batch(key)

        def population_outputs(width):
            def outputs(genome):
                return self.module.apply(
                    {"genome": genome.arrays()},
                    x,
                    self._weights,
                    width,
                    method=self.module_class.sweep,
                )

            return lambda population: jax.vmap(outputs)(population)

        # Hidden slots fill from the front, so early generations use a
        # fraction of the capacity; evaluating only the occupied prefix (one
        # compiled branch per width bucket, chosen once per generation) is
        # exact and skips the empty columns.
        needed = jnp.max(graph.used_width(population))
        bucket = jnp.searchsorted(jnp.asarray(self._widths), needed)
        outputs = jax.lax.switch(
            bucket, [population_outputs(w) for w in self._widths], population
        )
        per_weight = jax.vmap(
            jax.vmap(self.problem.fitness, in_axes=(0, None)), in_axes=(0, None)
        )
        fitness = per_weight(outputs, y)
        return jnp.where(jnp.isfinite(fitness), fitness, -jnp.inf)

    def _generation(self, state: SearchState):
        self.trace_count += 1  # Runs once per trace, not per call.
        config = self.config
        key, eval_key, objective_key, tournament_key, mutate_key = jax.random.split(
            state.key, 5
        )
        population = state.population

        fitness = self.evaluate(population, eval_key)
        nonfinite = jnp.sum(jnp.isneginf(fitness))
        fitness_mean, fitness_max = fitness.mean(axis=1), fitness.max(axis=1)
        finite = jnp.isfinite(fitness_mean)
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
            "population_mean": jnp.sum(jnp.where(finite, fitness_mean, 0.0))
            / jnp.maximum(jnp.sum(finite), 1),
            "mean_connections": jnp.mean(connections.astype(jnp.float32)),
            "champion_mean": champion_fitness[0],
            "champion_max": champion_fitness[1],
            "champion_connections": champion.num_connections(),
            "champion_hidden": champion.num_hidden(),
            "skipped_mutations": skipped,
            "nonfinite": nonfinite,
            "objectives": jnp.where(use_max, 1, 0),
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
        return {k: v.item() for k, v in jax.device_get(metrics).items()}

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
        self.state = jax.device_put(self.state)
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
