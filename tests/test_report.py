"""The result table: per-weight metrics, the ensemble vote, tuned and trained."""

import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import Genome
from wannflax.problems import SupervisedProblem
from wannflax.report import accuracy_table, ensemble_predictions


def test_ensemble_is_a_majority_vote():
    # Three weights, two samples, two classes. Sample 0: votes 1, 1, 0 -> 1.
    # Sample 1: votes 0, 0, 1 -> 0.
    outputs = jnp.array(
        [
            [[0.0, 1.0], [2.0, 0.0]],
            [[0.0, 3.0], [1.0, 0.0]],
            [[5.0, 0.0], [0.0, 9.0]],
        ]
    )
    np.testing.assert_array_equal(ensemble_predictions(outputs), [1, 0])


def test_ensemble_ties_go_to_the_more_confident_class():
    # One vote each; class 1's softmax mass (0.88 + 0.5) beats class 0's.
    outputs = jnp.array([[[0.0, 2.0]], [[0.0, 0.0]]])
    np.testing.assert_array_equal(ensemble_predictions(outputs), [1])


def test_accuracy_table_on_a_hand_built_classifier():
    # Two outputs: out0 = w * x, out1 = w * (-x) via an inverse hidden node
    # fed by... simpler: out1 = w * bias. For x = 2: out0 = 2w, out1 = w, so
    # class 0 wins for w > 0 and class 1 for w < 0.
    genome = Genome.from_edges(1, 2, [(1, 2), (0, 3)])
    x = jnp.array([[2.0], [2.0]])
    y = jnp.array([0, 0])
    problem = SupervisedProblem(np.asarray(x), np.asarray(y), num_classes=2)
    table = accuracy_table(genome, problem, x, y, [-1.0, 1.0, 2.0], 2.0)
    assert table["shared_weight"] == {"-1.0": 0.0, "1.0": 1.0, "2.0": 1.0}
    assert table["ensemble"] == 1.0  # two of three weights vote class 0
    assert table["tuned_shared"] == {"weight": 2.0, "accuracy": 1.0}
    assert "trained" not in table
    trained = accuracy_table(
        genome, problem, x, y, [1.0], 1.0, {"conn_weights": jnp.array([-1.0, 1.0])}
    )
    # Individually: out0 = -2, out1 = 1 -> class 1, wrong for both samples.
    assert trained["trained"] == pytest.approx(0.0)
