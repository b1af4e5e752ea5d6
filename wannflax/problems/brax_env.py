"""brax environments as search problems, named "brax/<environment>".

brax (https://github.com/google/brax) simulates rigid bodies in JAX, so a
whole population's episodes run inside one jitted program like the gymnax
ones. Episodes are a ``lax.scan`` of ``max_steps`` steps; nothing counts after
the first ``done``, and an episode whose observation or reward turns
non-finite ends with the worst return (-inf).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from wannflax.problems.rl import (
    ENVIRONMENTS,
    PolicyProblem,
    check_action_mapping,
    map_action,
    worst_if_invalid,
)

# The environments brax 0.14 registers ("fast" is brax's own test stub and is
# left out). Listed here so names can be checked without importing brax.
BRAX_ENVIRONMENTS = (
    "ant",
    "halfcheetah",
    "hopper",
    "humanoid",
    "humanoidstandup",
    "inverted_pendulum",
    "inverted_double_pendulum",
    "pusher",
    "reacher",
    "swimmer",
    "walker2d",
)
BACKENDS = ("generalized", "positional", "spring", "mjx")


class BraxProblem(PolicyProblem):
    """A brax environment; outputs are clipped to the actuators' control range.

    Args:
      env_name: a brax environment name, e.g. "inverted_pendulum".
      episodes: episodes per policy evaluation.
      max_steps: steps per episode (brax's training default is 1000; raw brax
        environments never truncate by themselves).
      backend: the physics pipeline: generalized, positional, spring or mjx.
      action_mapping: "auto" (= "clip") or "tanh" (tanh stretched onto the
        control range).
    """

    def __init__(
        self,
        env_name: str,
        episodes: int = 4,
        max_steps: int = 1000,
        backend: str = "generalized",
        action_mapping: str = "auto",
    ):
        if env_name not in BRAX_ENVIRONMENTS:
            raise ValueError(
                f"Unknown brax environment {env_name!r}; the choices are: "
                f"{', '.join(BRAX_ENVIRONMENTS)}."
            )
        if backend not in BACKENDS:
            raise ValueError(
                f"Unknown brax backend {backend!r}; the choices are: "
                f"{', '.join(BACKENDS)}."
            )
        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}.")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}.")
        try:
            from brax import envs  # Imported here: brax is the optional `rl` extra.
        except ImportError:
            raise ImportError(
                f"brax/{env_name} needs brax: pip install 'wannflax[rl]'."
            ) from None

        self.env_name = f"brax/{env_name}"
        self.episodes, self.max_steps, self.backend = episodes, max_steps, backend
        self.env = envs.get_environment(env_name, backend=backend)
        self.num_inputs = int(self.env.observation_size)
        self.num_outputs = int(self.env.action_size)
        self.discrete = False
        self.action_shape = (self.num_outputs,)
        control_range = jnp.asarray(self.env.sys.actuator.ctrl_range, jnp.float32)
        self.action_low, self.action_high = control_range[:, 0], control_range[:, 1]
        self.action_mapping = check_action_mapping(action_mapping, False, self.env_name)

    def to_action(self, outputs: jnp.ndarray, key=None) -> jnp.ndarray:
        """Network outputs -> actuator controls."""
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

        def advance(carry, _):
            state, finished, invalid, total = carry
            observation = state.obs.astype(jnp.float32)
            action = self.to_action(act(observation))
            state = self.env.step(state, action)
            bad = ~finished & ~(
                jnp.all(jnp.isfinite(observation)) & jnp.isfinite(state.reward)
            )
            total = total + jnp.where(finished | bad, 0.0, state.reward)
            done = (state.done > 0) | bad
            return (state, finished | done, invalid | bad, total), None

        start = (
            self.env.reset(key),
            jnp.array(False),
            jnp.array(False),
            jnp.array(0.0),
        )
        (_, _, invalid, total), _ = jax.lax.scan(
            advance, start, None, length=self.max_steps
        )
        return worst_if_invalid(total, invalid)


for _name in BRAX_ENVIRONMENTS:
    ENVIRONMENTS.add(f"brax/{_name}", functools.partial(BraxProblem, _name))
