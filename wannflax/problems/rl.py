"""Reinforcement-learning problems: policies scored by their mean return.

A problem provides ``policy_fitness(act, key)``: the mean return of one
policy over a fixed number of episodes whose seeds come from ``key``. The
search then scores a whole population under every shared weight with the
same seeds (``population_fitness``), vmapped over genomes and weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from wannflax.registry import Registry

ENVIRONMENTS: Registry = Registry("environment")


class PolicyProblem:
    """Base class: ``population_fitness`` from a subclass's ``policy_fitness``."""

    num_inputs: int
    num_outputs: int

    episodes: int

    def episode_return(self, act: Callable, key) -> jnp.ndarray:
        """Return of one episode of ``act`` (observation -> outputs)."""
        raise NotImplementedError(f"{type(self).__name__} must define episode_return.")

    def episode_returns(self, act: Callable, keys) -> jnp.ndarray:
        """Returns [E] of one policy, one episode per key (vmapped)."""
        return jax.vmap(lambda k: self.episode_return(act, k))(keys)

    def policy_fitness(self, act: Callable, key) -> jnp.ndarray:
        """Mean return over ``episodes`` episodes whose seeds come from ``key``.

        Equal keys mean equal episodes for every policy.
        """
        return self.episode_returns(act, jax.random.split(key, self.episodes)).mean()

    def population_fitness(self, policy, population, shared_weights, key):
        """Mean return [P, K] of each genome under each shared weight.

        Args:
          policy: ``policy(genome, shared_weight, observations) -> outputs``.
          population: genomes with a leading axis.
          shared_weights: [K].
          key: this generation's key; its episode seeds are shared by all.
        """

        def fitness(genome, weight):
            return self.policy_fitness(
                lambda observation: policy(genome, weight, observation[None, :])[0], key
            )

        per_weight = jax.vmap(fitness, in_axes=(None, 0))
        return jax.vmap(per_weight, in_axes=(0, None))(population, shared_weights)


class GymnaxProblem(PolicyProblem):
    """Any gymnax environment; observations are flattened.

    Discrete action spaces take the argmax of the outputs (one per action);
    continuous ones clip the outputs to the space's bounds.

    Args:
      env_name: a gymnax environment id, e.g. "CartPole-v1".
      episodes: episodes per policy evaluation.
      max_steps: episode cap (default: the environment's own).
    """

    def __init__(self, env_name: str, episodes: int = 4, max_steps: int | None = None):
        import gymnax  # Imported here: gymnax is the optional `rl` extra.

        if env_name not in gymnax.registered_envs:
            raise ValueError(
                f"Unknown gymnax environment {env_name!r}; the registered ones are: "
                f"{', '.join(gymnax.registered_envs)}."
            )
        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}.")
        self.env_name, self.episodes = env_name, episodes
        self.env, self.env_params = gymnax.make(env_name)
        self.max_steps = int(max_steps or self.env_params.max_steps_in_episode)
        observation_shape = self.env.observation_space(self.env_params).shape
        self.num_inputs = int(np.prod(observation_shape))
        space = self.env.action_space(self.env_params)
        self.discrete = hasattr(space, "n")
        if self.discrete:
            self.num_outputs = int(space.n)
        else:
            self.num_outputs = int(np.prod(space.shape))
            self.action_shape = space.shape
            self.action_low, self.action_high = space.low, space.high

    def to_action(self, outputs: jnp.ndarray) -> jnp.ndarray:
        """Network outputs -> an action of the environment's space."""
        if self.discrete:
            return jnp.argmax(outputs)
        action = outputs.reshape(self.action_shape)
        return jnp.clip(action, self.action_low, self.action_high)

    def episode_return(self, act: Callable, key) -> jnp.ndarray:
        """Return of one episode; nothing counts after the first ``done``."""
        reset_key, step_key = jax.random.split(key)
        observation, state = self.env.reset(reset_key, self.env_params)

        def advance(carry, step_key):
            observation, state, finished, total = carry
            action = self.to_action(act(jnp.ravel(observation).astype(jnp.float32)))
            # gymnax 1.x: (obs, state, reward, terminated, truncated, info).
            observation, state, reward, terminated, truncated, _ = self.env.step(
                step_key, state, action, self.env_params
            )
            done = terminated | truncated
            total = total + jnp.where(finished, 0.0, reward)
            return (observation, state, finished | done, total), None

        start = (observation, state, jnp.array(False), jnp.array(0.0))
        keys = jax.random.split(step_key, self.max_steps)
        (_, _, _, total), _ = jax.lax.scan(advance, start, keys)
        return total


def check_environment_name(name: str) -> None:
    """Raises ValueError listing the choices unless ``name`` is known."""
    if name in ENVIRONMENTS:
        return
    try:
        import gymnax
    except ImportError:
        raise ValueError(
            f"Unknown environment {name!r}: registered are {', '.join(ENVIRONMENTS.names())}; "
            "gymnax environments need the rl extra (pip install 'wannflax[rl]')."
        ) from None
    if name not in gymnax.registered_envs:
        raise ValueError(
            f"Unknown environment {name!r}; the choices are: "
            f"{', '.join(ENVIRONMENTS.names() + list(gymnax.registered_envs))}."
        )


def make_environment(name: str, **kwargs: Any) -> PolicyProblem:
    """An RL problem by name: "swingup" or any gymnax environment id."""
    check_environment_name(name)
    if name in ENVIRONMENTS:
        return ENVIRONMENTS.get(name)(**kwargs)
    return GymnaxProblem(name, **kwargs)
