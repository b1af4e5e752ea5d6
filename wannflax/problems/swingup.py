"""Cart-pole swing-up as in the WANN paper, in pure JAX.

The task of Gaier & Ha (2019, https://arxiv.org/abs/1906.04358), with the
constants and equations of the release: the pole starts hanging down and must
be swung up and balanced while the cart stays on the track. Rollouts are a
``lax.scan`` over time; no reward counts after the episode ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from wannflax.problems.rl import (
    ENVIRONMENTS,
    PolicyProblem,
    check_action_mapping,
    worst_if_invalid,
)


@struct.dataclass
class SwingUpParams:
    """Physical constants and limits (the release's values)."""

    gravity: float = 9.82
    cart_mass: float = 0.5
    pole_mass: float = 0.5
    pole_length: float = 0.6
    friction: float = 0.1
    force_scale: float = 10.0
    dt: float = 0.01
    x_threshold: float = 2.4
    max_steps: int = struct.field(pytree_node=False, default=1000)
    start_std: float = 0.2


class SwingUpState(NamedTuple):
    """x, x_dot, theta, theta_dot and the step count."""

    x: jnp.ndarray
    x_dot: jnp.ndarray
    theta: jnp.ndarray
    theta_dot: jnp.ndarray
    t: jnp.ndarray


NUM_OBSERVATIONS, NUM_ACTIONS = 5, 1


def reset(key, params: SwingUpParams = SwingUpParams()) -> SwingUpState:
    """A start drawn from N((0, 0, pi, 0), start_std^2) in each component."""
    noise = params.start_std * jax.random.normal(key, (4,))
    return SwingUpState(noise[0], noise[1], jnp.pi + noise[2], noise[3], jnp.array(0))


def observe(state: SwingUpState) -> jnp.ndarray:
    """(x, x_dot, cos theta, sin theta, theta_dot)."""
    return jnp.stack(
        [
            state.x,
            state.x_dot,
            jnp.cos(state.theta),
            jnp.sin(state.theta),
            state.theta_dot,
        ]
    )


def step(
    state: SwingUpState, action: jnp.ndarray, params: SwingUpParams = SwingUpParams()
):
    """One explicit-Euler step.

    Args:
      state: the current state.
      action: scalar in [-1, 1] (clipped here), scaled by ``force_scale``.
      params: constants.

    Returns:
      (next state, reward, done); the reward is computed on the next state.
    """
    force = params.force_scale * jnp.clip(action, -1.0, 1.0)
    sin, cos = jnp.sin(state.theta), jnp.cos(state.theta)
    m_p, length = params.pole_mass, params.pole_length
    b, g = params.friction, params.gravity
    m = params.cart_mass + m_p
    x_acc = (
        -2 * m_p * length * state.theta_dot**2 * sin
        + 3 * m_p * g * sin * cos
        + 4 * force
        - 4 * b * state.x_dot
    ) / (4 * m - 3 * m_p * cos**2)
    theta_acc = (
        -3 * m_p * length * state.theta_dot**2 * sin * cos
        + 6 * m * g * sin
        + 6 * (force - b * state.x_dot) * cos
    ) / (4 * length * m - 3 * m_p * length * cos**2)
    # Positions advance with the old velocities, velocities with accelerations
    # of the old state.
    next_state = SwingUpState(
        x=state.x + state.x_dot * params.dt,
        x_dot=state.x_dot + x_acc * params.dt,
        theta=state.theta + state.theta_dot * params.dt,
        theta_dot=state.theta_dot + theta_acc * params.dt,
        t=state.t + 1,
    )
    reward = (
        (jnp.cos(next_state.theta) + 1.0)
        / 2.0
        * jnp.cos(next_state.x / params.x_threshold * jnp.pi / 2.0)
    )
    done = (jnp.abs(next_state.x) > params.x_threshold) | (
        next_state.t >= params.max_steps
    )
    return next_state, reward, done


def episode_return(
    policy: Callable[[jnp.ndarray], jnp.ndarray],
    key,
    params: SwingUpParams = SwingUpParams(),
) -> jnp.ndarray:
    """Total reward of one episode; steps after ``done`` add nothing.

    An episode that meets a non-finite observation or reward scores -inf.

    Args:
      policy: maps an observation [5] to an action (scalar or [1]).
      key: the episode's reset key.
      params: constants.
    """

    def advance(carry, _):
        state, finished, invalid, total = carry
        observation = observe(state)
        action = jnp.reshape(policy(observation), ())
        next_state, reward, done = step(state, action, params)
        # A non-finite observation or reward (a policy that output NaN or
        # inf) ends the episode with the worst return.
        bad = ~finished & ~(jnp.all(jnp.isfinite(observation)) & jnp.isfinite(reward))
        total = total + jnp.where(finished | bad, 0.0, reward)
        return (next_state, finished | done | bad, invalid | bad, total), None

    start = (reset(key, params), jnp.array(False), jnp.array(False), jnp.array(0.0))
    (_, _, invalid, total), _ = jax.lax.scan(
        advance, start, None, length=params.max_steps
    )
    return worst_if_invalid(total, invalid)


def trajectory(
    policy: Callable[[jnp.ndarray], jnp.ndarray],
    key,
    params: SwingUpParams = SwingUpParams(),
):
    """One episode step by step, for pictures and animations.

    Args:
      policy: maps an observation [5] to an action (scalar or [1]).
      key: the episode's reset key (the same key as ``episode_return`` gives
        the same episode).
      params: constants.

    Returns:
      ``(states, rewards, alive)``: the state before each step (a
      ``SwingUpState`` of [max_steps] arrays), the reward of each step, and
      whether the step happened before the episode ended (so
      ``sum(rewards * alive)`` is the episode's return).
    """

    def advance(carry, _):
        state, finished = carry
        action = jnp.reshape(policy(observe(state)), ())
        next_state, reward, done = step(state, action, params)
        return (next_state, finished | done), (state, reward, ~finished)

    start = (reset(key, params), jnp.array(False))
    _, (states, rewards, alive) = jax.lax.scan(
        advance, start, None, length=params.max_steps
    )
    return states, rewards, alive


def evaluate_module(module, variables, keys, params: SwingUpParams = SwingUpParams()):
    """Returns [E] of a compiled network over one episode per key (vmapped)."""

    def policy(observation):
        return module.apply(variables, observation[None, :])[0]

    return jax.vmap(lambda key: episode_return(policy, key, params))(keys)


@ENVIRONMENTS.register("swingup")
class SwingUpProblem(PolicyProblem):
    """Swing-up as a search problem: fitness = mean return over episodes.

    Every genome and shared weight of a generation runs the same episode
    seeds; episodes are vmapped, time is a ``lax.scan``.

    Args:
      episodes: episodes per policy evaluation.
      params: the task's constants.
      max_steps: steps per episode (default: ``params.max_steps``, the
        paper's 1000).
      action_mapping: "auto" (= "clip": the output clipped to [-1, 1], as in
        the paper) or "tanh".
    """

    num_inputs, num_outputs = NUM_OBSERVATIONS, NUM_ACTIONS
    env_name = "swingup"
    discrete = False

    def __init__(
        self,
        episodes: int = 4,
        params: SwingUpParams = SwingUpParams(),
        max_steps: int | None = None,
        action_mapping: str = "auto",
    ):
        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}.")
        if max_steps is not None:
            if max_steps < 1:
                raise ValueError(f"max_steps must be >= 1, got {max_steps}.")
            params = params.replace(max_steps=int(max_steps))
        self.episodes = episodes
        self.params = params
        self.action_mapping = check_action_mapping(action_mapping, False, "swingup")

    def episode_return(self, act, key) -> jnp.ndarray:
        """Return of one episode of ``act`` (observation -> outputs)."""
        if self.action_mapping == "tanh":
            return episode_return(lambda obs: jnp.tanh(act(obs)), key, self.params)
        return episode_return(act, key, self.params)
