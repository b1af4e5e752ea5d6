"""brax environments by name: returns stop at done, fresh starts, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("brax")

from wannflax.genome import Genome  # noqa: E402
from wannflax.problems.rl import make_environment  # noqa: E402
from wannflax.search import ArchitectureSearch, SearchConfig  # noqa: E402
from wannflax.training import check_fits  # noqa: E402


@pytest.fixture(scope="module")
def pendulum():
    return make_environment("brax/inverted_pendulum", episodes=2, max_steps=60)


def test_brax_environment_sizes_and_control_range(pendulum):
    # Observations: cart position, pole angle and their velocities; one motor
    # whose control range in the model file is [-3, 3].
    assert (pendulum.num_inputs, pendulum.num_outputs) == (4, 1)
    np.testing.assert_array_equal(pendulum.action_low, [-3.0])
    np.testing.assert_array_equal(pendulum.action_high, [3.0])
    np.testing.assert_allclose(pendulum.to_action(jnp.array([7.0])), [3.0])


def test_a_brax_return_is_the_step_at_which_done_first_fires(pendulum):
    # inverted_pendulum pays 1 per step until the pole passes 0.2 rad; pushing
    # hard one way topples it, so the return counts the steps up to and
    # including the first done, found here by stepping by hand.
    key = jax.random.PRNGKey(5)
    total = float(pendulum.episode_return(lambda obs: jnp.array([0.3]), key))
    state = pendulum.env.reset(key)
    step = jax.jit(pendulum.env.step)
    steps = 0
    while steps < pendulum.max_steps:
        state = step(state, jnp.array([0.3]))
        steps += 1
        if float(state.done) > 0:
            break
    assert total == steps
    assert 2 < steps < pendulum.max_steps


def test_brax_reset_and_step_states_have_equal_structure_and_dtypes(pendulum):
    # Under jit, as in a rollout: outside it brax returns this environment's
    # constant reward as a Python float.
    state = jax.jit(pendulum.env.reset)(jax.random.PRNGKey(0))
    stepped = jax.jit(pendulum.env.step)(state, jnp.zeros(1))
    assert jax.tree.structure(state) == jax.tree.structure(stepped)
    assert [x.dtype for x in jax.tree.leaves(state)] == [
        x.dtype for x in jax.tree.leaves(stepped)
    ]


def test_two_brax_episodes_start_from_different_states(pendulum):
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    starts = [pendulum.env.reset(k).obs for k in keys]
    assert not bool(jnp.all(starts[0] == starts[1]))


def test_a_nan_action_ends_the_episode_with_the_worst_return(pendulum):
    key = jax.random.PRNGKey(0)
    assert float(pendulum.episode_return(lambda obs: jnp.array([jnp.nan]), key)) == (
        -np.inf
    )


def test_a_search_scores_brax_policies_and_counts_nonfinite_ones(pendulum):
    search = ArchitectureSearch(
        pendulum, SearchConfig(pop_size=4, max_nodes=10, max_connections=20, seed=0)
    )
    metrics = search.step()
    assert metrics["best_mean"] >= 1.0  # every episode pays at least one step
    assert metrics["nonfinite"] == 0


def test_unknown_brax_names_backends_and_mappings_list_the_choices():
    with pytest.raises(ValueError, match="brax/antt.*brax/ant, brax/halfcheetah"):
        make_environment("brax/antt")
    with pytest.raises(ValueError, match="backend 'warp'.*generalized, positional"):
        make_environment("brax/inverted_pendulum", backend="warp")
    with pytest.raises(ValueError, match="'argmax' does not fit.*auto, clip, tanh"):
        make_environment("brax/inverted_pendulum", action_mapping="argmax")


def test_a_genome_with_the_wrong_output_count_is_refused_naming_both(pendulum):
    genome = Genome.from_edges(4, 2, [(1, 5)], max_nodes=10, max_conns=4)
    with pytest.raises(
        ValueError,
        match=r"2 outputs but environment brax/inverted_pendulum has 4 observations "
        r"and a continuous action space of size 1",
    ):
        check_fits(genome, pendulum)
