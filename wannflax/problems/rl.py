"""Reinforcement-learning problems: policies scored by their mean return.

A problem provides ``policy_fitness(act, key)``: the mean return of one
policy over a fixed number of episodes whose seeds come from ``key``. The
search then scores a whole population under every shared weight with the
same seeds (``population_fitness``), vmapped over genomes and weights.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from wannflax.registry import Registry

ENVIRONMENTS: Registry = Registry("environment")

# How network outputs become actions, per kind of action space. "auto" takes
# the first: argmax over one output per action for discrete spaces, outputs
# clipped to the bounds for continuous ones.
ACTION_MAPPINGS = {
    "discrete": ("argmax", "sample"),
    "continuous": ("clip", "tanh"),
}


def check_action_mapping(mapping: str, discrete: bool, env_name: str) -> str:
    """The mapping to use ("auto" resolved); refuses one the space cannot take."""
    kind = "discrete" if discrete else "continuous"
    choices = ACTION_MAPPINGS[kind]
    if mapping == "auto":
        return choices[0]
    if mapping not in choices:
        raise ValueError(
            f"action_mapping {mapping!r} does not fit {env_name}'s {kind} action "
            f"space; the choices are: auto, {', '.join(choices)}."
        )
    return mapping


def map_action(outputs, mapping: str, key, low=None, high=None, shape=None):
    """Network outputs -> an action.

    Args:
      outputs: [num_outputs] network outputs.
      mapping: "argmax" (the index of the largest output), "sample" (an index
        drawn from the softmax of the outputs with ``key``), "clip" (outputs
        clipped to [low, high]) or "tanh" (tanh of the outputs stretched onto
        [low, high]).
      key: a PRNG key, used by "sample" only.
      low, high: bounds of a continuous space (broadcastable to ``shape``).
      shape: the continuous action's shape.
    """
    if mapping == "argmax":
        return jnp.argmax(outputs)
    if mapping == "sample":
        return jax.random.categorical(key, outputs)
    action = outputs.reshape(shape)
    if mapping == "clip":
        return jnp.clip(action, low, high)
    return low + (jnp.tanh(action) + 1.0) * 0.5 * (high - low)


def worst_if_invalid(total: jnp.ndarray, invalid: jnp.ndarray) -> jnp.ndarray:
    """An episode that met a non-finite observation or reward scores -inf.

    -inf is the worst return: the search counts and logs it as a non-finite
    evaluation, and it can never make a champion.
    """
    return jnp.where(invalid, -jnp.inf, total)


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
    continuous ones clip the outputs to the space's bounds (see
    ``action_mapping``). An episode whose observation or reward turns
    non-finite ends there with the worst return (-inf).

    Args:
      env_name: a gymnax environment id, e.g. "CartPole-v1".
      episodes: episodes per policy evaluation.
      max_steps: episode cap (default: the environment's own).
      action_mapping: "auto", or one of ``ACTION_MAPPINGS`` for the space.
    """

    def __init__(
        self,
        env_name: str,
        episodes: int = 4,
        max_steps: int | None = None,
        action_mapping: str = "auto",
    ):
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
        self.action_mapping = check_action_mapping(
            action_mapping, self.discrete, env_name
        )

    def to_action(self, outputs: jnp.ndarray, key=None) -> jnp.ndarray:
        """Network outputs -> an action of the environment's space."""
        if self.discrete:
            return map_action(outputs, self.action_mapping, key)
        return map_action(
            outputs,
            self.action_mapping,
            key,
            self.action_low,
            self.action_high,
            self.action_shape,
        )

    def episode_return(self, act: Callable, key) -> jnp.ndarray:
        """Return of one episode; nothing counts after the first ``done``."""
        reset_key, step_key = jax.random.split(key)
        observation, state = self.env.reset(reset_key, self.env_params)

        def advance(carry, step_key):
            observation, state, finished, invalid, total = carry
            # The environment keeps the step key; "sample" draws from a key
            # folded off it, so argmax policies see the same episodes as before.
            action_key = jax.random.fold_in(step_key, 1)
            observation = jnp.ravel(observation).astype(jnp.float32)
            bad_observation = ~jnp.all(jnp.isfinite(observation))
            action = self.to_action(act(observation), action_key)
            # gymnax 1.x: (obs, state, reward, terminated, truncated, info).
            observation, state, reward, terminated, truncated, _ = self.env.step(
                step_key, state, action, self.env_params
            )
            bad = ~finished & (bad_observation | ~jnp.isfinite(reward))
            total = total + jnp.where(finished | bad, 0.0, reward)
            done = terminated | truncated | bad
            return (observation, state, finished | done, invalid | bad, total), None

        start = (observation, state, jnp.array(False), jnp.array(False), jnp.array(0.0))
        keys = jax.random.split(step_key, self.max_steps)
        (_, _, _, invalid, total), _ = jax.lax.scan(advance, start, keys)
        return worst_if_invalid(total, invalid)


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


def _environment_factory(name: str) -> Callable[..., PolicyProblem]:
    if name in ENVIRONMENTS:
        return ENVIRONMENTS.get(name)
    return functools.partial(GymnaxProblem, name)


def _takes_option(factory: Callable, option: str) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return True  # A constructor that cannot be inspected decides itself.
    return any(
        parameter.name == option or parameter.kind is inspect.Parameter.VAR_KEYWORD
        for parameter in parameters
    )


def check_environment_options(name: str, options: Iterable[str]) -> None:
    """Refuses settings the environment's constructor does not take.

    Args:
      name: a known environment name (see ``check_environment_name``).
      options: names of the settings meant for its constructor, e.g.
        ``("max_steps", "backend")``.

    Raises:
      ValueError: naming the first setting ``name`` does not take, and the
        environments that do take it.
    """
    factory = _environment_factory(name)
    for option in options:
        if _takes_option(factory, option):
            continue
        takers = [
            other
            for other in ENVIRONMENTS.names()
            if _takes_option(ENVIRONMENTS.get(other), option)
        ]
        if _takes_option(GymnaxProblem, option):
            takers.append("any gymnax environment")
        raise ValueError(
            f"The setting {option!r} does not apply to the environment {name!r}; "
            + (
                f"only these take it: {', '.join(takers)}."
                if takers
                else "no environment takes it."
            )
        )


def make_environment(name: str, **kwargs: Any) -> PolicyProblem:
    """An RL problem by name: "swingup", "brax/<env>" or a gymnax environment id.

    Keyword arguments go to the problem's constructor (``episodes``,
    ``max_steps``, ``action_mapping``; ``backend`` for brax).

    Raises:
      ValueError: an unknown name, or a keyword argument the environment
        does not take (naming it and the environments that take it).
    """
    check_environment_name(name)
    check_environment_options(name, kwargs)
    if name in ENVIRONMENTS:
        return ENVIRONMENTS.get(name)(**kwargs)
    return GymnaxProblem(name, **kwargs)
