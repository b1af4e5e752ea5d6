"""Multi-objective ranking of a population: NSGA-II non-dominated sorting.

Implements the ranking of Deb, Pratap, Agarwal and Meyarivan (2002), "A fast and
elitist multiobjective genetic algorithm: NSGA-II", IEEE Transactions on
Evolutionary Computation 6(2), https://doi.org/10.1109/4235.996017: individuals
are sorted into non-dominated fronts, and within a front by crowding distance.
The WANN paper (Gaier & Ha, 2019) ranks its population this way on the objective
pair built by :func:`wann_objectives`.

Conventions used throughout:

* Every objective is MAXIMISED. ``objectives`` is a float array ``[P, M]`` with a
  static population size ``P``.
* NaN objective values are replaced by ``-inf`` before anything else, so a NaN
  is worse than every finite value of that objective; an individual whose
  objectives are all NaN is dominated by any finite individual.
* ``valid`` (optional ``bool[P]``) marks the individuals to rank. Invalid ones
  never dominate anyone, are placed in front ``P`` (worse than any real front)
  and rank after every valid individual.
* A ranking function has the signature ``(objectives, valid=None) -> int32[P]``
  and returns, for each individual, its position in the order best first
  (``0`` = best). Rankings are registered by name in :data:`RANKINGS`.

Everything is pure JAX with fixed shapes: it jits, vmaps over a batch of
populations, and never syncs with the host. The public functions are wrapped in
``jax.jit`` so that eager calls compile once per shape instead of dispatching
dozens of small ops.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from wannflax.registry import Registry

RANKINGS = Registry("ranking")


def _sanitize(objectives: jax.Array) -> jax.Array:
    """Casts to float32 and maps NaN to -inf (the worst value when maximising)."""
    objectives = jnp.asarray(objectives, jnp.float32)
    return jnp.where(jnp.isnan(objectives), -jnp.inf, objectives)


def _valid_mask(valid: jax.Array | None, population_size: int) -> jax.Array:
    """Returns ``valid`` as ``bool[P]``, all True when it is None."""
    if valid is None:
        return jnp.ones((population_size,), jnp.bool_)
    return jnp.asarray(valid, jnp.bool_)


def _inverse_permutation(order: jax.Array) -> jax.Array:
    """Maps an order (indices, best first) to ranks (position of each index)."""
    size = order.shape[0]
    return (
        jnp.zeros((size,), jnp.int32).at[order].set(jnp.arange(size, dtype=jnp.int32))
    )


def dominates(a: jax.Array, b: jax.Array) -> jax.Array:
    """Whether ``a`` Pareto-dominates ``b`` (all objectives maximised).

    ``a`` dominates ``b`` iff ``a >= b`` in every objective and ``a > b`` in at
    least one. Equal points do not dominate each other. No NaN handling is done
    here (any comparison with NaN is False); the ranking functions map NaN to
    -inf first.

    Args:
      a: objective values ``[..., M]``.
      b: objective values ``[..., M]``, broadcastable against ``a``.

    Returns:
      A bool array of the broadcast leading shape ``[...]``.
    """
    a = jnp.asarray(a)
    b = jnp.asarray(b)
    return jnp.all(a >= b, axis=-1) & jnp.any(a > b, axis=-1)


@jax.jit
def nondominated_fronts(
    objectives: jax.Array, valid: jax.Array | None = None
) -> jax.Array:
    """Non-dominated sorting: the front index of every individual.

    Front 0 holds the individuals that no valid individual dominates; front
    ``k + 1`` holds those dominated only by individuals of fronts ``<= k``. The
    fronts are peeled one per ``lax.while_loop`` iteration from a ``[P, P]``
    domination matrix computed once, so the cost is ``O(P^2 M)`` for the matrix
    plus ``O(P^2)`` per front.

    Args:
      objectives: float ``[P, M]``, maximised; NaN is treated as -inf.
      valid: optional ``bool[P]``; invalid individuals get front ``P`` and never
        dominate anyone.

    Returns:
      ``int32[P]``, the front of each individual (0 = non-dominated).
    """
    objectives = _sanitize(objectives)
    population_size = objectives.shape[0]
    valid = _valid_mask(valid, population_size)
    # dominance[i, j]: i dominates j. Rows of invalid individuals are never read
    # because the peeling only looks at rows of still-unassigned valid ones.
    dominance = dominates(objectives[:, None, :], objectives[None, :, :])

    def has_unassigned(state):
        _, unassigned, _ = state
        return jnp.any(unassigned)

    def peel_front(state):
        fronts, unassigned, front = state
        dominated = jnp.any(dominance & unassigned[:, None], axis=0)
        # Dominance is a strict partial order on a finite set (NaNs are gone), so
        # at least one unassigned individual is undominated and the loop ends.
        in_front = unassigned & ~dominated
        fronts = jnp.where(in_front, front, fronts)
        return fronts, unassigned & ~in_front, front + 1

    initial = (
        jnp.full((population_size,), population_size, jnp.int32),
        valid,
        jnp.zeros((), jnp.int32),
    )
    fronts, _, _ = lax.while_loop(has_unassigned, peel_front, initial)
    return fronts


def _crowding_one_objective(values: jax.Array, fronts: jax.Array) -> jax.Array:
    """One objective's contribution to the crowding distance, per individual."""
    population_size = values.shape[0]
    index = jnp.arange(population_size)
    # Sorted by front, then value, then index: each front is a contiguous run,
    # ascending in this objective, with a deterministic order among ties.
    order = jnp.lexsort((index, values, fronts))
    sorted_values = values[order]
    sorted_fronts = fronts[order]

    same_as_prev = jnp.concatenate(
        [jnp.zeros((1,), jnp.bool_), sorted_fronts[1:] == sorted_fronts[:-1]]
    )
    same_as_next = jnp.concatenate(
        [sorted_fronts[:-1] == sorted_fronts[1:], jnp.zeros((1,), jnp.bool_)]
    )
    boundary = ~(same_as_prev & same_as_next)

    num_segments = population_size + 1  # fronts 0..P-1 plus P for invalid ones.
    front_max = jax.ops.segment_max(values, fronts, num_segments=num_segments)
    front_min = jax.ops.segment_min(values, fronts, num_segments=num_segments)
    extent = (front_max - front_min)[sorted_fronts]

    prev_values = jnp.concatenate([sorted_values[:1], sorted_values[:-1]])
    next_values = jnp.concatenate([sorted_values[1:], sorted_values[-1:]])
    # A flat objective (extent 0) says nothing about crowding; an infinite extent
    # (a -inf value in the front) has no finite scale to normalise by. Both
    # contribute 0 to interior points rather than NaN.
    usable = (extent > 0) & jnp.isfinite(extent)
    gap = jnp.where(
        usable, (next_values - prev_values) / jnp.where(usable, extent, 1.0), 0.0
    )
    sorted_contribution = jnp.where(boundary, jnp.inf, gap)
    return jnp.zeros((population_size,), jnp.float32).at[order].set(sorted_contribution)


