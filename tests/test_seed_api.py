"""The seed project's public API works exactly as its users write it."""

import chex
import numpy as np

from wannflax import (
    ArchitectureSearch,
    SearchConfig,
    SupervisedProblem,
    WeightTrainer,
    WeightTrainerConfig,
)
from wannflax.datasets import load_dataset


def test_seed_workflow_runs_as_written():
    iris = load_dataset("iris")
    x_train, y_train, x_test = iris.x_train, iris.y_train, iris.x_test

    problem = SupervisedProblem(x_train, y_train, batch_size=120)
    search = ArchitectureSearch(
        problem,
        SearchConfig(
            max_nodes=30,
            max_connections=100,
            activation_options=["tanh", "relu", "sigmoid"],
            weight_values=[-2, -1, -0.5, 0.5, 1, 2],
        ),
    )
    genome = search.run(generations=100)
    trainer = WeightTrainer(
        genome,
        problem,
        WeightTrainerConfig(optimizer="adamw", learning_rate=0.001, weight_decay=0.01),
    )
    trainer.fit(epochs=100)
    network = trainer.get_network()
    predictions = network(x_test)

    chex.assert_shape(predictions, (x_test.shape[0], 3))
    chex.assert_tree_all_finite(predictions)
    assert len(search.history) == 100
    assert len(trainer.history) == 100
    # Training never makes the training loss worse than where it started.
    assert trainer.history[-1]["train_loss"] <= trainer.history[0]["train_loss"]
    assert np.isfinite(search.history[-1]["champion_mean"])
