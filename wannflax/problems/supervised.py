"""Supervised learning as a WANN problem: minibatches, losses, fitness, metrics."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from wannflax.datasets import Dataset, load_dataset
from wannflax.problems import PROBLEMS
from wannflax.registry import Registry

# What a loss expects as targets; decides how targets are validated and stored.
CLASS_LABELS = "class_labels"  # int32 [n], one class id per sample
BINARY = "binary"  # float32 [n, k] holding 0/1
REAL = "real"  # float32 [n, k]


@dataclasses.dataclass(frozen=True)
class Loss:
    """A per-sample loss together with the kind of targets it expects.

    Attributes:
      fn: maps ``(outputs [B, k], targets [B] or [B, k])`` to a per-sample loss
        ``[B]``; pure JAX.
      targets: ``"class_labels"``, ``"binary"`` or ``"real"``.
      metric_name: the headline metric for this loss, ``"accuracy"`` or ``"mse"``.
    """

    fn: Callable[[jax.Array, jax.Array], jax.Array]
    targets: str
    metric_name: str

    def __call__(self, outputs: jax.Array, targets: jax.Array) -> jax.Array:
        """Applies ``fn``.

        Args:
          outputs: network outputs ``[B, k]``.
          targets: the matching targets.

        Returns:
          The per-sample loss ``[B]``.
        """
        return self.fn(outputs, targets)


LOSSES = Registry("loss")


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Softmax cross-entropy against integer class labels.

    Args:
      logits: ``[B, num_classes]``.
      labels: int ``[B]``.

    Returns:
      The per-sample loss ``[B]``.
    """
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def mse(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """Squared error averaged over the output dimensions.

    Args:
      outputs: ``[B, k]``.
      targets: ``[B, k]``.

    Returns:
      The per-sample loss ``[B]``.
    """
    return jnp.mean(jnp.square(outputs - targets), axis=-1)


def binary_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Sigmoid binary cross-entropy on logits, averaged over output dimensions.

    Args:
      logits: ``[B, k]``.
      targets: 0/1 values ``[B, k]``.

    Returns:
      The per-sample loss ``[B]``.
    """
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, targets), axis=-1)


LOSSES.add("cross_entropy", Loss(cross_entropy, CLASS_LABELS, "accuracy"))
LOSSES.add("mse", Loss(mse, REAL, "mse"))
LOSSES.add("binary_cross_entropy", Loss(binary_cross_entropy, BINARY, "accuracy"))


def _as_numeric(value: Any, name: str) -> np.ndarray:
    """Converts to a numpy array, refusing non-numeric data."""
    array = np.asarray(value)
    if not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real-valued, got dtype {array.dtype}.")
    return array


def _check_finite(array: np.ndarray, name: str) -> None:
    """Refuses NaN and inf, saying how many of each there are."""
    if not np.issubdtype(array.dtype, np.floating):
        return
    num_nan = int(np.isnan(array).sum())
    num_inf = int(np.isinf(array).sum())
    if num_nan or num_inf:
        raise ValueError(
            f"{name} has {num_nan + num_inf} non-finite entries ({num_nan} NaN, "
            f"{num_inf} inf) out of {array.size}."
        )


def _check_split(
    x: Any, y: Any, x_name: str, y_name: str, num_features: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Validates one (x, y) pair's shapes and values; returns them as numpy."""
    x = _as_numeric(x, x_name)
    y = _as_numeric(y, y_name)
    if x.ndim != 2:
        raise ValueError(
            f"{x_name} must be 2-D [num_samples, num_features], got shape {x.shape}."
        )
    if x.shape[0] == 0:
        raise ValueError(f"{x_name} is empty: it has 0 samples.")
    if x.shape[1] == 0:
        raise ValueError(f"{x_name} is empty: it has 0 features.")
    if num_features is not None and x.shape[1] != num_features:
        raise ValueError(
            f"{x_name} has {x.shape[1]} features but x_train has {num_features}."
        )
    if y.ndim == 0:
        raise ValueError(f"{y_name} must have one entry per sample, got a scalar.")
    if y.shape[0] != x.shape[0]:
        raise ValueError(
            f"{y_name} has {y.shape[0]} entries but {x_name} has {x.shape[0]} samples."
        )
    _check_finite(x, x_name)
    _check_finite(y, y_name)
    return x, y


def _check_num_classes(num_classes: Any) -> None:
    """Refuses a class count that is not an int of at least 2."""
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 2
    ):
        raise ValueError(
            f"num_classes must be an int of at least 2, got {num_classes!r}."
        )


