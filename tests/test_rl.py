"""RL problems: gymnax environments by name, returns, and a CartPole search."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax.activations import CONTROL_POOL
from wannflax.problems.rl import GymnaxProblem, make_environment
from wannflax.problems.swingup import SwingUpProblem
from wannflax.search import ArchitectureSearch, SearchConfig


def test_environments_by_name_and_unknown_names_list_the_choices():
    assert isinstance(make_environment("swingup", episodes=1), SwingUpProblem)
    cartpole = make_environment("CartPole-v1", episodes=1)
    assert (cartpole.num_inputs, cartpole.num_outputs) == (4, 2)
    breakout = make_environment("Breakout-MinAtar", episodes=1)
    assert breakout.num_inputs == 10 * 10 * 4  # observations are flattened
    with pytest.raises(
        ValueError, match="Unknown environment 'CartPole-v9'.*swingup.*CartPole-v1"
    ):
        make_environment("CartPole-v9")


def test_a_return_stops_counting_at_done():
    # Always pushing left, the pole falls within a few dozen steps; CartPole
    # pays 1 per step, so the return is the number of steps until done,
    # counted here by stepping the environment by hand with the same keys.
    problem = GymnaxProblem("CartPole-v1", episodes=1)
    key = jax.random.PRNGKey(3)
    total = float(problem.episode_return(lambda obs: jnp.array([1.0, 0.0]), key))
    reset_key, step_key = jax.random.split(key)
    _, state = problem.env.reset(reset_key, problem.env_params)
    steps = 0
    for step in jax.random.split(step_key, problem.max_steps):
        _, state, reward, terminated, truncated, _ = problem.env.step(
            step, state, 0, problem.env_params
        )
        steps += 1
        if bool(terminated | truncated):
            break
    assert total == steps
    assert 5 < steps < 100


def test_continuous_actions_are_clipped_to_the_space():
    problem = GymnaxProblem("Pendulum-v1", episodes=1)
    assert problem.num_outputs == 1
    assert float(problem.to_action(jnp.array([10.0]))[0]) == pytest.approx(2.0)


def test_cartpole_is_solved_under_every_shared_weight():
    problem = make_environment("CartPole-v1", episodes=2)
    config = SearchConfig(
        pop_size=64,
        max_nodes=16,
        max_connections=48,
        activation_options=CONTROL_POOL,
        prob_init_enable=0.5,
        seed=0,
    )
    search = ArchitectureSearch(problem, config)
    search.step()  # compiles
    start = time.perf_counter()
    for _ in range(60):
        metrics = search.step()
        if metrics["champion_mean"] >= 500:
            break
    # Mean over six weights of mean returns capped at 500: 500 means every
    # weight scored 500 in every episode.
    assert metrics["champion_mean"] == 500.0
    assert time.perf_counter() - start < 120


@pytest.mark.parametrize("name", ["CartPole-v1", "swingup"])
def test_reset_and_step_states_have_equal_structure_and_dtypes(name):
    from wannflax.problems import swingup

    if name == "swingup":
        state = swingup.reset(jax.random.PRNGKey(0))
        stepped, _, _ = swingup.step(state, jnp.array(0.3))
    else:
        problem = GymnaxProblem(name, episodes=1)
        _, state = problem.env.reset(jax.random.PRNGKey(0), problem.env_params)
        _, stepped, _, _, _, _ = problem.env.step(
            jax.random.PRNGKey(1), state, 0, problem.env_params
        )
    assert jax.tree.structure(state) == jax.tree.structure(stepped)
    assert [x.dtype for x in jax.tree.leaves(state)] == [
        x.dtype for x in jax.tree.leaves(stepped)
    ]


def test_two_episodes_of_one_individual_start_from_different_states():
    problem = GymnaxProblem("CartPole-v1", episodes=2)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    starts = [
        problem.env.reset(jax.random.split(k)[0], problem.env_params)[0] for k in keys
    ]
    assert not bool(jnp.all(starts[0] == starts[1]))


def test_changing_the_shared_weight_changes_the_policy_without_a_recompile():
    problem = make_environment("CartPole-v1", episodes=1)
    search = ArchitectureSearch(
        problem, SearchConfig(pop_size=4, max_nodes=12, max_connections=24, seed=0)
    )
    traces = []

    @jax.jit
    def act(genome, weight, observation):
        traces.append(1)
        return search.policy(genome, weight, observation[None, :])[0]

    genome = search.state.population.index(0)
    observation = jnp.array([0.1, -0.2, 0.3, 0.4])
    first = act(genome, 1.0, observation)
    second = act(genome, -2.0, observation)
    assert len(traces) == 1
    assert not bool(jnp.allclose(first, second))


def test_action_mappings_by_space():
    pendulum = GymnaxProblem("Pendulum-v1", episodes=1, action_mapping="tanh")
    # tanh(0) sits mid-range; tanh(atanh(0.5)) = 0.5 maps to 3/4 of [-2, 2].
    assert float(pendulum.to_action(jnp.array([0.0]))[0]) == pytest.approx(0.0)
    assert float(pendulum.to_action(jnp.array([jnp.arctanh(0.5)]))[0]) == pytest.approx(
        1.0, abs=1e-6
    )
    cartpole = GymnaxProblem("CartPole-v1", episodes=1, action_mapping="sample")
    # A softmax over outputs (0, 50) picks action 1 with probability 1 - 2e-22.
    keys = jax.random.split(jax.random.PRNGKey(0), 20)
    actions = jax.vmap(lambda k: cartpole.to_action(jnp.array([0.0, 50.0]), k))(keys)
    assert set(np.asarray(actions).tolist()) == {1}
    even = jax.vmap(lambda k: cartpole.to_action(jnp.zeros(2), k))(keys)
    assert set(np.asarray(even).tolist()) == {0, 1}  # equal outputs: both drawn
    with pytest.raises(ValueError, match="'clip' does not fit CartPole-v1.*argmax"):
        GymnaxProblem("CartPole-v1", action_mapping="clip")
    with pytest.raises(ValueError, match="'argmax' does not fit swingup.*clip, tanh"):
        make_environment("swingup", action_mapping="argmax")


def test_a_nan_output_ends_a_gymnax_episode_with_the_worst_return():
    pendulum = GymnaxProblem("Pendulum-v1", episodes=1)
    key = jax.random.PRNGKey(0)
    assert float(pendulum.episode_return(lambda obs: jnp.array([jnp.nan]), key)) == (
        -np.inf
    )
    # The search counts such evaluations as non-finite and never crowns them.
    config = SearchConfig(pop_size=4, max_nodes=8, max_connections=8, seed=0)
    search = ArchitectureSearch(pendulum, config)
    search.policy = lambda genome, weight, obs: jnp.full((1, 1), jnp.nan)
    fitness = search.evaluate(search.state.population, key)
    assert bool(jnp.all(jnp.isneginf(fitness)))