@jax.jit
def crowding_distance(objectives: jax.Array, fronts: jax.Array) -> jax.Array:
    """NSGA-II crowding distance, computed within each front.

    For each objective, the members of a front are sorted by value (ties by
    index); the two ends get ``+inf`` and every interior member gets
    ``(next - prev) / (max - min)`` over that front. The distance is the sum
    over objectives. Where ``max == min`` in a front, or the range is not
    finite, interior members get 0 from that objective (the ends still get
    ``+inf``). Members of fronts with one or two individuals are all ``+inf``.

    Args:
      objectives: float ``[P, M]``, maximised; NaN is treated as -inf.
      fronts: int ``[P]`` with values in ``[0, P]``, e.g. from
        :func:`nondominated_fronts`.

    Returns:
      ``float32[P]``, never NaN.
    """
    objectives = _sanitize(objectives)
    fronts = jnp.asarray(fronts, jnp.int32)
    per_objective = jax.vmap(_crowding_one_objective, in_axes=(1, None), out_axes=1)(
        objectives, fronts
    )
    return jnp.sum(per_objective, axis=1)


@jax.jit
def nsga2_order(objectives: jax.Array, valid: jax.Array | None = None) -> jax.Array:
    """Indices of the individuals, best first, in NSGA-II order.

    Sorted by front ascending, then crowding distance descending, then index
    ascending. Invalid individuals come last, ordered by index.

    Args:
      objectives: float ``[P, M]``, maximised; NaN is treated as -inf.
      valid: optional ``bool[P]`` marking the individuals to rank.

    Returns:
      ``int32[P]``, a permutation of ``0..P-1``.
    """
    objectives = _sanitize(objectives)
    population_size = objectives.shape[0]
    valid = _valid_mask(valid, population_size)
    fronts = nondominated_fronts(objectives, valid)
    crowding = crowding_distance(objectives, fronts)
    # Invalid individuals share front P; their crowding among themselves is
    # meaningless, so drop it and let the index decide.
    crowding = jnp.where(valid, crowding, 0.0)
    index = jnp.arange(population_size, dtype=jnp.int32)
    return jnp.lexsort((index, -crowding, fronts)).astype(jnp.int32)