# Labels are stored as int32; a larger one would wrap around.
_LARGEST_LABEL = np.iinfo(np.int32).max - 1


def _class_labels(y: np.ndarray, name: str, num_classes: int | None) -> np.ndarray:
    """Validates integer class labels (whole-number floats allowed) as int64.

    ``num_classes``, when given, bounds the labels; the largest label is
    named in the error.
    """
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D integer class labels for cross_entropy, got shape "
            f"{y.shape}."
        )
    if np.issubdtype(y.dtype, np.floating):
        fractional = y[y != np.round(y)]
        if fractional.size:
            raise ValueError(
                f"{name} must hold whole-number class labels for cross_entropy; found "
                f"{fractional[0].item()}."
            )
    # Checked before the cast, which would wrap a label past the int64 range.
    if y.min() < 0:
        raise ValueError(
            f"{name} has label {y.min().item()}; class labels must be non-negative."
        )
    largest = y.max().item()
    if num_classes is not None and largest >= num_classes:
        raise ValueError(
            f"{name} has label {largest} outside [0, num_classes={num_classes}): "
            f"the network has {num_classes} outputs, one per class."
        )
    if largest > _LARGEST_LABEL:
        raise ValueError(
            f"{name} has label {largest}: one output per class would need "
            f"{largest + 1} outputs; class labels must be at most {_LARGEST_LABEL}."
        )
    return y.astype(np.int64)


def _target_matrix(y: np.ndarray, name: str, loss_name: str, loss: Loss) -> np.ndarray:
    """Validates real or 0/1 targets, returning them as float ``[n, k]``."""
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(
            f"{name} must be [n] or [n, k] targets for {loss_name}, got shape "
            f"{y.shape}."
        )
    if y.shape[1] == 0:
        raise ValueError(f"{name} has 0 target columns.")
    if loss.targets == BINARY:
        not_binary = y[(y != 0) & (y != 1)]
        if not_binary.size:
            raise ValueError(
                f"{name} must hold 0/1 targets for {loss_name}; found "
                f"{not_binary.flat[0].item()}."
            )
    return y.astype(np.float32)


