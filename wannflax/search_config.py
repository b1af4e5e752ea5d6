"""Search settings (the WANN release's defaults) and the initial population."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from wannflax import activations as activation_table
from wannflax import evaluation, ranking, trainability
from wannflax.genome import Genome
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
      evaluation: population forward, a name in
        ``wannflax.evaluation.EVALUATIONS`` or "auto" (the fastest measured
        for the capacity, see ``evaluation.auto_strategy``).
      population_chunk: genomes evaluated per ``lax.map`` step: 0 evaluates
        the whole population at once; -1 picks the largest chunk whose node
        values fit a cache-sized budget (``evaluation.auto_chunk_size``).
      output_activation: activation of the output nodes (never mutated).
      seed: PRNG seed.
      proxy_strategy: how zero-cost proxies enter the ranking: "none" (the
        WANN ranking), "hybrid", "sequential" or "pareto" (see
        wannflax.trainability).
      proxies: proxy names (wannflax.proxies.PROXIES) the strategy uses.
      proxy_weights: one weight per proxy in the aggregation; empty: equal.
      proxy_aggregation: name in wannflax.proxies.AGGREGATIONS.
      proxy_mix: hybrid / sequential weight of the proxy rank, in [0, 1].
      proxy_top_fraction: sequential: share of the population, best mean
        fitness first, that the proxies score, in (0, 1].
      proxy_batch_size: samples of the generation's batch the proxies see.
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
    evaluation: str = "auto"
    population_chunk: int = -1
    output_activation: str = "linear"
    seed: int = 0
    proxy_strategy: str = "none"
    proxies: Sequence[str] = ("synflow",)
    proxy_weights: Sequence[float] = ()
    proxy_aggregation: str = "az_log_rank"
    proxy_mix: float = 0.5
    proxy_top_fraction: float = 0.25
    proxy_batch_size: int = 64

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
            ("evaluation", evaluation.EVALUATIONS, self.evaluation),
        ]
        for field, registry, name in lookups:
            try:
                registry.get(name)
            except UnknownNameError as error:
                raise UnknownNameError(f"SearchConfig.{field}: {error}") from None
        if (
            isinstance(self.population_chunk, bool)
            or not isinstance(self.population_chunk, (int, np.integer))
            or self.population_chunk < -1
        ):
            raise ValueError(
                "SearchConfig.population_chunk must be an int: genomes per chunk, 0 "
                f"for the whole population or -1 for auto; got {self.population_chunk!r}."
            )
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
        trainability.check_config(self)

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
        """Elites per generation, copied unchanged: floor(pop_size * elite_ratio)."""
        return int(math.floor(self.pop_size * self.elite_ratio))

    def num_culled(self) -> int:
        """Worst-ranked genomes that cannot be parents: floor(pop_size * cull_ratio)."""
        return int(math.floor(self.pop_size * self.cull_ratio))


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
