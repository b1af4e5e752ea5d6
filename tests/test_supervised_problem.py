"""Specification of SupervisedProblem: validation, batches, losses, metrics."""

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wannflax import datasets
from wannflax.problems import PROBLEMS, supervised
from wannflax.problems.supervised import LOSSES, SupervisedProblem
from wannflax.registry import UnknownNameError

LN2 = 0.6931472


def ten_samples(**kwargs) -> SupervisedProblem:
    """Ten 3-feature samples whose first feature is the sample's index."""
    x = np.stack([np.arange(10), np.zeros(10), np.ones(10)], axis=1)
    y = np.arange(10) % 3
    return SupervisedProblem(x, y, **kwargs)


# --- registries -----------------------------------------------------------


def test_registries():
    assert "supervised" in PROBLEMS
    assert PROBLEMS.get("supervised") is supervised.make_supervised
    assert LOSSES.names() == ["binary_cross_entropy", "cross_entropy", "mse"]


def test_registered_losses_are_per_sample_functions():
    per_sample = LOSSES.get("mse")(jnp.array([[1.0, 2.0]]), jnp.array([[0.0, 0.0]]))
    np.testing.assert_allclose(per_sample, [2.5])
    assert LOSSES.get("cross_entropy").metric_name == "accuracy"
    assert LOSSES.get("binary_cross_entropy").targets == "binary"


# --- construction ---------------------------------------------------------


def test_cross_entropy_attributes_and_dtypes():
    problem = ten_samples(batch_size=4)
    assert problem.num_inputs == 3
    assert problem.num_outputs == 3
    assert problem.num_classes == 3
    assert problem.num_train == 10
    assert problem.batch_size == 4
    assert problem.loss_name == "cross_entropy"
    assert problem.metric_name == "accuracy"
    chex.assert_shape(problem.x_train, (10, 3))
    chex.assert_type(problem.x_train, jnp.float32)
    chex.assert_shape(problem.y_train, (10,))
    chex.assert_type(problem.y_train, jnp.int32)
    assert isinstance(problem.x_train, jax.Array)
    assert problem.x_val is None and problem.y_val is None
    assert problem.x_test is None and problem.y_test is None


def test_batch_size_is_capped_at_the_training_set_size():
    assert ten_samples(batch_size=1000).batch_size == 10
    assert ten_samples(batch_size=np.int64(7)).batch_size == 7


def test_num_classes_defaults_to_largest_label_plus_one_but_at_least_two():
    x = np.zeros((3, 1))
    assert SupervisedProblem(x, [0, 4, 1]).num_classes == 5
    assert SupervisedProblem(x, [0, 0, 0]).num_outputs == 2


def test_num_classes_default_covers_every_split():
    x = np.zeros((2, 1))
    problem = SupervisedProblem(x, [0, 1], x_val=x, y_val=[2, 0])
    assert problem.num_classes == 3


def test_explicit_num_classes_is_kept():
    assert SupervisedProblem(np.zeros((2, 1)), [0, 1], num_classes=10).num_outputs == 10


def test_whole_number_float_labels_are_cast_to_int32():
    problem = SupervisedProblem(np.zeros((3, 1)), np.array([0.0, 2.0, 1.0]))
    chex.assert_type(problem.y_train, jnp.int32)
    np.testing.assert_array_equal(problem.y_train, [0, 2, 1])


def test_mse_targets_are_float_columns():
    problem = SupervisedProblem(np.zeros((4, 2)), [1, 2, 3, 4], loss_fn="mse")
    assert problem.num_outputs == 1
    assert problem.num_classes is None
    assert problem.metric_name == "mse"
    chex.assert_shape(problem.y_train, (4, 1))
    chex.assert_type(problem.y_train, jnp.float32)
    wide = SupervisedProblem(np.zeros((4, 2)), np.zeros((4, 5)), loss_fn="mse")
    assert wide.num_outputs == 5


def test_bce_targets_are_float_columns():
    targets = np.array([[0, 1], [1, 1], [0, 0], [1, 0]])
    problem = SupervisedProblem(
        np.zeros((4, 2)), targets, loss_fn="binary_cross_entropy"
    )
    assert problem.num_outputs == 2
    assert problem.metric_name == "accuracy"
    chex.assert_type(problem.y_train, jnp.float32)
    np.testing.assert_array_equal(problem.y_train, targets)
    single = SupervisedProblem(
        np.zeros((3, 2)), [0, 1, 1], loss_fn="binary_cross_entropy"
    )
    chex.assert_shape(single.y_train, (3, 1))


