"""Specification of wannflax.ranking: NSGA-II ranking (Deb et al. 2002).

Deb, Pratap, Agarwal and Meyarivan, "A fast and elitist multiobjective genetic
algorithm: NSGA-II", https://doi.org/10.1109/4235.996017. All objectives are
maximised; every expected value below is derived by hand in a comment.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import ranking
from wannflax.registry import UnknownNameError

INF = math.inf

# Six points, maximised. Front 0: (1,5) has the largest second objective, (2,4)
# would need a point with x >= 2 and y >= 4, and the two (3,3) need x >= 3 and
# y >= 3 with one strictly larger: none exists, and equal points do not dominate
# each other. (2,2) is dominated by (2,4); (1,1) by everything else. Without
# front 0, (2,2) is undominated (front 1) and dominates (1,1) (front 2).
SIX_POINTS = [[1, 5], [2, 4], [3, 3], [2, 2], [1, 1], [3, 3]]
SIX_FRONTS = [0, 0, 0, 1, 2, 0]

# One front, mutually non-dominated. Both objectives span 4 (0..4).
# Objective 0 sorted: 0, 1, 2, 4 -> (1,3) gets (2-0)/4 = 0.5, (2,1) gets
# (4-1)/4 = 0.75. Objective 1 sorted: 0 (4,0), 1 (2,1), 3 (1,3), 4 (0,4) ->
# (2,1) gets (3-0)/4 = 0.75, (1,3) gets (4-1)/4 = 0.75.
# Totals: (1,3) 0.5 + 0.75 = 1.25, (2,1) 0.75 + 0.75 = 1.5; ends inf.
FOUR_POINTS = [[0, 4], [1, 3], [2, 1], [4, 0]]
FOUR_CROWDING = [INF, 1.25, 1.5, INF]


def reference_fronts(points, valid=None):
    """Plain O(P^2)-per-front peeling, written independently of the module."""
    size = len(points)
    if valid is None:
        valid = [True] * size

    def dominates(a, b):
        at_least = all(x >= y for x, y in zip(a, b))
        better = any(x > y for x, y in zip(a, b))
        return at_least and better

    fronts = [size] * size
    remaining = {i for i in range(size) if valid[i]}
    front = 0
    while remaining:
        current = {
            j
            for j in remaining
            if not any(dominates(points[i], points[j]) for i in remaining)
        }
        for j in current:
            fronts[j] = front
        remaining -= current
        front += 1
    return fronts


def as_list(array):
    return np.asarray(array).tolist()


# -- dominates -----------------------------------------------------------------


def test_dominates_needs_at_least_as_good_everywhere_and_better_somewhere():
    assert bool(ranking.dominates(jnp.array([2.0, 3.0]), jnp.array([2.0, 1.0])))
    assert not bool(ranking.dominates(jnp.array([2.0, 1.0]), jnp.array([2.0, 3.0])))
    # Equal points: neither dominates.
    assert not bool(ranking.dominates(jnp.array([1.0, 1.0]), jnp.array([1.0, 1.0])))
    # Trade-off: neither dominates.
    assert not bool(ranking.dominates(jnp.array([3.0, 0.0]), jnp.array([0.0, 3.0])))


def test_dominates_broadcasts_over_leading_axes():
    points = jnp.array(FOUR_POINTS[:2] + [[0.0, 0.0]])
    matrix = ranking.dominates(points[:, None], points[None, :])
    # (0,4) and (1,3) trade off; both dominate (0,0); nothing dominates itself.
    assert as_list(matrix) == [
        [False, False, True],
        [False, False, True],
        [False, False, False],
    ]


# -- nondominated_fronts -------------------------------------------------------


def test_fronts_of_six_points_with_duplicates_sharing_a_front():
    fronts = ranking.nondominated_fronts(jnp.array(SIX_POINTS, jnp.float32))
    assert fronts.dtype == jnp.int32
    assert as_list(fronts) == SIX_FRONTS


def test_fronts_with_three_objectives():
    # (1,1,1) dominates every other point: front 0. Next, (1,1,0) dominates
    # (1,0,0), (0,1,0) and (0,0,0), while (0,0,1) trades off with it: both are
    # front 1. Then (1,0,0) and (0,1,0) trade off and both dominate (0,0,0):
    # front 2. Last, (0,0,0): front 3.
    points = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [1, 1, 1], [1, 1, 0]]
    fronts = ranking.nondominated_fronts(jnp.array(points, jnp.float32))
    assert as_list(fronts) == [2, 2, 1, 3, 0, 1]


def test_a_chain_gives_one_front_per_individual():
    # Each point dominates the next: 5 fronts, the worst case for the peeling.
    points = jnp.array([[5, 5], [4, 4], [3, 3], [2, 2], [1, 1]], jnp.float32)
    assert as_list(ranking.nondominated_fronts(points)) == [0, 1, 2, 3, 4]


def test_identical_points_all_share_front_zero():
    points = jnp.full((4, 2), 7.0)
    assert as_list(ranking.nondominated_fronts(points)) == [0, 0, 0, 0]


def test_invalid_individuals_get_front_p_and_dominate_no_one():
    # (10,10) would dominate both others, but it is invalid: it gets front
    # P = 3 and (1,1), (2,0) trade off in front 0.
    points = jnp.array([[10, 10], [1, 1], [2, 0]], jnp.float32)
    valid = jnp.array([False, True, True])
    assert as_list(ranking.nondominated_fronts(points, valid)) == [3, 0, 0]


def test_invalid_mask_on_six_points():
    # Dropping one of the duplicated (3,3) changes nothing for the others.
    valid = jnp.array([True, True, False, True, True, True])
    fronts = ranking.nondominated_fronts(jnp.array(SIX_POINTS, jnp.float32), valid)
    assert as_list(fronts) == [0, 0, 6, 1, 2, 0]


def test_all_invalid_gives_every_individual_front_p():
    points = jnp.zeros((3, 2))
    valid = jnp.zeros((3,), bool)
    assert as_list(ranking.nondominated_fronts(points, valid)) == [3, 3, 3]


def test_nan_is_treated_as_minus_infinity():
    # An all-NaN point is (-inf,-inf): dominated by (0,0), which (1,1)
    # dominates, so the fronts are 2, 1, 0.
    points = jnp.array([[jnp.nan, jnp.nan], [0, 0], [1, 1]], jnp.float32)
    assert as_list(ranking.nondominated_fronts(points)) == [2, 1, 0]
    # NaN only in one objective: (-inf,5) still trades off against (1,1).
    points = jnp.array([[jnp.nan, 5], [1, 1]], jnp.float32)
    assert as_list(ranking.nondominated_fronts(points)) == [0, 0]


@pytest.mark.parametrize("num_objectives", [2, 3])
def test_fronts_match_pure_python_reference_on_random_populations(num_objectives):
    rng = np.random.default_rng(num_objectives)
    # Rounding to one decimal in [0, 1] makes ties and duplicates common.
    points = np.round(rng.uniform(size=(50, 40, num_objectives)), 1)
    valid = rng.uniform(size=(50, 40)) > 0.1
    batched = jax.jit(jax.vmap(ranking.nondominated_fronts))
    fronts = np.asarray(batched(jnp.asarray(points, jnp.float32), valid))
    for population in range(50):
        expected = reference_fronts(
            points[population].tolist(), valid[population].tolist()
        )
        assert fronts[population].tolist() == expected


# -- crowding_distance ---------------------------------------------------------


def test_crowding_on_a_front_with_known_spacing():
    points = jnp.array(FOUR_POINTS, jnp.float32)
    fronts = jnp.zeros((4,), jnp.int32)
    distance = ranking.crowding_distance(points, fronts)
    assert distance.dtype == jnp.float32
    assert as_list(distance) == FOUR_CROWDING


def test_crowding_of_a_flat_objective_is_zero_for_interior_points():
    # Objective 1 is 1 everywhere: it contributes 0 inside; sorting its ties by
    # index makes individuals 0 and 2 its ends (inf anyway from objective 0).
    # Objective 0 gives the middle point (2-0)/2 = 1.
    points = jnp.array([[0, 1], [1, 1], [2, 1]], jnp.float32)
    distance = ranking.crowding_distance(points, jnp.zeros((3,), jnp.int32))
    assert as_list(distance) == [INF, 1.0, INF]


def test_crowding_is_computed_within_each_front():
    # Individuals 0,2,4,6 form front 0 (the FOUR_POINTS layout, interleaved);
    # 1 and 5 form front 1 (two members: both inf); 3 is alone in front 2.
    points = jnp.array(
        [[0, 4], [9, 9], [1, 3], [-5, -5], [2, 1], [7, 8], [4, 0]], jnp.float32
    )
    fronts = jnp.array([0, 1, 0, 2, 0, 1, 0], jnp.int32)
    distance = ranking.crowding_distance(points, fronts)
    assert as_list(distance) == [INF, INF, 1.25, INF, 1.5, INF, INF]


def test_crowding_of_the_six_points():
    # Front 0 = individuals 0 (1,5), 1 (2,4), 2 (3,3), 5 (3,3); range 2 in both.
    # Objective 0 sorted (ties by index): 0, 1, 2, 5 -> 1 gets (3-1)/2 = 1,
    # 2 gets (3-2)/2 = 0.5. Objective 1 sorted: 2 (3), 5 (3), 1 (4), 0 (5) ->
    # 5 gets (4-3)/2 = 0.5, 1 gets (5-3)/2 = 1. So 0: inf, 1: 2.0, 2: inf (end
    # of objective 1), 5: inf (end of objective 0). Fronts 1 and 2 are single.
    points = jnp.array(SIX_POINTS, jnp.float32)
    distance = ranking.crowding_distance(points, jnp.array(SIX_FRONTS))
    assert as_list(distance) == [INF, 2.0, INF, INF, INF, INF]


def test_crowding_never_returns_nan_with_infinite_values():
    # The -inf (from NaN) end makes the range of objective 0 infinite: interior
    # points get 0 from it rather than inf/inf = NaN.
    points = jnp.array([[jnp.nan, 3], [1, 2], [2, 1], [3, 0.5]], jnp.float32)
    distance = ranking.crowding_distance(points, jnp.zeros((4,), jnp.int32))
    # Objective 0 sorted: 0 (-inf), 1, 2, 3 -> ends 0 and 3; 1, 2 interior: 0.
    # Objective 1 sorted: 3 (0.5), 2 (1), 1 (2), 0 (3) -> range 2.5;
    # 2 gets (2-0.5)/2.5 = 0.6, 1 gets (3-1)/2.5 = 0.8.
    np.testing.assert_allclose(np.asarray(distance), [INF, 0.8, 0.6, INF], rtol=1e-6)


# -- nsga2_rank / nsga2_order --------------------------------------------------


def test_nsga2_orders_by_crowding_within_a_front():
    # Crowding [inf, 1.25, 1.5, inf]: the ends first (by index), then 2, then 1.
    points = jnp.array(FOUR_POINTS, jnp.float32)
    assert as_list(ranking.nsga2_order(points)) == [0, 3, 2, 1]
    rank = ranking.nsga2_rank(points)
    assert rank.dtype == jnp.int32
    assert as_list(rank) == [0, 3, 2, 1]


def test_nsga2_orders_by_front_then_crowding_then_index():
    # Fronts [0,0,0,1,2,0] and crowding [inf,2,inf,inf,inf,inf] (see above):
    # front 0 by crowding then index is 0, 2, 5 (inf), 1 (2.0); then 3; then 4.
    points = jnp.array(SIX_POINTS, jnp.float32)
    assert as_list(ranking.nsga2_order(points)) == [0, 2, 5, 1, 3, 4]
    assert as_list(ranking.nsga2_rank(points)) == [0, 3, 1, 4, 5, 2]


def test_nsga2_puts_invalid_individuals_last_by_index():
    # Valid: 1 (1,1) and 3 (2,0) trade off in front 0, both ends (inf); by index
    # 1 then 3. Invalid 0 and 2 come after, by index, though 0 is the best point.
    points = jnp.array([[10, 10], [1, 1], [9, 9], [2, 0]], jnp.float32)
    valid = jnp.array([False, True, False, True])
    assert as_list(ranking.nsga2_order(points, valid)) == [1, 3, 0, 2]
    assert as_list(ranking.nsga2_rank(points, valid)) == [2, 0, 3, 1]


def test_nsga2_ranks_nan_individuals_worst():
    # Fronts [2, 1, 0] as in the NaN front test; one individual per front.
    points = jnp.array([[jnp.nan, jnp.nan], [0, 0], [1, 1]], jnp.float32)
    assert as_list(ranking.nsga2_rank(points)) == [2, 1, 0]


def test_nsga2_under_jit_and_vmap_matches_unbatched():
    rng = np.random.default_rng(0)
    points = jnp.asarray(np.round(rng.uniform(size=(8, 30, 2)), 1), jnp.float32)
    valid = jnp.asarray(rng.uniform(size=(8, 30)) > 0.2)
    batched = jax.jit(jax.vmap(ranking.nsga2_rank))(points, valid)
    for population in range(8):
        single = ranking.nsga2_rank(points[population], valid[population])
        assert as_list(batched[population]) == as_list(single)
        assert sorted(as_list(single)) == list(range(30))


def test_nsga2_handles_a_population_of_1024_under_jit():
    rng = np.random.default_rng(1)
    points = jnp.asarray(rng.normal(size=(1024, 2)), jnp.float32)
    rank = jax.jit(ranking.nsga2_rank)(points)
    assert rank.shape == (1024,)
    assert sorted(as_list(rank)) == list(range(1024))


# -- registry and the mean ranking ---------------------------------------------


def test_rankings_registry():
    # Other test modules may register their own rankings at import time.
    assert {"mean", "nsga2"} <= set(ranking.RANKINGS.names())
    assert ranking.RANKINGS.get("nsga2") is ranking.nsga2_rank
    with pytest.raises(UnknownNameError, match="mean, nsga2"):
        ranking.RANKINGS.get("spea2")


def test_mean_ranking_uses_the_first_objective_with_ties_by_index():
    # First objective 3, 5, 3, 1, 5: order 1, 4 (5s, by index), 0, 2 (3s), 3.
    points = jnp.array([[3, 0], [5, 0], [3, 9], [1, 9], [5, 0]], jnp.float32)
    rank = ranking.RANKINGS.get("mean")(points)
    assert rank.dtype == jnp.int32
    assert as_list(rank) == [2, 0, 3, 4, 1]


def test_mean_ranking_puts_nan_after_numbers_and_invalid_last():
    # Valid: 1 (2.0), 2 (NaN -> -inf), 3 (0.0) -> 1, 3, 2; invalid 0 is last.
    points = jnp.array([[9, 0], [2, 0], [jnp.nan, 0], [0, 0]], jnp.float32)
    valid = jnp.array([False, True, True, True])
    assert as_list(ranking.mean_rank(points, valid)) == [3, 0, 2, 1]


# -- wann_objectives -----------------------------------------------------------


def test_wann_objectives_pairs_mean_with_fewer_connections_or_max():
    mean = jnp.array([1.0, 2.0, 3.0])
    best = jnp.array([4.0, 5.0, 6.0])
    connections = jnp.array([2, 0, 4])  # 0 is guarded as 1.
    objectives = jax.jit(ranking.wann_objectives)
    pair = objectives(mean, best, connections, jnp.array(False))
    assert pair.dtype == jnp.float32
    assert as_list(pair) == [[1.0, 0.5], [2.0, 1.0], [3.0, 0.25]]
    pair = objectives(mean, best, connections, jnp.array(True))
    assert as_list(pair) == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]
