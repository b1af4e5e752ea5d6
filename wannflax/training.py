"""Stage 2: training a found topology's individual connection weights.

The champion is compiled once; its per-connection weights (the ``params``
collection of the module) start at the tuned shared weight and are trained by
any registered optax optimizer on mini-batches, one jitted scan per epoch.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging
from flax import struct

from wannflax.genome import Genome
from wannflax.module import WANN, compile
from wannflax.optimizers import OPTIMIZERS, make_optimizer

# A fine grid for tuning the single shared weight (zero excluded: it silences
# every connection).
TUNING_GRID = tuple(
    float(w) for w in np.round(np.arange(-2.5, 2.5001, 0.1), 2) if w != 0
)


@dataclasses.dataclass
class WeightTrainerConfig:
    """Settings of weight training.

    Attributes:
      optimizer: a registered optimizer name (sgd, adam, adamw, ...).
      learning_rate: step size.
      weight_decay: decoupled weight decay.
      batch_size: samples per update (capped at the training set size).
      shared_weight: starting weight of every connection; None tunes it on
        the training set over ``tuning_grid``.
      tuning_grid: candidate shared weights for tuning.
      seed: PRNG seed for batch order.
      optimizer_kwargs: further optax constructor arguments.
    """

    optimizer: str = "adamw"
    learning_rate: float = 0.01
    weight_decay: float = 0.0
    batch_size: int = 64
    shared_weight: float | None = None
    tuning_grid: Sequence[float] = TUNING_GRID
    seed: int = 0
    optimizer_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        """Raises naming the first bad field."""
        OPTIMIZERS.get(self.optimizer)
        if self.batch_size < 1:
            raise ValueError(
                f"WeightTrainerConfig.batch_size must be >= 1, got {self.batch_size}."
            )
        if not (self.learning_rate > 0 and np.isfinite(self.learning_rate)):
            raise ValueError(
                "WeightTrainerConfig.learning_rate must be positive and finite, got "
                f"{self.learning_rate}."
            )
        if not (self.weight_decay >= 0 and np.isfinite(self.weight_decay)):
            raise ValueError(
                "WeightTrainerConfig.weight_decay must be non-negative and finite, got "
                f"{self.weight_decay}."
            )
        if self.shared_weight is not None and not np.isfinite(self.shared_weight):
            raise ValueError(
                f"WeightTrainerConfig.shared_weight must be finite, got {self.shared_weight}."
            )
        if not np.all(np.isfinite(np.asarray(self.tuning_grid, np.float64))):
            raise ValueError(
                "WeightTrainerConfig.tuning_grid must hold finite numbers, got "
                f"{list(self.tuning_grid)}."
            )
        if self.shared_weight is None and len(self.tuning_grid) == 0:
            raise ValueError(
                "WeightTrainerConfig.tuning_grid is empty and no shared_weight given."
            )


@struct.dataclass
class TrainState:
    """Trainable parameters, optimizer state, update count and PRNG key data."""

    params: Any
    opt_state: Any
    step: jnp.ndarray
    key: jnp.ndarray


def tune_shared_weight(genome: Genome, problem: Any, grid: Sequence[float]) -> tuple:
    """The grid weight with the best training metric (ties: lower loss).

    Returns:
      (weight, metric) as Python floats.
    """
    module, variables = compile(genome, 1.0)
    grid = jnp.asarray(grid, jnp.float32)
    outputs = module.apply(
        {"genome": variables["genome"]}, problem.x_train, grid, method=module.sweep
    )
    metric = jax.vmap(problem.metric, in_axes=(0, None))(outputs, problem.y_train)
    loss = jax.vmap(lambda out: problem.loss(out, problem.y_train).mean())(outputs)
    higher_is_better = problem.metric_name != "mse"
    score = metric if higher_is_better else -metric
    score = jnp.where(jnp.isfinite(score), score, -jnp.inf)
    loss = jnp.where(jnp.isfinite(loss), loss, jnp.inf)
    best = int(np.lexsort((np.asarray(loss), -np.asarray(score)))[0])
    return float(grid[best]), float(metric[best])


def check_fits(genome: Genome, problem: Any) -> None:
    """Raises ValueError unless the genome's widths match the problem's."""
    if (
        genome.num_inputs != problem.num_inputs
        or genome.num_outputs != problem.num_outputs
    ):
        if hasattr(problem, "env_name"):
            kind = "discrete" if problem.discrete else "continuous"
            wanted = (
                f"environment {problem.env_name} has {problem.num_inputs} "
                f"observations and a {kind} action space of size "
                f"{problem.num_outputs}"
            )
        else:
            wanted = (
                f"the problem has {problem.num_inputs} inputs and "
                f"{problem.num_outputs} outputs"
            )
        raise ValueError(
            f"The genome maps {genome.num_inputs} inputs to {genome.num_outputs} "
            f"outputs but {wanted}."
        )


class Stage2Trainer:
    """What both Stage 2 trainers share: applying, restoring and handing out
    the trained weights. Subclasses set ``module``, ``genome_variables``,
    ``state``, ``history`` and ``_network`` (a jitted ``_apply``) and say which
    params are the result in ``trained_params``.
    """

    def trained_params(self) -> Any:
        """The params tree the trainer hands out."""
        raise NotImplementedError

    def _apply(self, params, x):
        return self.module.apply({"params": params, "genome": self.genome_variables}, x)

    mesh = None  # a jax.sharding.Mesh when the trainer's population is split

    def _placement(self):
        """Where the state lives: the default device, or every mesh device."""
        if self.mesh is None:
            return None
        from wannflax.sharding import replicated

        return replicated(self.mesh)

    def restore(self, checkpointer: Any) -> int:
        """Loads the latest checkpoint; returns the number of steps done."""
        self.state, self.history = checkpointer.restore(self.state)
        self.state = jax.device_put(self.state, self._placement())
        return len(self.history)

    def get_weights(self) -> Any:
        """The result ``{"conn_weights": f32[max_conns]}`` on the host."""
        return jax.device_get(self.trained_params())

    def get_variables(self) -> dict[str, Any]:
        """All module variables: the trained params and the genome."""
        return {"params": self.get_weights(), "genome": self.genome_variables}

    def get_network(self) -> Callable[[jnp.ndarray], jnp.ndarray]:
        """A jitted callable ``network(x) -> outputs`` with the trained weights."""
        params = self.trained_params()

        def network(x):
            return self._network(params, jnp.asarray(x, jnp.float32))

        return network


class WeightTrainer(Stage2Trainer):
    """Trains the individual connection weights of one genome.

    Example:
      trainer = WeightTrainer(genome, problem, WeightTrainerConfig(optimizer="adam"))
      trainer.fit(epochs=100)
      predictions = trainer.get_network()(x_test)
    """

    def __init__(
        self,
        genome: Genome,
        problem: Any,
        config: WeightTrainerConfig | None = None,
        module_class: type = WANN,
    ):
        self.config = config or WeightTrainerConfig()
        self.config.validate()
        check_fits(genome, problem)
        self.genome = jax.device_get(genome)
        self.problem = problem
        if self.config.shared_weight is None:
            self.shared_weight, _ = tune_shared_weight(
                self.genome, problem, self.config.tuning_grid
            )
        else:
            self.shared_weight = float(self.config.shared_weight)
        self.module, variables = compile(self.genome, self.shared_weight, module_class)
        self.genome_variables = variables["genome"]
        self.optimizer = make_optimizer(
            self.config.optimizer,
            self.config.learning_rate,
            self.config.weight_decay,
            **dict(self.config.optimizer_kwargs),
        )
        params = variables["params"]
        self.state = TrainState(
            params=params,
            opt_state=self.optimizer.init(params),
            step=jnp.array(0, jnp.int32),
            key=jax.random.PRNGKey(self.config.seed),
        )
        self.history: list[dict[str, float]] = []
        num_train = int(problem.x_train.shape[0])
        self.batch_size = min(self.config.batch_size, num_train)
        self.steps_per_epoch = num_train // self.batch_size
        self._epoch = jax.jit(self._run_epoch)
        self._network = jax.jit(self._apply)

    def loss(self, params, x, y) -> jnp.ndarray:
        """Mean training loss of ``params`` on a batch."""
        return self.problem.loss(self._apply(params, x), y).mean()

    def _run_epoch(self, state: TrainState):
        key, order_key = jax.random.split(state.key)
        num_train = self.problem.x_train.shape[0]
        order = jax.random.permutation(order_key, num_train)
        batches = order[: self.steps_per_epoch * self.batch_size].reshape(
            self.steps_per_epoch, self.batch_size
        )

        def update(carry, batch):
            params, opt_state, step = carry
            x, y = self.problem.x_train[batch], self.problem.y_train[batch]
            loss, grads = jax.value_and_grad(self.loss)(params, x, y)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, step + 1), loss

        (params, opt_state, step), losses = jax.lax.scan(
            update, (state.params, state.opt_state, state.step), batches
        )
        return TrainState(params, opt_state, step, key), losses.mean()

    def fit(
        self,
        epochs: int,
        callback: Callable[[dict[str, float]], None] | None = None,
        log_every: int = 10,
        checkpointer: Any = None,
        checkpoint_every: int = 0,
    ) -> WeightTrainer:
        """Trains for ``epochs`` passes over the training set.

        Args:
          epochs: number of epochs to run from the current state.
          callback: called with each epoch's metrics.
          log_every: absl-log every n-th epoch (0: never).
          checkpointer: a ``wannflax.checkpoint.Checkpointer``; the train state
            and history are saved every ``checkpoint_every`` epochs and after
            the last one.
          checkpoint_every: epochs between checkpoints (0: only at the end).

        Returns:
          self, for chaining.
        """
        if epochs < 0:
            raise ValueError(f"epochs must be non-negative, got {epochs}.")
        for epoch in range(epochs):
            start = time.perf_counter()
            self.state, loss = self._epoch(self.state)
            metrics = {"epoch": len(self.history), "train_loss": float(loss)}
            if self.problem.x_val is not None:
                outputs = self._network(self.state.params, self.problem.x_val)
                metrics["val_" + self.problem.metric_name] = float(
                    self.problem.metric(outputs, self.problem.y_val)
                )
            self.history.append(metrics)
            if callback is not None:
                callback(metrics)
            done = len(self.history)
            if checkpointer is not None and (
                (checkpoint_every and done % checkpoint_every == 0)
                or epoch == epochs - 1
            ):
                checkpointer.save(done, self.state, self.history)
            if log_every and (epoch % log_every == 0 or epoch == epochs - 1):
                logging.info(
                    "epoch %d: %s (%.3f s)",
                    metrics["epoch"],
                    ", ".join(
                        f"{k} {v:.4f}" for k, v in metrics.items() if k != "epoch"
                    ),
                    time.perf_counter() - start,
                )
        return self

    def trained_params(self) -> Any:
        """The current parameter tree ``{"conn_weights": f32[max_conns]}``."""
        return self.state.params