class SupervisedProblem:
    """A labelled dataset scored by a loss: fitness is minus the mean loss.

    All methods except the constructor are pure JAX and can be traced under
    ``jax.jit``; the data are captured as constants.

    Attributes:
      num_inputs: the width of ``x``.
      num_outputs: the number of classes for cross_entropy, else the width of y.
      num_classes: the number of classes for cross_entropy, else None.
      num_train: the number of training samples.
      batch_size: the effective batch size, ``min(batch_size, num_train)``.
      loss_name: the registered name of the loss.
      metric_name: ``"accuracy"`` (cross_entropy, binary_cross_entropy) or
        ``"mse"`` (mse).
      x_train, y_train, x_val, y_val, x_test, y_test: JAX arrays (float32 x;
        int32 labels for cross_entropy, float32 ``[n, k]`` targets otherwise);
        the validation and test ones are None when not given.
    """

    def __init__(
        self,
        x_train: Any,
        y_train: Any,
        x_val: Any = None,
        y_val: Any = None,
        loss_fn: str = "cross_entropy",
        batch_size: int = 1000,
        num_classes: int | None = None,
        x_test: Any = None,
        y_test: Any = None,
    ):
        """Validates the data eagerly and stores it on the default device.

        Args:
          x_train: training inputs ``[n, d]``.
          y_train: training targets: class labels ``[n]`` for cross_entropy
            (whole-number floats are accepted), 0/1 values ``[n]`` or ``[n, k]``
            for binary_cross_entropy, reals ``[n]`` or ``[n, k]`` for mse.
          x_val: optional validation inputs ``[m, d]``; needs ``y_val``.
          y_val: optional validation targets; needs ``x_val``.
          loss_fn: a name registered in ``LOSSES``.
          batch_size: how many training samples ``sample_batch`` draws; capped
            at the training-set size.
          num_classes: for cross_entropy, the number of classes (default: the
            largest label in any split plus one, at least 2). For the other
            losses leave it None, or give the width of y.
          x_test: optional held-out test inputs ``[t, d]``; needs ``y_test``.
          y_test: optional test targets; needs ``x_test``.

        Raises:
          ValueError: naming the offending argument, on any malformed input.
          TypeError: if ``loss_fn`` is not a string.
          UnknownNameError: if ``loss_fn`` is not registered.
        """
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
        if not isinstance(loss_fn, str):
            raise TypeError(
                f"loss_fn must be a registered loss name ({', '.join(LOSSES.names())}), "
                f"got {loss_fn!r}."
            )
        loss = LOSSES.get(loss_fn)

        x_train, y_train = _check_split(x_train, y_train, "x_train", "y_train", None)
        num_features = x_train.shape[1]
        extra_splits = {}
        for split, x, y in (("val", x_val, y_val), ("test", x_test, y_test)):
            if (x is None) != (y is None):
                given, missing = f"x_{split}", f"y_{split}"
                if x is None:
                    given, missing = missing, given
                raise ValueError(
                    f"{given} was given without {missing}; pass both or neither."
                )
            if x is not None:
                extra_splits[split] = _check_split(
                    x, y, f"x_{split}", f"y_{split}", num_features
                )

        labelled = {"train": (x_train, y_train), **extra_splits}
        if loss.targets == CLASS_LABELS:
            if num_classes is not None:
                _check_num_classes(num_classes)
            targets = {
                s: _class_labels(y, f"y_{s}", num_classes)
                for s, (_, y) in labelled.items()
            }
            if num_classes is None:
                largest = max(int(y.max()) for y in targets.values())
                num_classes = max(largest + 1, 2)
            num_classes = int(num_classes)
            stored_targets = {s: y.astype(np.int32) for s, y in targets.items()}
            num_outputs = num_classes
        else:
            stored_targets = {
                s: _target_matrix(y, f"y_{s}", loss_fn, loss)
                for s, (_, y) in labelled.items()
            }
            num_outputs = stored_targets["train"].shape[1]
            for split, y in stored_targets.items():
                if y.shape[1] != num_outputs:
                    raise ValueError(
                        f"y_{split} has {y.shape[1]} target columns but y_train has "
                        f"{num_outputs}."
                    )
            if num_classes is not None and num_classes != num_outputs:
                raise ValueError(
                    f"num_classes={num_classes!r} does not apply to {loss_fn}, whose "
                    f"output count is the width of y_train ({num_outputs}); leave it "
                    "None."
                )
            num_classes = None

        self.loss_name = loss_fn
        self.metric_name = loss.metric_name
        self._loss = loss
        self.num_inputs = int(num_features)
        self.num_outputs = int(num_outputs)
        self.num_classes = num_classes
        self.num_train = int(x_train.shape[0])
        self.batch_size = int(min(batch_size, self.num_train))

        def to_device(split: str) -> tuple[jax.Array | None, jax.Array | None]:
            if split not in labelled:
                return None, None
            x = jnp.asarray(labelled[split][0], dtype=jnp.float32)
            return x, jnp.asarray(stored_targets[split])

        self.x_train, self.y_train = to_device("train")
        self.x_val, self.y_val = to_device("val")
        self.x_test, self.y_test = to_device("test")

    @classmethod
    def from_dataset(
        cls,
        dataset: Dataset,
        loss_fn: str = "cross_entropy",
        batch_size: int = 1000,
        validation: bool = False,
    ) -> SupervisedProblem:
        """Builds a problem from a ``Dataset``'s train split.

        The dataset's test split is always kept as ``x_test``/``y_test``. It is
        also used as the validation set (``x_val``/``y_val``) only when
        ``validation=True``; the datasets carry no separate validation split, so
        anything selected on it is no longer an unbiased test result.

        Args:
          dataset: the data.
          loss_fn: a name registered in ``LOSSES``.
          batch_size: the training batch size (capped at the train-set size).
          validation: whether to expose the test split as the validation set.

        Returns:
          The ``SupervisedProblem``.
        """
        uses_labels = LOSSES.get(loss_fn).targets == CLASS_LABELS
        return cls(
            dataset.x_train,
            dataset.y_train,
            x_val=dataset.x_test if validation else None,
            y_val=dataset.y_test if validation else None,
            loss_fn=loss_fn,
            batch_size=batch_size,
            num_classes=dataset.num_classes if uses_labels else None,
            x_test=dataset.x_test,
            y_test=dataset.y_test,
        )

    def _check_outputs(self, outputs: jax.Array) -> None:
        # Shapes are static under jit, so a width mismatch fails at trace time
        # instead of silently broadcasting into a wrong loss.
        if outputs.ndim < 1 or outputs.shape[-1] != self.num_outputs:
            raise ValueError(
                f"outputs must end in num_outputs={self.num_outputs} columns, got "
                f"shape {outputs.shape}."
            )

    def sample_batch(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Draws ``batch_size`` training samples without replacement.

        Args:
          key: a JAX PRNG key; the same key always gives the same batch.

        Returns:
          ``(x [batch_size, num_inputs], y)`` with y shaped like ``y_train``'s rows.
        """
        indices = jax.random.choice(
            key, self.num_train, shape=(self.batch_size,), replace=False
        )
        return self.x_train[indices], self.y_train[indices]

    def loss(self, outputs: jax.Array, y: jax.Array) -> jax.Array:
        """The per-sample loss.

        Args:
          outputs: network outputs ``[B, num_outputs]`` (logits for the
            cross-entropies).
          y: targets shaped like rows of ``y_train``.

        Returns:
          The loss per sample, ``[B]``.
        """
        self._check_outputs(outputs)
        return self._loss(outputs, y)

    def fitness(self, outputs: jax.Array, y: jax.Array) -> jax.Array:
        """Minus the mean loss; higher is better.

        Non-finite outputs are not masked: they give a NaN or infinite fitness,
        which the search is expected to handle.

        Args:
          outputs: network outputs ``[B, num_outputs]``.
          y: targets shaped like rows of ``y_train``.

        Returns:
          A scalar.
        """
        return -jnp.mean(self.loss(outputs, y))

    def predict(self, outputs: jax.Array) -> jax.Array:
        """Turns network outputs into predictions.

        Args:
          outputs: network outputs ``[B, num_outputs]``.

        Returns:
          int32 class ids ``[B]`` for cross_entropy, int32 0/1 values
          ``[B, num_outputs]`` (logit > 0) for binary_cross_entropy, and the
          outputs unchanged for mse.
        """
        self._check_outputs(outputs)
        if self._loss.targets == CLASS_LABELS:
            return jnp.argmax(outputs, axis=-1).astype(jnp.int32)
        if self._loss.targets == BINARY:
            return (outputs > 0).astype(jnp.int32)
        return outputs

    def accuracy(self, outputs: jax.Array, y: jax.Array) -> jax.Array:
        """The fraction of correct predictions (per target entry for binary ones).

        Args:
          outputs: network outputs ``[B, num_outputs]``.
          y: targets shaped like rows of ``y_train``.

        Returns:
          A float32 scalar in [0, 1].

        Raises:
          ValueError: for mse, which has no notion of a correct prediction.
        """
        if self._loss.targets == REAL:
            raise ValueError(
                f"accuracy is undefined for loss {self.loss_name!r}; use metric(), "
                f"which reports {self.metric_name!r}."
            )
        return jnp.mean(self.predict(outputs) == y).astype(jnp.float32)

    def metric(self, outputs: jax.Array, y: jax.Array) -> jax.Array:
        """The headline metric named by ``metric_name``.

        Args:
          outputs: network outputs ``[B, num_outputs]``.
          y: targets shaped like rows of ``y_train``.

        Returns:
          A scalar: accuracy (higher is better) or mean squared error (lower is
          better).
        """
        if self.metric_name == "accuracy":
            return self.accuracy(outputs, y)
        self._check_outputs(outputs)
        return jnp.mean(jnp.square(outputs - y))

    def __repr__(self) -> str:
        splits = [f"train={self.num_train}"]
        for split in ("val", "test"):
            x = getattr(self, f"x_{split}")
            if x is not None:
                splits.append(f"{split}={x.shape[0]}")
        return (
            f"SupervisedProblem(loss={self.loss_name!r}, inputs={self.num_inputs}, "
            f"outputs={self.num_outputs}, {', '.join(splits)}, "
            f"batch_size={self.batch_size})"
        )


@PROBLEMS.register("supervised")
def make_supervised(
    dataset: str = "digits",
    loss_fn: str = "cross_entropy",
    batch_size: int = 1000,
    validation: bool = False,
    **dataset_kwargs: Any,
) -> SupervisedProblem:
    """Builds a ``SupervisedProblem`` from a registered dataset.

    Args:
      dataset: a dataset name or spec for ``load_dataset``, e.g. ``"digits"`` or
        ``"mnist(path='/data/mnist')"``.
      loss_fn: a name registered in ``LOSSES``.
      batch_size: the training batch size (capped at the train-set size).
      validation: whether to expose the test split as the validation set; see
        ``SupervisedProblem.from_dataset``.
      **dataset_kwargs: passed to the dataset builder.

    Returns:
      The ``SupervisedProblem``.
    """
    return SupervisedProblem.from_dataset(
        load_dataset(dataset, **dataset_kwargs),
        loss_fn=loss_fn,
        batch_size=batch_size,
        validation=validation,
    )