def test_validation_and_test_splits_are_stored():
    x = np.zeros((4, 2))
    problem = SupervisedProblem(
        x, [0, 1, 0, 1], x_val=x[:2], y_val=[1, 0], x_test=x[:3], y_test=[0, 0, 1]
    )
    chex.assert_shape([problem.x_val, problem.y_val], [(2, 2), (2,)])
    chex.assert_shape([problem.x_test, problem.y_test], [(3, 2), (3,)])
    chex.assert_type([problem.x_val, problem.y_test], [jnp.float32, jnp.int32])


# --- invalid input --------------------------------------------------------

GOOD_X = np.zeros((4, 2))
GOOD_Y = np.array([0, 1, 0, 1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(x_train=np.zeros(4)), r"x_train must be 2-D .* got shape \(4,\)"),
        (dict(x_train=np.zeros((4, 2, 1))), r"x_train must be 2-D"),
        (dict(x_train=np.zeros((0, 2)), y_train=[]), "x_train is empty: it has 0 sam"),
        (dict(x_train=np.zeros((4, 0))), "x_train is empty: it has 0 features"),
        (dict(y_train=[0, 1, 0]), "y_train has 3 entries but x_train has 4 samples"),
        (dict(y_train=np.int64(1)), "y_train must have one entry per sample"),
        (dict(x_train=np.array([["a", "b"]] * 4)), "x_train must be numeric"),
        (
            dict(x_train=np.array([[np.nan, 1], [np.inf, 0], [-np.inf, 0], [0, 0]])),
            r"x_train has 3 non-finite entries \(1 NaN, 2 inf\)",
        ),
        (
            dict(y_train=np.array([0, np.nan, 1, 0])),
            r"y_train has 1 non-finite entries \(1 NaN, 0 inf\)",
        ),
        (dict(x_val=GOOD_X), "x_val was given without y_val"),
        (dict(y_val=GOOD_Y), "y_val was given without x_val"),
        (dict(x_test=GOOD_X), "x_test was given without y_test"),
        (
            dict(x_val=np.zeros((4, 3)), y_val=GOOD_Y),
            "x_val has 3 features but x_train has 2",
        ),
        (dict(x_val=GOOD_X, y_val=[0, 1]), "y_val has 2 entries but x_val has 4"),
        (dict(x_val=np.zeros((0, 2)), y_val=[]), "x_val is empty"),
        (
            dict(x_test=np.full((4, 2), np.nan), y_test=GOOD_Y),
            r"x_test has 8 non-finite entries \(8 NaN, 0 inf\)",
        ),
        (dict(y_train=np.zeros((4, 2))), "y_train must be 1-D integer class labels"),
        (dict(y_train=[0, 0.5, 1, 0]), "whole-number class labels .* found 0.5"),
        (dict(y_train=[0, -1, 1, 0]), "y_train has label -1; class labels must be"),
        (
            dict(y_train=[0, 1, 5, 0], num_classes=3),
            r"y_train has label 5 outside \[0, num_classes=3\)",
        ),
        (
            dict(x_val=GOOD_X, y_val=[0, 0, 7, 0], num_classes=2),
            r"y_val has label 7 outside \[0, num_classes=2\)",
        ),
        (dict(num_classes=1), "num_classes must be an int of at least 2, got 1"),
        (dict(batch_size=0), "batch_size must be a positive int, got 0"),
        (dict(batch_size=-3), "batch_size must be a positive int, got -3"),
        (dict(batch_size=2.5), "batch_size must be a positive int, got 2.5"),
        (dict(batch_size=True), "batch_size must be a positive int, got True"),
        (
            dict(loss_fn="mse", y_train=np.zeros((4, 2, 2))),
            r"y_train must be \[n\] or \[n, k\] targets for mse",
        ),
        (
            dict(loss_fn="mse", x_val=GOOD_X, y_val=np.zeros((4, 2))),
            "y_val has 2 target columns but y_train has 1",
        ),
        (
            dict(loss_fn="binary_cross_entropy", y_train=[0, 1, 2, 1]),
            "0/1 targets for binary_cross_entropy; found 2",
        ),
        (
            dict(loss_fn="mse", num_classes=3),
            "num_classes=3 does not apply to mse",
        ),
    ],
)
def test_bad_input_is_rejected_naming_the_problem(kwargs, message):
    arguments = {"x_train": GOOD_X, "y_train": GOOD_Y, **kwargs}
    with pytest.raises(ValueError, match=message):
        SupervisedProblem(**arguments)


def test_unknown_loss_lists_the_choices():
    with pytest.raises(
        UnknownNameError,
        match="Unknown loss 'hinge'; the registered loss names are: binary_cross_entropy, "
        "cross_entropy, mse.",
    ):
        SupervisedProblem(GOOD_X, GOOD_Y, loss_fn="hinge")


def test_non_string_loss_is_a_type_error():
    with pytest.raises(TypeError, match="loss_fn must be a registered loss name"):
        SupervisedProblem(GOOD_X, GOOD_Y, loss_fn=len)