@RANKINGS.register("nsga2")
@jax.jit
def nsga2_rank(objectives: jax.Array, valid: jax.Array | None = None) -> jax.Array:
    """NSGA-II rank of every individual (0 = best); see :func:`nsga2_order`.

    Args:
      objectives: float ``[P, M]``, maximised; NaN is treated as -inf.
      valid: optional ``bool[P]`` marking the individuals to rank.

    Returns:
      ``int32[P]``, the position of each individual in :func:`nsga2_order`.
    """
    return _inverse_permutation(nsga2_order(objectives, valid))


@RANKINGS.register("mean")
@jax.jit
def mean_rank(objectives: jax.Array, valid: jax.Array | None = None) -> jax.Array:
    """Rank by the first objective alone (the mean fitness in WANN), 0 = best.

    Sorted by the first objective descending, ties by index ascending; the
    other objectives are ignored. Invalid individuals come last, by index.

    Args:
      objectives: float ``[P, M]``, maximised; NaN is treated as -inf.
      valid: optional ``bool[P]`` marking the individuals to rank.

    Returns:
      ``int32[P]``, the position of each individual, best first.
    """
    objectives = _sanitize(objectives)
    population_size = objectives.shape[0]
    valid = _valid_mask(valid, population_size)
    index = jnp.arange(population_size, dtype=jnp.int32)
    score = jnp.where(valid, objectives[:, 0], -jnp.inf)
    order = jnp.lexsort((index, -score, ~valid))
    return _inverse_permutation(order)


@jax.jit
def wann_objectives(
    mean_fitness: jax.Array,
    max_fitness: jax.Array,
    num_connections: jax.Array,
    use_max: jax.Array,
) -> jax.Array:
    """The WANN objective pair for one generation, both maximised.

    Gaier & Ha (2019) rank on mean fitness over the shared weights, plus either
    fewer connections (as ``1 / num_connections``) or the best fitness over the
    shared weights, switching between the two from generation to generation.

    Args:
      mean_fitness: float ``[P]``, fitness averaged over the weight values.
      max_fitness: float ``[P]``, the best fitness over the weight values.
      num_connections: int ``[P]``, enabled connections per network; counts
        below 1 are treated as 1 so an empty network does not divide by zero.
      use_max: bool scalar, may be traced; True selects ``max_fitness`` as the
        second objective, False selects ``1 / num_connections``.

    Returns:
      ``float32[P, 2]``: column 0 the mean fitness, column 1 the second objective.
    """
    mean_fitness = jnp.asarray(mean_fitness, jnp.float32)
    max_fitness = jnp.asarray(max_fitness, jnp.float32)
    connections = jnp.maximum(jnp.asarray(num_connections), 1).astype(jnp.float32)
    second = jnp.where(use_max, max_fitness, 1.0 / connections)
    return jnp.stack([mean_fitness, second], axis=-1)
