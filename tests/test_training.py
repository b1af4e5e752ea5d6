"""Stage 2: optimizers by name, weight training, shared-weight tuning."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import Genome, UnknownNameError, compile
from wannflax.optimizers import OPTIMIZERS, make_optimizer
from wannflax.problems import SupervisedProblem
from wannflax.training import WeightTrainer, WeightTrainerConfig, tune_shared_weight


def _linear_regression_problem():
    # y = 0.5 + 2 x1 - x2 exactly: a bias -> out, x1 -> out, x2 -> out network
    # with individual weights (0.5, 2, -1) fits it with zero loss.
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (256, 2)).astype(np.float32)
    y = (0.5 + 2 * x[:, 0] - x[:, 1]).astype(np.float32)
    return SupervisedProblem(x, y, loss_fn="mse", batch_size=256)


LINEAR_GENOME = Genome.from_edges(2, 1, [(0, 3), (1, 3), (2, 3)], max_conns=5)


def test_optimizers_by_name_include_sgd_adam_adamw():
    for name in ("sgd", "adam", "adamw"):
        assert name in OPTIMIZERS
        make_optimizer(name, 0.1, weight_decay=0.01)


def test_unknown_optimizer_lists_the_choices():
    with pytest.raises(UnknownNameError, match="Unknown optimizer 'adamx'.*adamw"):
        WeightTrainerConfig(optimizer="adamx").validate()


def test_training_recovers_individual_weights():
    problem = _linear_regression_problem()
    config = WeightTrainerConfig(optimizer="adam", learning_rate=0.05, batch_size=32)
    trainer = WeightTrainer(LINEAR_GENOME, problem, config)
    trainer.fit(epochs=60, log_every=0)
    weights = trainer.get_weights()["conn_weights"]
    chex.assert_shape(weights, (5,))
    np.testing.assert_allclose(weights[:3], [0.5, 2.0, -1.0], atol=1e-2)
    # Padding slots stay exactly where compile() put them: they get no gradient.
    np.testing.assert_array_equal(weights[3:], [0.0, 0.0])
    # The update counter advances once per mini-batch: 256 / 32 = 8 per epoch.
    assert int(trainer.state.step) == 60 * 8
    assert trainer.history[-1]["train_loss"] < 1e-4


def test_training_starts_from_the_tuned_shared_weight():
    problem = _linear_regression_problem()
    trainer = WeightTrainer(
        LINEAR_GENOME, problem, WeightTrainerConfig(optimizer="sgd")
    )
    # Before any update every valid connection carries the tuned weight.
    weights = trainer.get_weights()["conn_weights"]
    np.testing.assert_array_equal(weights[:3], [trainer.shared_weight] * 3)


def test_tuning_picks_the_best_grid_weight():
    # out = w * x: for targets y = 1.5 x the squared error is zero at w = 1.5.
    x = np.linspace(-1, 1, 32, dtype=np.float32)[:, None]
    problem = SupervisedProblem(x, 1.5 * x[:, 0], loss_fn="mse")
    genome = Genome.from_edges(1, 1, [(1, 2)])
    weight, mse = tune_shared_weight(genome, problem, [-1.0, 0.5, 1.5, 2.0])
    assert weight == 1.5
    assert mse == pytest.approx(0.0, abs=1e-12)


def test_network_callable_matches_module_apply():
    problem = _linear_regression_problem()
    trainer = WeightTrainer(
        LINEAR_GENOME, problem, WeightTrainerConfig(learning_rate=0.01)
    )
    trainer.fit(epochs=2, log_every=0)
    module, variables = compile(LINEAR_GENOME)
    variables["params"] = trainer.get_weights()
    x = problem.x_train[:10]
    np.testing.assert_allclose(
        trainer.get_network()(x), module.apply(variables, x), atol=1e-6
    )


def test_same_seed_same_trained_weights():
    problem = _linear_regression_problem()

    def train():
        config = WeightTrainerConfig(
            optimizer="adamw", learning_rate=0.01, weight_decay=0.01
        )
        return (
            WeightTrainer(LINEAR_GENOME, problem, config)
            .fit(3, log_every=0)
            .get_weights()
        )

    chex.assert_trees_all_equal(train(), train())


def test_genome_and_problem_of_different_widths_are_refused():
    problem = _linear_regression_problem()
    genome = Genome.from_edges(3, 1, [(1, 4)])
    with pytest.raises(ValueError, match="3 inputs.*problem has 2 inputs"):
        WeightTrainer(genome, problem)


def test_gradients_are_finite_and_zero_on_disabled_connections():
    genome = Genome.from_edges(2, 1, [(1, 3), (2, 3, False)], max_conns=4)
    module, variables = compile(genome, 0.7)
    x = jnp.array([[1.0, 2.0]])

    def loss(params):
        return module.apply({**variables, "params": params}, x).sum()

    grads = jax.grad(loss)(variables["params"])["conn_weights"]
    chex.assert_tree_all_finite(grads)
    # d(w1 * x1)/dw1 = x1 = 1; the disabled and padding slots get nothing.
    np.testing.assert_allclose(grads, [1.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("learning_rate", float("inf"), "learning_rate must be positive and finite"),
        ("weight_decay", float("nan"), "weight_decay must be non-negative and finite"),
        ("shared_weight", float("nan"), "shared_weight must be finite"),
        ("tuning_grid", (1.0, float("nan")), "tuning_grid must hold finite numbers"),
        ("batch_size", 0, "batch_size must be >= 1"),
    ],
)
def test_non_finite_or_bad_trainer_settings_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        WeightTrainerConfig(**{field: value}).validate()


def test_compile_refuses_a_non_finite_shared_weight():
    with pytest.raises(ValueError, match="shared_weight must be finite"):
        compile(LINEAR_GENOME, float("nan"))