def test_batch_size_is_checked_before_the_data():
    with pytest.raises(ValueError, match="batch_size"):
        SupervisedProblem(np.zeros(3), [0], batch_size=0)


# --- sampling -------------------------------------------------------------


def test_sample_batch_shapes_and_dtypes():
    x, y = ten_samples(batch_size=4).sample_batch(jax.random.key(0))
    chex.assert_shape([x, y], [(4, 3), (4,)])
    chex.assert_type([x, y], [jnp.float32, jnp.int32])


def test_sample_batch_same_key_same_batch_other_key_other_batch():
    problem = ten_samples(batch_size=5)
    first = problem.sample_batch(jax.random.key(1))
    again = problem.sample_batch(jax.random.key(1))
    other = problem.sample_batch(jax.random.key(2))
    chex.assert_trees_all_equal(first, again)
    assert not np.array_equal(first[0], other[0])


def test_sample_batch_draws_without_replacement_and_keeps_pairs():
    problem = ten_samples(batch_size=10)
    for seed in range(5):
        x, y = problem.sample_batch(jax.random.key(seed))
        indices = np.asarray(x[:, 0]).astype(int)
        assert sorted(indices.tolist()) == list(range(10))
        np.testing.assert_array_equal(y, indices % 3)


def test_sample_batch_is_jittable():
    problem = ten_samples(batch_size=6)
    key = jax.random.key(3)
    jitted = jax.jit(problem.sample_batch)(key)
    chex.assert_trees_all_equal(jitted, problem.sample_batch(key))


def test_sample_batch_accepts_raw_uint32_keys():
    x, _ = ten_samples(batch_size=2).sample_batch(jax.random.PRNGKey(0))
    chex.assert_shape(x, (2, 3))


# --- losses, fitness and metrics ------------------------------------------


def test_cross_entropy_exact_values():
    problem = SupervisedProblem(np.zeros((2, 1)), [0, 1])
    logits = jnp.array([[0.0, 0.0], [0.0, jnp.log(3.0)]])
    labels = jnp.array([0, 1])
    # Softmax of [0, ln 3] is [1/4, 3/4]; -ln(3/4) = 0.2876821.
    np.testing.assert_allclose(
        problem.loss(logits, labels), [LN2, 0.2876821], rtol=1e-6
    )
    assert problem.fitness(logits, labels) == pytest.approx(-(LN2 + 0.2876821) / 2)


def test_mse_exact_values():
    problem = SupervisedProblem(np.zeros((2, 1)), np.zeros((2, 2)), loss_fn="mse")
    outputs = jnp.array([[1.0, 2.0], [0.0, 0.0]])
    targets = jnp.zeros((2, 2))
    np.testing.assert_allclose(problem.loss(outputs, targets), [2.5, 0.0])
    assert problem.fitness(outputs, targets) == pytest.approx(-1.25)
    assert problem.metric(outputs, targets) == pytest.approx(1.25)


def test_bce_exact_values():
    problem = SupervisedProblem(
        np.zeros((2, 1)), [[1, 0], [0, 1]], loss_fn="binary_cross_entropy"
    )
    logits = jnp.array([[0.0, 0.0], [jnp.log(3.0), 0.0]])
    targets = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    # Row 2: sigmoid(ln 3) = 3/4, so the first entry costs -ln(1/4) = ln 4.
    np.testing.assert_allclose(
        problem.loss(logits, targets), [LN2, (2 * LN2 + LN2) / 2], rtol=1e-6
    )


def test_fitness_is_not_masked_for_non_finite_outputs():
    problem = SupervisedProblem(np.zeros((2, 1)), [0, 1])
    labels = jnp.array([0, 1])
    assert jnp.isnan(problem.fitness(jnp.array([[jnp.nan, 0.0], [0.0, 0.0]]), labels))
    assert not jnp.isfinite(problem.fitness(jnp.array([[-jnp.inf, 0.0]] * 2), labels))


def test_loss_rejects_outputs_of_the_wrong_width():
    problem = SupervisedProblem(np.zeros((2, 1)), [0, 1])
    with pytest.raises(ValueError, match="num_outputs=2 columns, got shape"):
        problem.loss(jnp.zeros((2, 3)), jnp.array([0, 1]))


def test_fitness_and_metric_are_jittable():
    problem = ten_samples(batch_size=4)
    x, y = problem.sample_batch(jax.random.key(0))
    outputs = jnp.zeros((4, 3))
    assert jax.jit(problem.fitness)(outputs, y) == pytest.approx(-np.log(3), rel=1e-6)
    assert jax.jit(problem.metric)(outputs, y) == pytest.approx(
        float(np.mean(np.asarray(y) == 0))
    )


