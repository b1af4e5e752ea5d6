"""Tasks a network is scored on, looked up by name in the PROBLEMS registry."""

from wannflax.registry import Registry

# Defined before the problem modules are imported, because they register
# themselves here on import.
PROBLEMS = Registry("problem")

from wannflax.problems.brax_env import BraxProblem  # noqa: E402 (registers brax/*)
from wannflax.problems.rl import (  # noqa: E402
    ACTION_MAPPINGS,
    ENVIRONMENTS,
    GymnaxProblem,
    PolicyProblem,
    make_environment,
)
from wannflax.problems.supervised import (  # noqa: E402 (PROBLEMS must exist first)
    LOSSES,
    Loss,
    SupervisedProblem,
    make_supervised,
)
from wannflax.problems.swingup import SwingUpProblem  # noqa: E402 (registers "swingup")

__all__ = [
    "ACTION_MAPPINGS",
    "ENVIRONMENTS",
    "BraxProblem",
    "LOSSES",
    "PROBLEMS",
    "GymnaxProblem",
    "Loss",
    "PolicyProblem",
    "SupervisedProblem",
    "SwingUpProblem",
    "make_environment",
    "make_supervised",
]
