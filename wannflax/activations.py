"""The activation table: the WANN paper's eleven functions plus user additions.

Genomes store an activation as an integer id: its position in this table. The
paper's functions come first, in the release's order, so a paper id ``k`` is
table id ``k - 1``. Registering a new activation appends it; register before
building a module or a search, since compiled code sees the table as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax.numpy as jnp

from wannflax.registry import Registry, UnknownNameError


@dataclasses.dataclass(frozen=True)
class Activation:
    """One entry of the table.

    Attributes:
      name: the registry name.
      fn: elementwise JAX function.
      torch_fn: the same function for torch tensors, for export (optional).
      paper_id: the id used in the WANN release's files, if any.
    """

    name: str
    fn: Callable
    torch_fn: Callable | None = None
    paper_id: int | None = None


ACTIVATIONS: Registry = Registry("activation")
_TABLE: list[Activation] = []


def register_activation(
    name: str,
    fn: Callable,
    torch_fn: Callable | None = None,
    paper_id: int | None = None,
) -> Activation:
    """Adds an activation to the table and returns its entry.

    Args:
      name: a new name (an existing one raises ValueError).
      fn: an elementwise, differentiable JAX function.
      torch_fn: the matching torch function, needed only to export networks
        that use it.
      paper_id: an id from the WANN release's file format, if it has one.

    Returns:
      The table entry; its table id is ``activation_id(name)``.
    """
    entry = Activation(name, fn, torch_fn, paper_id)
    ACTIVATIONS.add(name, entry)
    _TABLE.append(entry)
    return entry


def activation_id(name: str) -> int:
    """The table id of ``name``; unknown names raise, listing the choices."""
    entry = ACTIVATIONS.get(name)
    return _TABLE.index(entry)


def activation_name(table_id: int) -> str:
    """The name behind a table id."""
    if not 0 <= int(table_id) < len(_TABLE):
        raise UnknownNameError(
            f"Unknown activation id {int(table_id)}; ids run from 0 to {len(_TABLE) - 1} "
            f"({', '.join(entry.name for entry in _TABLE)})."
        )
    return _TABLE[int(table_id)].name


def activation_names() -> tuple[str, ...]:
    """All registered names in table order."""
    return tuple(entry.name for entry in _TABLE)


def from_paper_id(paper_id: int) -> int:
    """Table id of a release id; ids the release does not know act as linear."""
    for index, entry in enumerate(_TABLE):
        if entry.paper_id == int(paper_id):
            return index
    return 0


def get(name: str) -> Activation:
    """The table entry of ``name``."""
    return ACTIVATIONS.get(name)


def _torch_builtin(name: str) -> Callable:
    # Imported lazily so that torch stays an optional dependency.
    def apply(x):
        import math

        import torch

        return {
            "linear": lambda v: v,
            "step": lambda v: (v > 0).to(v.dtype),
            # Reduce to [-1, 1] first, as sin_pi does: math.pi * v in float32
            # is off by ~|v| ulps, which sin would turn into ~1e-5 errors.
            "sin": lambda v: torch.sin(math.pi * (v - 2.0 * torch.round(0.5 * v))),
            "gaussian": lambda v: torch.exp(-0.5 * v * v),
            "tanh": torch.tanh,
            "sigmoid": lambda v: (torch.tanh(v / 2.0) + 1.0) / 2.0,
            "inverse": lambda v: -v,
            "abs": torch.abs,
            "relu": torch.relu,
            # cos(pi v) = sin(pi (v + 1/2)), reduced like sin and like the JAX
            # function (sin_pi(x + 0.5)), so the two round alike.
            "cos": lambda v: torch.sin(
                math.pi * ((v + 0.5) - 2.0 * torch.round(0.5 * (v + 0.5)))
            ),
            "square": lambda v: v * v,
        }[name](x)

    return apply


def sin_pi(x):
    """sin(pi x) by range reduction and an odd polynomial.

    XLA's CPU sine is several times slower than the other activations; this
    form vectorises and stays within 1e-6 of ``jnp.sin(jnp.pi * x)``.
    """
    reduced = x - 2.0 * jnp.round(0.5 * x)  # in [-1, 1], same sine
    folded = jnp.where(jnp.abs(reduced) > 0.5, jnp.sign(reduced) - reduced, reduced)
    z = jnp.pi * folded
    z2 = z * z
    series = -1.0 / 39916800.0
    for coefficient in (1.0 / 362880.0, -1.0 / 5040.0, 1.0 / 120.0, -1.0 / 6.0, 1.0):
        series = coefficient + z2 * series
    return z * series


_BUILTINS = (
    ("linear", lambda x: x),
    ("step", lambda x: (x > 0).astype(x.dtype)),
    ("sin", lambda x: sin_pi(x)),
    ("gaussian", lambda x: jnp.exp(-0.5 * x * x)),
    ("tanh", jnp.tanh),
    ("sigmoid", lambda x: (jnp.tanh(x / 2.0) + 1.0) / 2.0),
    ("inverse", lambda x: -x),
    ("abs", jnp.abs),
    ("relu", lambda x: jnp.maximum(x, 0.0)),
    ("cos", lambda x: sin_pi(x + 0.5)),
    ("square", lambda x: x * x),
)
for _paper_id, (_name, _fn) in enumerate(_BUILTINS, start=1):
    register_activation(_name, _fn, _torch_builtin(_name), paper_id=_paper_id)

PAPER_ACTIVATIONS: tuple[str, ...] = tuple(name for name, _ in _BUILTINS)
# The release's hidden-node pools: control tasks use ids 1-10; classification
# uses every function except the step.
CONTROL_POOL: tuple[str, ...] = PAPER_ACTIVATIONS[:10]
CLASSIFICATION_POOL: tuple[str, ...] = tuple(
    n for n in PAPER_ACTIVATIONS if n != "step"
)


def apply_activations(names: Sequence[str], act_ids: jnp.ndarray, x: jnp.ndarray):
    """Applies each node's activation to its pre-activation.

    Only the functions in ``names`` are evaluated (a node whose id is not among
    them acts as linear), so a module that knows its genome uses three
    functions pays for three. sin/cos share one sine and tanh/sigmoid one tanh,
    since under vmap every candidate function is computed for every node.

    Args:
      names: static tuple of activation names that may occur.
      act_ids: int table ids, broadcastable against ``x`` on the last axis.
      x: pre-activations [..., nodes].

    Returns:
      Activations with the shape of ``x``.
    """
    ids = {name: activation_id(name) for name in names}
    out = x
    remaining = list(names)
    if "sin" in ids and "cos" in ids:
        is_cos = act_ids == ids["cos"]
        wave = sin_pi(x + jnp.where(is_cos, 0.5, 0.0))
        out = jnp.where(is_cos | (act_ids == ids["sin"]), wave, out)
        remaining = [n for n in remaining if n not in ("sin", "cos")]
    if "tanh" in ids and "sigmoid" in ids:
        is_sigmoid = act_ids == ids["sigmoid"]
        squash = jnp.tanh(x * jnp.where(is_sigmoid, 0.5, 1.0))
        squash = jnp.where(is_sigmoid, (squash + 1.0) / 2.0, squash)
        out = jnp.where(is_sigmoid | (act_ids == ids["tanh"]), squash, out)
        remaining = [n for n in remaining if n not in ("tanh", "sigmoid")]
    for name in remaining:
        if name == "linear":
            continue
        out = jnp.where(act_ids == ids[name], get(name).fn(x), out)
    return out
