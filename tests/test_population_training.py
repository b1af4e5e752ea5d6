"""Specification of wannflax.population_training: WeightTrainer's recipe, vmapped.

Training many genomes in one program must give what WeightTrainer gives each
genome alone (same tuned shared weight, same batch order, same updates), up
to float rounding.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax.genome import Genome
from wannflax.population_training import population_metric, train_population
from wannflax.problems import SupervisedProblem
from wannflax.training import WeightTrainer, WeightTrainerConfig

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_Y = np.array([0, 1, 1, 0])

# XOR genomes: node 0 bias, 1-2 inputs, 3-4 outputs, 5 hidden.
EDGE_SETS = [
    [(1, 3), (2, 4)],
    [(1, 5), (5, 3), (2, 4)],
    [],
    [(1, 5), (2, 5), (5, 3), (5, 4)],
]


def xor_problem():
    return SupervisedProblem(XOR_X, XOR_Y, loss_fn="cross_entropy", batch_size=4)


def hand_population():
    genomes = [
        Genome.from_edges(2, 2, edges, max_nodes=8, max_conns=8) for edges in EDGE_SETS
    ]
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *genomes)


def test_population_training_equals_weight_trainer_genome_by_genome():
    problem = xor_problem()
    population = hand_population()
    settings = WeightTrainerConfig(optimizer="adam", learning_rate=0.05, batch_size=2)

    module, conn_weights, shared = train_population(population, problem, settings, 3)
    accuracy = population_metric(
        module, population, conn_weights, problem, problem.x_train, problem.y_train
    )

    index = 3  # a genome with a hidden node
    trainer = WeightTrainer(population.index(index), problem, settings).fit(
        3, log_every=0
    )
    assert float(shared[index]) == pytest.approx(trainer.shared_weight)
    np.testing.assert_allclose(
        conn_weights[index],
        trainer.get_weights()["conn_weights"],
        rtol=1e-5,
        atol=1e-6,
    )
    outputs = trainer.get_network()(problem.x_train)
    assert float(accuracy[index]) == float(problem.metric(outputs, problem.y_train))