def test_predict_accuracy_and_metric_for_cross_entropy():
    problem = SupervisedProblem(np.zeros((2, 1)), [0, 2])
    outputs = jnp.array([[2.0, 1.0, 0.0], [0.0, 5.0, 1.0], [0.0, 0.0, 3.0]])
    labels = jnp.array([0, 2, 2])
    np.testing.assert_array_equal(problem.predict(outputs), [0, 1, 2])
    assert problem.accuracy(outputs, labels) == pytest.approx(2 / 3)
    assert problem.metric(outputs, labels) == pytest.approx(2 / 3)


def test_predict_and_accuracy_for_bce_threshold_logits_at_zero():
    problem = SupervisedProblem(
        np.zeros((2, 1)), [[1, 0], [0, 1]], loss_fn="binary_cross_entropy"
    )
    logits = jnp.array([[0.5, -1.0], [0.0, 2.0]])
    np.testing.assert_array_equal(problem.predict(logits), [[1, 0], [0, 1]])
    targets = jnp.array([[1.0, 1.0], [0.0, 1.0]])
    assert problem.accuracy(logits, targets) == pytest.approx(3 / 4)


def test_mse_predicts_the_outputs_and_has_no_accuracy():
    problem = SupervisedProblem(np.zeros((2, 1)), [0.5, 1.5], loss_fn="mse")
    outputs = jnp.array([[0.25], [1.0]])
    np.testing.assert_array_equal(problem.predict(outputs), outputs)
    with pytest.raises(ValueError, match="accuracy is undefined for loss 'mse'"):
        problem.accuracy(outputs, problem.y_train)


# --- datasets -------------------------------------------------------------


def test_from_dataset_keeps_the_test_split_out_of_validation_by_default():
    problem = SupervisedProblem.from_dataset(datasets.xor(), batch_size=2)
    assert problem.num_inputs == 2
    assert problem.num_outputs == 2
    assert problem.batch_size == 2
    assert problem.x_val is None
    np.testing.assert_array_equal(problem.y_test, [0, 1, 1, 0])


def test_from_dataset_with_validation_uses_the_test_split():
    dataset = datasets.iris()
    problem = SupervisedProblem.from_dataset(dataset, validation=True)
    np.testing.assert_array_equal(problem.x_val, dataset.x_test)
    np.testing.assert_array_equal(problem.y_val, dataset.y_test)
    assert problem.batch_size == 120


def test_from_dataset_with_bce_has_one_output_per_target_column():
    problem = SupervisedProblem.from_dataset(
        datasets.xor(), loss_fn="binary_cross_entropy"
    )
    assert problem.num_outputs == 1
    assert problem.num_classes is None
    chex.assert_shape(problem.y_test, (4, 1))


def test_problem_registry_builds_from_a_spec():
    problem = PROBLEMS.build("supervised(dataset='digits', batch_size=100)")
    assert problem.num_inputs == 64
    assert problem.num_outputs == 10
    assert problem.batch_size == 100
    chex.assert_shape(problem.x_test, (360, 64))


def test_make_supervised_passes_dataset_arguments():
    problem = supervised.make_supervised("iris", test_fraction=0.5, validation=True)
    assert problem.num_train == 75
    chex.assert_shape(problem.x_val, (75, 4))


def test_a_label_far_past_the_outputs_is_refused_naming_the_largest_label():
    # 11 and 10**9 are both out of range; the message names the largest, so
    # a stray huge label is not hidden behind the first small one.
    with pytest.raises(
        ValueError,
        match=r"y_train has label 1000000000 outside \[0, num_classes=10\): the "
        "network has 10 outputs",
    ):
        SupervisedProblem(GOOD_X, [0, 11, 10**9, 1], num_classes=10)


@pytest.mark.parametrize(
    "label, shown",
    [(1e20, "1e+20"), (np.uint64(2**63 + 5), "9223372036854775813")],
)
def test_a_label_past_the_int64_range_is_named_as_given(label, shown):
    # Cast to int64 first, these wrapped to a negative number and the error
    # blamed a label the data do not hold.
    labels = np.array([0, label, 1, 0], dtype=np.asarray(label).dtype)
    with pytest.raises(
        ValueError,
        match=rf"y_train has label {re.escape(shown)} outside \[0, num_classes=10\)",
    ):
        SupervisedProblem(GOOD_X, labels, num_classes=10)


def test_an_inferred_class_count_past_the_int32_labels_is_refused():
    # Labels are stored as int32: 2**32 + 3 would be stored as 3 under a
    # class count of 2**32 + 4.
    with pytest.raises(
        ValueError,
        match="y_train has label 4294967299: one output per class would need "
        "4294967300 outputs; class labels must be at most 2147483646",
    ):
        SupervisedProblem(GOOD_X, np.array([0, 2**32 + 3, 1, 0]))
