"""Stage 2 by evolution strategies: per-connection weights of a policy.

Gradient training (``wannflax.training``) needs a differentiable loss; a
policy scored by episode returns has none. ``ESTrainer`` searches the same
parameter tree (``params["conn_weights"]``) with an evosax 0.3 strategy
instead: one generation asks the strategy for candidates, scores every one
of them with ``problem.policy_fitness`` in a single ``jax.vmap`` (all on the
generation's episode seeds) and tells the strategy the scores, all in one
jitted call.

Only the active connection slots (valid and enabled) are searched. Padding
and disabled slots are masked out of the weight matrix
(``graph.weight_matrix``), so their values cannot change any output; they
keep the value ``compile`` gave them.

evosax facts this module relies on (checked in evosax 0.3.2's source):

* evosax MINIMISES: its archive and metrics use ``argmin`` of the fitness,
  and its rank-based shapings give the lowest fitness the best weight. Our
  problems return rewards (higher is better), so the strategy is told the
  negated returns. A non-finite return is told as NaN, which evosax treats
  as a failed evaluation (ranked worst, never archived).
* The strategy state is a flax dataclass of arrays (mean, std, optimizer
  state, covariance, population, ...); none of the registered strategies
  keeps a PRNG key in it. Keys of custom strategies would be stored as raw
  key data all the same (see ``_flatten_state``).
* Distribution-based strategies are initialised from a mean
  (``init(key, mean, params)``), population-based ones from an evaluated
  population (``init(key, population, fitness, params)``).
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging
from evosax import algorithms as es_algorithms
from evosax.algorithms.distribution_based.base import DistributionBasedAlgorithm
from evosax.algorithms.population_based.base import PopulationBasedAlgorithm
from evosax.core.optimizer import clipup
from flax import struct
from jax.sharding import Mesh

from wannflax import sharding
from wannflax.checkpoint import leaf_name
from wannflax.genome import Genome
from wannflax.module import WANN, compile
from wannflax.optimizers import OPTIMIZERS, make_optimizer
from wannflax.registry import Registry
from wannflax.training import TUNING_GRID, Stage2Trainer, check_fits

STRATEGIES: Registry = Registry("strategy")
STRATEGIES.add("OpenES", es_algorithms.Open_ES)
STRATEGIES.add("CMA_ES", es_algorithms.CMA_ES)
STRATEGIES.add("SNES", es_algorithms.SNES)
STRATEGIES.add("PGPE", es_algorithms.PGPE)
STRATEGIES.add("SimpleGA", es_algorithms.SimpleGA)
STRATEGIES.add("xNES", es_algorithms.xNES)
STRATEGIES.add("Sep_CMA_ES", es_algorithms.Sep_CMA_ES)

# Strategies that sample antithetic pairs and assert an even population.
EVEN_POPULATION = (es_algorithms.Open_ES, es_algorithms.PGPE)

# The mean-update optimizer of strategies that take one, when the config
# names none: (optimizer name, learning rate). SNES's default is the natural
# gradient step, sgd with rate 1; OpenES uses Adam as in Salimans et al.;
# PGPE uses ClipUp (max velocity twice the rate, evosax's own ratio).
OPTIMIZER_DEFAULTS = {
    es_algorithms.Open_ES: ("adam", 0.05),
    es_algorithms.PGPE: ("clipup", 0.05),
    es_algorithms.SNES: ("sgd", 1.0),
    es_algorithms.xNES: ("sgd", 1.0),
}


@dataclasses.dataclass
class ESTrainerConfig:
    """Settings of evolution-strategy weight training.

    Attributes:
      strategy: a registered strategy name (``STRATEGIES.names()``).
      population_size: candidates per generation (even for OpenES and PGPE,
        which sample antithetic pairs).
      sigma: initial search scale around the starting weights. Per strategy:
        OpenES and SimpleGA: the constant ``std_schedule`` (OpenES's fixed
        sampling std; SimpleGA's mutation std); CMA_ES, Sep_CMA_ES, SNES,
        xNES, PGPE: ``params.std_init``, which the strategy then adapts.
        Strategies with neither ignore it.
      optimizer: mean-update optimizer of the strategies that take one
        (OpenES, PGPE, SNES, xNES): a registered optimizer name or
        ``"clipup"``; None uses ``OPTIMIZER_DEFAULTS``.
      learning_rate: that optimizer's step size; None uses
        ``OPTIMIZER_DEFAULTS``. Ignored by strategies without an optimizer.
      shared_weight: starting weight of every connection; None tunes it on
        the problem over ``tuning_grid``.
      tuning_grid: candidate shared weights for tuning.
      seed: PRNG seed of tuning, initialisation and every generation.
      strategy_kwargs: further constructor arguments of the evosax class
        (override the ones derived above, e.g. an optax ``optimizer``).
      strategy_params: fields of the strategy's ``default_params`` to
        replace, e.g. ``{"crossover_rate": 0.5}`` for SimpleGA.
    """

    strategy: str = "OpenES"
    population_size: int = 64
    sigma: float = 0.1
    optimizer: str | None = None
    learning_rate: float | None = None
    shared_weight: float | None = None
    tuning_grid: Sequence[float] = TUNING_GRID
    seed: int = 0
    strategy_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    strategy_params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        """Raises naming the first bad field."""
        cls = STRATEGIES.get(self.strategy)
        size = self.population_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
            raise ValueError(
                f"ESTrainerConfig.population_size must be an integer, got {size!r}."
            )
        if size < 2:
            raise ValueError(
                f"ESTrainerConfig.population_size must be >= 2, got {size}."
            )
        if issubclass(cls, EVEN_POPULATION) and size % 2:
            raise ValueError(
                f"ESTrainerConfig.population_size must be even for {self.strategy} "
                f"(antithetic sampling), got {size}."
            )
        if not _positive_finite(self.sigma):
            raise ValueError(
                f"ESTrainerConfig.sigma must be positive and finite, got {self.sigma}."
            )
        if self.learning_rate is not None and not _positive_finite(self.learning_rate):
            raise ValueError(
                "ESTrainerConfig.learning_rate must be positive and finite, got "
                f"{self.learning_rate}."
            )
        if self.optimizer is not None and self.optimizer != "clipup":
            OPTIMIZERS.get(self.optimizer)
        if self.shared_weight is not None and not _finite(self.shared_weight):
            raise ValueError(
                f"ESTrainerConfig.shared_weight must be finite, got {self.shared_weight}."
            )
        try:
            grid = np.asarray(self.tuning_grid, np.float64)
        except (TypeError, ValueError):
            grid = np.array([np.nan])
        if grid.ndim != 1 or not np.all(np.isfinite(grid)):
            raise ValueError(
                "ESTrainerConfig.tuning_grid must be a sequence of finite numbers, got "
                f"{self.tuning_grid!r}."
            )
        if self.shared_weight is None and grid.size == 0:
            raise ValueError(
                "ESTrainerConfig.tuning_grid is empty and no shared_weight given."
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(
                f"ESTrainerConfig.seed must be an integer, got {self.seed!r}."
            )
        for name in ("strategy_kwargs", "strategy_params"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(
                    f"ESTrainerConfig.{name} must be a dict, got "
                    f"{type(getattr(self, name)).__name__}."
                )


def _finite(value) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _positive_finite(value) -> bool:
    return _finite(value) and float(value) > 0


@struct.dataclass
class ESTrainState:
    """Everything a generation reads and writes; arrays only.

    Attributes:
      strategy_state: the evosax state, flattened to ``{"NNN_path": array}``
        (PRNG keys as raw key data).
      best_params: f32[max_conns], the candidate with the best raw return
        seen so far (the starting weights before the first generation).
      best_return: its raw return (-inf before the first generation).
      generation: generations done.
      key: raw uint32 key data of the next generation.
    """

    strategy_state: dict[str, jnp.ndarray]
    best_params: jnp.ndarray
    best_return: jnp.ndarray
    generation: jnp.ndarray
    key: jnp.ndarray


def _path_name(path) -> str:
    return leaf_name(path, "_") or "leaf"


def _is_typed_key(leaf) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(
        leaf.dtype, jax.dtypes.prng_key
    )


class ESTrainer(Stage2Trainer):
    """Trains the individual connection weights of one genome by an ES.

    Example:
      problem = SwingUpProblem(episodes=4)
      trainer = ESTrainer(genome, problem, ESTrainerConfig(strategy="CMA_ES"))
      trainer.fit(generations=100)
      action = trainer.get_network()(observation)
    """

    def __init__(
        self,
        genome: Genome,
        problem: Any,
        config: ESTrainerConfig | None = None,
        module_class: type = WANN,
        mesh: Mesh | None = None,
    ):
        self.config = config or ESTrainerConfig()
        self.config.validate()
        check_fits(genome, problem)
        self.mesh = mesh
        if mesh is not None:
            sharding.check_divisible(
                int(self.config.population_size),
                sharding.population_shards(mesh),
                "ESTrainerConfig.population_size",
            )
        self.genome = jax.device_get(genome)
        self.problem = problem
        active = np.asarray(self.genome.conn_valid) & np.asarray(
            self.genome.conn_enabled
        )
        # The searched slots: only these connections reach the weight matrix.
        self.slots = jnp.asarray(np.flatnonzero(active), jnp.int32)
        self.num_dims = int(self.slots.size)
        if self.num_dims == 0:
            raise ValueError(
                "The genome has no enabled connection: there are no weights to train."
            )
        self.module, variables = compile(self.genome, 1.0, module_class)
        self.genome_variables = variables["genome"]
        self._valid = jnp.asarray(self.genome.conn_valid)

        root = jax.random.PRNGKey(self.config.seed)
        self.tuning_key, init_key, run_key = jax.random.split(root, 3)
        if self.config.shared_weight is None:
            self.shared_weight, _ = self.tune_shared_weight(self.config.tuning_grid)
        else:
            self.shared_weight = float(self.config.shared_weight)
        # Exactly compile(genome, shared_weight)'s parameters.
        self.initial_params = compile(self.genome, self.shared_weight, module_class)[1][
            "params"
        ]
        self._base = self.initial_params["conn_weights"]
        mean = self._base[self.slots]

        self.strategy_class = STRATEGIES.get(self.config.strategy)
        self.strategy = self.strategy_class(
            population_size=int(self.config.population_size),
            solution=mean,
            **self._strategy_kwargs(),
        )
        self.strategy_params = self._strategy_params()
        if isinstance(self.strategy, PopulationBasedAlgorithm):
            # Every member starts as the starting weights, scored (negated,
            # as evosax minimises) on the tuning episodes.
            self.initial_return = float(
                jax.jit(self.fitness)(self.initial_params, self.tuning_key)
            )
            population = jnp.tile(mean, (self.strategy.population_size, 1))
            fitness = jnp.full(
                (self.strategy.population_size,), -self.initial_return, jnp.float32
            )
            strategy_state = self.strategy.init(
                init_key, population, fitness, self.strategy_params
            )
        else:
            strategy_state = self.strategy.init(init_key, mean, self.strategy_params)
        flat, self._state_treedef = jax.tree_util.tree_flatten_with_path(strategy_state)
        self._state_names = [
            f"{i:03d}_{_path_name(path)}" for i, (path, _) in enumerate(flat)
        ]
        self._key_impls = [
            jax.random.key_impl(leaf) if _is_typed_key(leaf) else None
            for _, leaf in flat
        ]
        state = ESTrainState(
            strategy_state=self._flatten_state(strategy_state),
            best_params=self._base,
            best_return=jnp.array(-jnp.inf, jnp.float32),
            generation=jnp.array(0, jnp.int32),
            key=run_key,
        )
        # Host round trip: plain (not weakly typed) arrays, exactly as a
        # restored checkpoint has them, so both run the same program.
        self.state = jax.device_put(jax.device_get(state), self._placement())
        self.history: list[dict[str, float]] = []
        self._generation = jax.jit(self._run_generation)
        self._network = jax.jit(self._apply)

    # -- strategy construction -------------------------------------------------

    def _strategy_kwargs(self) -> dict[str, Any]:
        config, cls = self.config, self.strategy_class
        accepted = inspect.signature(cls.__init__).parameters
        kwargs: dict[str, Any] = {}
        if "std_schedule" in accepted:
            kwargs["std_schedule"] = optax.constant_schedule(float(config.sigma))
        if "optimizer" in accepted:
            default_name, default_rate = OPTIMIZER_DEFAULTS.get(cls, ("adam", 0.05))
            if (
                cls in OPTIMIZER_DEFAULTS
                or config.optimizer is not None
                or config.learning_rate is not None
            ):
                name = config.optimizer or default_name
                rate = float(config.learning_rate or default_rate)
                if name == "clipup":
                    kwargs["optimizer"] = clipup(rate, max_velocity=2 * rate)
                else:
                    kwargs["optimizer"] = make_optimizer(name, rate)
        kwargs.update(config.strategy_kwargs)
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise ValueError(
                f"ESTrainerConfig.strategy_kwargs: {self.config.strategy} does not take "
                f"{', '.join(unknown)}; it takes "
                f"{', '.join(p for p in accepted if p not in ('self', 'population_size', 'solution'))}."
            )
        return kwargs

    def _strategy_params(self):
        params = self.strategy.default_params
        fields = {f.name for f in dataclasses.fields(params)}
        replace = {}
        if "std_init" in fields:
            replace["std_init"] = jnp.asarray(float(self.config.sigma), jnp.float32)
        unknown = sorted(set(self.config.strategy_params) - fields)
        if unknown:
            raise ValueError(
                f"ESTrainerConfig.strategy_params: {self.config.strategy} has no "
                f"parameter {', '.join(unknown)}; its parameters are "
                f"{', '.join(sorted(fields))}."
            )
        replace.update(self.config.strategy_params)
        return params.replace(**replace)

    def _flatten_state(self, strategy_state) -> dict[str, jnp.ndarray]:
        """evosax state -> {name: array}; typed keys become raw key data."""
        leaves = jax.tree_util.tree_leaves(strategy_state)
        return {
            name: jax.random.key_data(leaf) if impl is not None else leaf
            for name, leaf, impl in zip(
                self._state_names, leaves, self._key_impls, strict=True
            )
        }

    def _unflatten_state(self, flat: dict[str, jnp.ndarray]):
        leaves = [
            jax.random.wrap_key_data(flat[name], impl=impl)
            if impl is not None
            else flat[name]
            for name, impl in zip(self._state_names, self._key_impls, strict=True)
        ]
        return jax.tree_util.tree_unflatten(self._state_treedef, leaves)

    # -- evaluation --------------------------------------------------------------

    def conn_weights(self, candidate: jnp.ndarray) -> jnp.ndarray:
        """A searched vector [num_dims] -> the full f32[max_conns] weights."""
        return self._base.at[self.slots].set(candidate.astype(jnp.float32))

    def fitness(self, params: Any, key) -> jnp.ndarray:
        """Raw mean return of ``{"conn_weights": ...}`` on ``key``'s episodes."""

        def act(observation):
            return self._apply(params, observation[None, :])[0]

        return self.problem.policy_fitness(act, key)

    def population_returns(self, candidates: jnp.ndarray, key) -> jnp.ndarray:
        """Raw returns [P] of searched vectors [P, num_dims], all on ``key``.

        Under a mesh each device plays its slice of the candidates; the
        returns come back whole to every device.
        """
        if self.mesh is not None:
            candidates = jax.lax.with_sharding_constraint(
                candidates, sharding.population_sharding(self.mesh)
            )
        returns = jax.vmap(
            lambda c: self.fitness({"conn_weights": self.conn_weights(c)}, key)
        )(candidates)
        if self.mesh is not None:
            returns = jax.lax.with_sharding_constraint(
                returns, sharding.replicated(self.mesh)
            )
        return returns

    def tune_shared_weight(self, grid: Sequence[float]) -> tuple[float, float]:
        """The grid weight whose network has the best return on the tuning key.

        Every valid connection carries the weight (as ``compile`` sets it);
        all weights run the same episodes. Ties go to the earlier grid entry.

        Returns:
          (weight, return) as Python floats.
        """
        grid = jnp.asarray(grid, jnp.float32)

        def score(weight):
            weights = jnp.where(self._valid, weight, 0.0)
            return self.fitness({"conn_weights": weights}, self.tuning_key)

        returns = np.asarray(jax.jit(jax.vmap(score))(grid))
        safe = np.where(np.isfinite(returns), returns, -np.inf)
        best = int(np.argmax(safe))
        return float(grid[best]), float(returns[best])

    # -- one generation ------------------------------------------------------------

    def _run_generation(self, state: ESTrainState):
        key, ask_key, eval_key, tell_key = jax.random.split(state.key, 4)
        strategy_state = self._unflatten_state(state.strategy_state)
        population, strategy_state = self.strategy.ask(
            ask_key, strategy_state, self.strategy_params
        )
        if self.mesh is not None:
            # Only the episodes are split over devices; ask and tell see whole
            # arrays, so their sums run in one-device order (exact equality
            # with an unsharded run).
            population = jax.lax.with_sharding_constraint(
                population, sharding.replicated(self.mesh)
            )
        returns = self.population_returns(population, eval_key)
        finite = jnp.isfinite(returns)
        # evosax minimises: tell it the negated returns; failures as NaN.
        fitness = jnp.where(finite, -returns, jnp.nan)
        strategy_state, _ = self.strategy.tell(
            tell_key, population, fitness, strategy_state, self.strategy_params
        )
        # The raw best of this generation, before any fitness shaping.
        ranked = jnp.where(finite, returns, -jnp.inf)
        best = jnp.argmax(ranked)
        generation_best = ranked[best]
        improved = generation_best > state.best_return
        new_state = ESTrainState(
            strategy_state=self._flatten_state(strategy_state),
            best_params=jnp.where(
                improved, self.conn_weights(population[best]), state.best_params
            ),
            best_return=jnp.where(improved, generation_best, state.best_return),
            generation=state.generation + 1,
            key=key,
        )
        nonfinite = jnp.sum(~finite)
        mean = jnp.sum(jnp.where(finite, returns, 0.0)) / jnp.maximum(
            jnp.sum(finite), 1
        )
        return new_state, generation_best, mean, nonfinite

    def fit(
        self,
        generations: int,
        callback: Callable[[dict[str, float]], None] | None = None,
        log_every: int = 10,
        checkpointer: Any = None,
        checkpoint_every: int = 0,
    ) -> ESTrainer:
        """Runs ``generations`` generations from the current state.

        Args:
          generations: number of generations to run.
          callback: called with each generation's metrics: ``generation``,
            ``best_return`` and ``mean_return`` (raw returns of this
            generation; the mean over finite ones), ``best_ever_return`` and
            ``nonfinite`` (candidates whose return was NaN or infinite).
          log_every: absl-log every n-th generation (0: never).
          checkpointer: a ``wannflax.checkpoint.Checkpointer``; the state and
            history are saved every ``checkpoint_every`` generations and
            after the last one.
          checkpoint_every: generations between checkpoints (0: only at the end).

        Returns:
          self, for chaining.
        """
        if generations < 0:
            raise ValueError(f"generations must be non-negative, got {generations}.")
        for index in range(generations):
            start = time.perf_counter()
            self.state, best, mean, nonfinite = self._generation(self.state)
            metrics = {
                "generation": len(self.history),
                "best_return": float(best),
                "mean_return": float(mean),
                "best_ever_return": float(self.state.best_return),
                "nonfinite": int(nonfinite),
            }
            if metrics["nonfinite"]:
                logging.warning(
                    "ES generation %d: %d candidates had a non-finite return "
                    "(scored as the worst).",
                    metrics["generation"],
                    metrics["nonfinite"],
                )
            self.history.append(metrics)
            if callback is not None:
                callback(metrics)
            done = len(self.history)
            if checkpointer is not None and (
                (checkpoint_every and done % checkpoint_every == 0)
                or index == generations - 1
            ):
                checkpointer.save(done, self.state, self.history)
            if log_every and (index % log_every == 0 or index == generations - 1):
                logging.info(
                    "generation %d: best %.4f, mean %.4f, best ever %.4f (%.3f s)",
                    metrics["generation"],
                    metrics["best_return"],
                    metrics["mean_return"],
                    metrics["best_ever_return"],
                    time.perf_counter() - start,
                )
        return self

    # -- results -------------------------------------------------------------------

    def trained_params(self) -> Any:
        """``{"conn_weights": f32[max_conns]}`` of the best candidate ever seen."""
        return {"conn_weights": self.state.best_params}

    def get_mean_weights(self) -> Any:
        """``{"conn_weights": ...}`` of the search distribution's mean.

        Raises:
          ValueError: the strategy keeps a population, not a distribution.
        """
        if not isinstance(self.strategy, DistributionBasedAlgorithm):
            raise ValueError(
                f"Strategy {self.config.strategy} keeps a population, not a "
                "distribution mean; use get_weights()."
            )
        strategy_state = self._unflatten_state(self.state.strategy_state)
        mean = self.strategy.get_mean(strategy_state)
        return jax.device_get({"conn_weights": self.conn_weights(mean)})
