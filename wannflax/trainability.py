"""Trainability-aware search: zero-cost proxies folded into the WANN ranking.

A WANN search selects for fitness under shared weights, but the champion is
then trained (Stage 2). Zero-cost proxies (``wannflax.proxies``) score how
trainable a network looks at initialisation; ``SearchConfig.proxy_strategy``
folds them into the ranking of each generation, inside the one jitted step:

- ``none`` (default): the WANN ranking, untouched; no proxy is computed.
- ``hybrid``: the mean-fitness objective becomes
  ``(1 - mix) * r(mean fitness) + mix * r(proxy)``, where ``r`` is the
  normalised rank in the population ((rank - 1) / (P - 1), in [0, 1], ties
  sharing their average rank) and ``proxy`` the aggregated proxy score. The
  second objective (1 / connections, or max fitness) is unchanged. At
  ``mix = 0`` the objective is the mean fitness itself, not its rank, so the
  ranking (crowding distances included) is exactly that of ``none``: a
  control run that computes and logs the proxies without using them.
- ``sequential``: the proxies score only the top ``ceil(top_fraction * P)``
  genomes by mean fitness (a static count: they are gathered, scored and
  scattered back; the others get ``UNDEFINED``). Within that group the
  objective is ``1 + (1 - mix) * r_top(mean fitness) + mix * r_top(proxy)``
  and outside it ``r(mean fitness)`` < 1, so the top group stays above the
  rest on the first objective and the proxies only reorder it.
- ``pareto``: the aggregated proxy score is a third NSGA-II objective.

In every strategy a genome with non-finite mean fitness keeps ``-inf`` in
each objective the proxies touch, so a proxy can never lift it. The champion
stays the best genome by mean fitness ever seen (the WANN champion).

The proxies are computed with every connection at weight
``PROXY_SHARED_WEIGHT`` on the first ``proxy_batch_size`` samples of the
generation's batch (the batch ``sample_batch`` draws from the generation's
evaluation key), with one PRNG key per generation for proxies that draw
probes. Scores of a population combine by ``proxy_aggregation`` (rank based,
so proxies on unrelated scales combine) with ``proxy_weights``.

Proxy strategies need a problem that draws data batches (``sample_batch``);
control tasks, which score policies by episodes, are refused. Proxies that
need class labels are refused on problems without them (e.g. an mse loss).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from wannflax import graph
from wannflax.genome import Genome
from wannflax.proxies import AGGREGATIONS, PROXIES, UNDEFINED, aggregate, ranks
from wannflax.proxies.scoring import population_variables
from wannflax.registry import UnknownNameError

STRATEGIES = ("none", "hybrid", "sequential", "pareto")

# Every connection's weight while the proxies score a genome. The proxies'
# reference code scores networks at their initial weights; Stage 2 starts a
# WANN from one shared weight, and 1 is the weight compile() uses by default.
PROXY_SHARED_WEIGHT = 1.0


def check_config(config: Any) -> None:
    """Checks the proxy fields of a SearchConfig; raises naming the bad field.

    Raises:
      ValueError: a strategy, mix, fraction, batch size or weight list out of
        range, naming the field and the valid choices.
      UnknownNameError: an unknown proxy or aggregation, listing the
        registered ones.
    """
    if config.proxy_strategy not in STRATEGIES:
        raise ValueError(
            f"SearchConfig.proxy_strategy must be one of {', '.join(STRATEGIES)}; got "
            f"{config.proxy_strategy!r}."
        )
    names = config.proxies
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise ValueError(
            "SearchConfig.proxies must be a non-empty list of proxy names (registered: "
            f"{', '.join(PROXIES.names())}); got {names!r}."
        )
    for name in names:
        try:
            PROXIES.get(name)
        except UnknownNameError as error:
            raise UnknownNameError(f"SearchConfig.proxies: {error}") from None
    if len(set(names)) != len(names):
        raise ValueError(f"SearchConfig.proxies names a proxy twice: {list(names)}.")
    weights = np.asarray(config.proxy_weights, np.float64)
    if weights.size and (
        weights.shape != (len(names),)
        or not np.all(np.isfinite(weights))
        or np.any(weights < 0)
        or weights.sum() <= 0
    ):
        raise ValueError(
            "SearchConfig.proxy_weights must be empty (equal weights) or one finite, "
            f"non-negative weight per proxy ({len(names)} for {list(names)}), not all "
            f"zero; got {list(config.proxy_weights)}."
        )
    try:
        AGGREGATIONS.get(config.proxy_aggregation)
    except UnknownNameError as error:
        raise UnknownNameError(f"SearchConfig.proxy_aggregation: {error}") from None
    if not 0.0 <= config.proxy_mix <= 1.0:
        raise ValueError(
            f"SearchConfig.proxy_mix must lie in [0, 1], got {config.proxy_mix}."
        )
    if not 0.0 < config.proxy_top_fraction <= 1.0:
        raise ValueError(
            "SearchConfig.proxy_top_fraction must lie in (0, 1], got "
            f"{config.proxy_top_fraction}."
        )
    batch = config.proxy_batch_size
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(
            f"SearchConfig.proxy_batch_size must be a positive int, got {batch!r}."
        )


def check_problem(config: Any, problem: Any) -> None:
    """Checks that the problem can feed the chosen proxies; raises saying why not.

    Nothing is required when ``proxy_strategy`` is ``none``.
    """
    if config.proxy_strategy == "none":
        return
    strategy = f"SearchConfig.proxy_strategy={config.proxy_strategy!r}"
    if hasattr(problem, "population_fitness") or not hasattr(problem, "sample_batch"):
        raise ValueError(
            f"{strategy} needs a problem that draws data batches (sample_batch), such "
            f"as a supervised data set; {type(problem).__name__} scores policies by "
            "episodes. Use proxy_strategy='none' for control tasks."
        )
    labelled = getattr(problem, "num_classes", None) is not None
    needs_labels = [n for n in config.proxies if PROXIES.get(n).needs_labels]
    if needs_labels and not labelled:
        loss = getattr(problem, "loss_name", "its loss")
        raise ValueError(
            f"SearchConfig.proxies {needs_labels} need integer class labels, but the "
            f"problem (loss {loss!r}) has none; drop them or use proxies that need "
            f"no labels (e.g. {', '.join(_label_free())})."
        )
    available = int(getattr(problem, "batch_size", config.proxy_batch_size))
    if config.proxy_batch_size > available:
        raise ValueError(
            f"SearchConfig.proxy_batch_size={config.proxy_batch_size} exceeds the "
            f"{available} samples of the generation's batch; lower it (or raise the "
            "problem's batch_size)."
        )


def _label_free() -> list[str]:
    return [name for name in PROXIES.names() if not PROXIES.get(name).needs_labels]


def depth_buckets(bound: int) -> tuple[int, ...]:
    """Static depths a population is scored at: 2, 8, 32, ... below half of
    ``bound``, then ``bound`` itself (always exact).

    Reverse-mode proxies need a static number of layered steps, and the cost
    grows with it; a search's genomes are usually far shallower than the
    capacity allows, so each generation runs only the smallest bucket that
    covers its deepest genome (one compiled branch per bucket). A bucket is
    kept only where it at least halves the steps; small capacities get one.
    """
    depths = []
    depth = 2
    while depth < bound / 2:
        depths.append(depth)
        depth *= 4
    return (*depths, bound)


def normalised_ranks(values: jax.Array) -> jax.Array:
    """(rank - 1) / (n - 1) in [0, 1], higher for higher values, ties averaged;
    -inf and NaN rank lowest. A single value gets 0."""
    count = values.shape[0]
    return (ranks(values) - 1.0) / max(count - 1, 1)


class PopulationScores(NamedTuple):
    """One generation's proxy scores.

    Attributes:
      raw: proxy name -> f32 [P], each finite or ``UNDEFINED`` (also for the
        genomes a sequential strategy did not score).
      aggregated: f32 [P], the combined score (higher is better) among the
        scored genomes; -inf for the unscored.
      scored: bool [P], which genomes the proxies scored.
      top: int32 [K], the scored genomes' indices (K = P unless sequential),
        best mean fitness first for the sequential strategy.
      champion: proxy name -> f32 [], the champion's scores on the same batch.
    """

    raw: dict[str, jax.Array]
    aggregated: jax.Array
    scored: jax.Array
    top: jax.Array
    champion: dict[str, jax.Array]


class ProxyRanking:
    """The proxy side of a generation step, set up once per search.

    Example (inside the jitted generation step)::

        objectives, metrics = proxy_ranking(
            population, fitness_mean, objectives, eval_key, champion
        )
    """

    def __init__(self, config: Any, problem: Any, module: Any):
        """Checks the problem against the settings and builds the scorers.

        Args:
          config: the validated SearchConfig.
          problem: the search's problem.
          module: the search's WANN module (its capacity and activations).
        """
        self.strategy = config.proxy_strategy
        check_problem(config, problem)
        if self.strategy == "none":
            return
        self.problem = problem
        self.proxies = tuple(PROXIES.get(name) for name in config.proxies)
        weights = [float(w) for w in config.proxy_weights]
        self.weights = (
            dict(zip(config.proxies, weights, strict=True)) if weights else None
        )
        self.aggregation = config.proxy_aggregation
        self.mix = float(config.proxy_mix)
        self.batch_size = int(config.proxy_batch_size)
        self.needs_labels = any(proxy.needs_labels for proxy in self.proxies)
        self.top_fraction = float(config.proxy_top_fraction)
        bound = module.max_nodes - module.num_inputs - 1
        self.depths = depth_buckets(bound)
        self.modules = tuple(module.clone(num_layers=d) for d in self.depths)

    def __call__(
        self, population: Genome, fitness_mean, objectives, batch_key, champion
    ):
        """The generation's objectives with the proxies folded in, and metrics.

        Args:
          population: the generation's genomes [P].
          fitness_mean: f32 [P], mean fitness over the shared weights.
          objectives: f32 [P, 2] from ``ranking.wann_objectives``.
          batch_key: the generation's evaluation key (fixes the batch).
          champion: the champion genome after this generation's update.

        Returns:
          ``(objectives, metrics)``: f32 [P, 2] ([P, 3] for pareto) and a dict
          of scalars (empty for ``none``, which returns ``objectives`` as is).
        """
        if self.strategy == "none":
            return objectives, {}
        x, y = self.batch(batch_key)
        key = jax.random.fold_in(batch_key, 1)
        scores = self.population_scores(population, fitness_mean, champion, x, y, key)
        return self.objectives(fitness_mean, objectives, scores), self.metrics(
            fitness_mean, scores
        )

    def batch(self, batch_key):
        """The proxies' samples: a prefix of the generation's batch (labels or None)."""
        x, y = self.problem.sample_batch(batch_key)
        return x[: self.batch_size], (
            y[: self.batch_size] if self.needs_labels else None
        )

    def raw_scores(self, genomes: Genome, x, y, key) -> dict[str, jax.Array]:
        """Every proxy's score of every genome [N], at the smallest exact depth."""
        variables = population_variables(genomes, PROXY_SHARED_WEIGHT)
        depth = jnp.max(jax.vmap(graph.num_layers)(genomes))
        bucket = jnp.searchsorted(jnp.asarray(self.depths), depth)
        bucket = jnp.minimum(bucket, len(self.depths) - 1)

        def at_depth(module):
            def scores_of(genome_variables):
                return {
                    p.name: p(module, genome_variables, x, y, key) for p in self.proxies
                }

            return lambda variables: jax.vmap(scores_of)(variables)

        return lax.switch(bucket, [at_depth(m) for m in self.modules], variables)

    def population_scores(
        self, population: Genome, fitness_mean, champion: Genome, x, y, key
    ) -> PopulationScores:
        """Scores the population (or its top group) and the champion."""
        size = fitness_mean.shape[0]
        if self.strategy == "sequential":
            # A static count, so the gathered group has a fixed shape.
            num_scored = math.ceil(self.top_fraction * size)
            by_fitness = jnp.lexsort((jnp.arange(size), -fitness_mean))
            top = by_fitness[:num_scored].astype(jnp.int32)
            group = jax.tree.map(lambda leaf: leaf[top], population)
        else:
            top = jnp.arange(size, dtype=jnp.int32)
            group = population
        # The champion rides along as one more genome of the same call.
        with_champion = jax.tree.map(
            lambda leaf, one: jnp.concatenate([leaf, one[None]]), group, champion
        )
        scored_raw = self.raw_scores(with_champion, x, y, key)
        group_raw = {name: v[:-1] for name, v in scored_raw.items()}
        champion_raw = {name: v[-1] for name, v in scored_raw.items()}
        group_aggregated = aggregate(self.aggregation, group_raw, self.weights)
        if self.strategy != "sequential":
            scored = jnp.ones((size,), bool)
            return PopulationScores(
                group_raw, group_aggregated, scored, top, champion_raw
            )
        raw = {
            name: jnp.full((size,), UNDEFINED, jnp.float32).at[top].set(v)
            for name, v in group_raw.items()
        }
        aggregated = (
            jnp.full((size,), -jnp.inf, jnp.float32).at[top].set(group_aggregated)
        )
        scored = jnp.zeros((size,), bool).at[top].set(True)
        return PopulationScores(raw, aggregated, scored, top, champion_raw)

    def objectives(self, fitness_mean, objectives, scores: PopulationScores):
        """The ranking objectives under the strategy (see the module docstring)."""
        finite = jnp.isfinite(fitness_mean)
        if self.strategy == "pareto":
            proxy_objective = jnp.where(finite, scores.aggregated, -jnp.inf)
            return jnp.concatenate([objectives, proxy_objective[:, None]], axis=1)
        if self.strategy == "hybrid":
            if self.mix == 0.0:
                return objectives
            mixed = (1.0 - self.mix) * normalised_ranks(
                fitness_mean
            ) + self.mix * normalised_ranks(scores.aggregated)
        else:
            top = scores.top
            within_top = (
                1.0
                + (1.0 - self.mix) * normalised_ranks(fitness_mean[top])
                + self.mix * normalised_ranks(scores.aggregated[top])
            )
            mixed = normalised_ranks(fitness_mean).at[top].set(within_top)
        return objectives.at[:, 0].set(jnp.where(finite, mixed, -jnp.inf))

    def metrics(self, fitness_mean, scores: PopulationScores) -> dict[str, jax.Array]:
        """Scalars to log: undefined scores, the champion's scores, and how the
        aggregated proxy agrees with fitness among the scored genomes."""
        undefined = sum(
            jnp.sum(scores.scored & (v == UNDEFINED)) for v in scores.raw.values()
        )
        group_fitness = fitness_mean[scores.top]
        group_proxy = scores.aggregated[scores.top]
        metrics = {
            "proxy_undefined": undefined.astype(jnp.int32),
            "proxy_fitness_spearman": _rank_correlation(group_fitness, group_proxy),
        }
        for name, value in scores.champion.items():
            metrics[f"champion_proxy_{name}"] = value
        return metrics


def _rank_correlation(a, b):
    """Spearman's rho inside jit (0 when either side is constant)."""
    rank_a = ranks(a) - jnp.mean(ranks(a))
    rank_b = ranks(b) - jnp.mean(ranks(b))
    scale = jnp.sqrt(jnp.sum(rank_a**2) * jnp.sum(rank_b**2))
    return jnp.where(
        scale > 0, jnp.sum(rank_a * rank_b) / jnp.where(scale > 0, scale, 1.0), 0.0
    )
