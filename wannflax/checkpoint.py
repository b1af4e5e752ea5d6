"""Orbax checkpoints of the search and training states, restored strictly.

A checkpoint holds a state pytree (arrays only; PRNG keys as raw key data)
and a JSON history. Orbax writes each step into a temporary directory and
renames it when complete, so a crash mid-write leaves the previous step
usable and the partial directory is ignored. Restoring compares every leaf's
shape and dtype with the template first: a checkpoint from a different
capacity, population size or structure fails naming the leaf, and nothing is
padded or truncated.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the state it is restored into."""


def leaf_name(path, separator: str = ".") -> str:
    """A readable name for a pytree key path: "population.conn_source".

    Dataclass fields (attributes) and their saved form (dict keys) get the
    same name.
    """
    parts = []
    for entry in path:
        for attribute in ("name", "key", "idx"):
            if hasattr(entry, attribute):
                parts.append(str(getattr(entry, attribute)))
                break
    return separator.join(parts)


def _describe(tree) -> dict:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {
        leaf_name(path): (
            tuple(np.shape(leaf)),
            np.dtype(getattr(leaf, "dtype", type(leaf))),
        )
        for path, leaf in flat
    }


class Checkpointer:
    """Numbered checkpoints of one state in ``directory``.

    Args:
      directory: where step directories live (created if missing).
      max_to_keep: how many recent steps to keep.
    """

    def __init__(self, directory: str, max_to_keep: int = 3):
        self.directory = os.path.abspath(directory)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep,
            enable_async_checkpointing=False,
            cleanup_tmp_directories=True,
        )
        # Handlers named up front, so a new process can read metadata before
        # its first save or restore.
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=options,
            item_handlers={
                "state": ocp.StandardCheckpointHandler(),
                "history": ocp.JsonCheckpointHandler(),
            },
        )

    def latest_step(self) -> int | None:
        """The newest complete step, or None."""
        return self.manager.latest_step()

    def save(self, step: int, state: Any, history: list) -> None:
        """Writes ``state`` and ``history`` as ``step`` and waits until done."""
        self.manager.save(
            int(step),
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(jax.device_get(state)),
                history=ocp.args.JsonSave(list(history)),
            ),
            force=True,
        )
        self.manager.wait_until_finished()

    def restore(self, template: Any, step: int | None = None) -> tuple:
        """Restores ``(state, history)`` shaped exactly like ``template``.

        Raises:
          FileNotFoundError: no complete checkpoint.
          CheckpointMismatchError: naming the first leaf whose shape, dtype or
            presence differs from the template.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"No complete checkpoint in {self.directory}.")
        saved = self.manager.item_metadata(step)["state"]
        saved_leaves = {
            name: (tuple(meta.shape), np.dtype(meta.dtype))
            for name, meta in _describe_metadata(saved).items()
        }
        wanted = _describe(template)
        for name in sorted(set(saved_leaves) | set(wanted)):
            if name not in saved_leaves:
                raise CheckpointMismatchError(
                    f"Checkpoint step {step} in {self.directory} has no leaf {name!r} "
                    "that the current state has."
                )
            if name not in wanted:
                raise CheckpointMismatchError(
                    f"Checkpoint step {step} in {self.directory} has a leaf {name!r} "
                    "that the current state does not have."
                )
            if saved_leaves[name] != wanted[name]:
                (s_shape, s_dtype), (w_shape, w_dtype) = (
                    saved_leaves[name],
                    wanted[name],
                )
                raise CheckpointMismatchError(
                    f"Checkpoint leaf {name!r} has shape {s_shape} ({s_dtype}) but the "
                    f"current state expects {w_shape} ({w_dtype}); a different capacity, "
                    "population size or structure cannot be restored into."
                )
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(jax.device_get(template)),
                history=ocp.args.JsonRestore(),
            ),
        )
        return restored["state"], list(restored["history"] or [])


def _describe_metadata(tree) -> dict:
    flat, _ = jax.tree_util.tree_flatten_with_path(
        tree, is_leaf=lambda node: hasattr(node, "shape") and hasattr(node, "dtype")
    )
    return {leaf_name(path): leaf for path, leaf in flat}
