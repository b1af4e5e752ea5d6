"""Tasks a network is scored on, looked up by name in the PROBLEMS registry."""

from wannflax.registry import Registry

# Defined before the problem modules are imported, because they register
# themselves here on import.
PROBLEMS = Registry("problem")

from wannflax.problems.supervised import (  # noqa: E402 (PROBLEMS must exist first)
    LOSSES,
    Loss,
    SupervisedProblem,
    make_supervised,
)

__all__ = ["LOSSES", "PROBLEMS", "Loss", "SupervisedProblem", "make_supervised"]
