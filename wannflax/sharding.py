"""Devices and hosts: the population axis sharded with ``jax.sharding``.

A search (and a Stage 2 evolution strategy) evaluates many independent
genomes, so the population axis is the natural one to split: each device
scores its slice, and XLA inserts the few collectives that ranking and
selection need. One mesh serves both stages. Data (the batch of a supervised
problem) is replicated by default, or split along a ``data`` mesh axis.

Multi-host runs join with ``jax.distributed.initialize``; every process runs
the same program on its own devices, and only process 0 writes files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import jax
import numpy as np
from absl import logging
from jax.sharding import Mesh, NamedSharding, PartitionSpec

POPULATION_AXIS = "population"
DATA_AXIS = "data"
MESH_AXES = (POPULATION_AXIS, DATA_AXIS)

# Environment variables that mean "this process is one of several hosts".
_DISTRIBUTED_VARIABLES = ("JAX_COORDINATOR_ADDRESS", "COORDINATOR_ADDRESS")


def make_mesh(
    axis_sizes: Mapping[str, int] | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> Mesh:
    """A device mesh over ``population`` (and optionally ``data``).

    Args:
      axis_sizes: size per axis name; -1 takes the devices the other axes
        leave. Default: every device on the population axis.
      devices: the devices to use (default: all of ``jax.devices()``, across
        every process of a multi-host run).

    Returns:
      A ``jax.sharding.Mesh`` with axes in the order (population, data).

    Raises:
      ValueError: an unknown axis name, more than one -1, or sizes whose
        product is not the device count.
    """
    devices = list(jax.devices() if devices is None else devices)
    sizes = dict(axis_sizes or {POPULATION_AXIS: -1})
    unknown = sorted(set(sizes) - set(MESH_AXES))
    if unknown:
        raise ValueError(
            f"Unknown mesh axis {unknown[0]!r}; the axes are: {', '.join(MESH_AXES)}."
        )
    free = [name for name, size in sizes.items() if size == -1]
    if len(free) > 1:
        raise ValueError(f"Only one mesh axis may be -1, got {', '.join(free)}.")
    fixed = math.prod(size for size in sizes.values() if size != -1)
    if any(size == 0 or size < -1 for size in sizes.values()):
        raise ValueError(f"Mesh axis sizes must be positive or -1, got {sizes}.")
    if free:
        if len(devices) % fixed:
            raise ValueError(
                f"Mesh {sizes} cannot use {len(devices)} devices: the fixed axes "
                f"need a multiple of {fixed}."
            )
        sizes[free[0]] = len(devices) // fixed
    if math.prod(sizes.values()) != len(devices):
        raise ValueError(
            f"Mesh {sizes} needs {math.prod(sizes.values())} devices; "
            f"{len(devices)} are available."
        )
    shape = tuple(sizes.get(name, 1) for name in MESH_AXES)
    return Mesh(np.asarray(devices).reshape(shape), MESH_AXES)


def parse_mesh(spec: str) -> dict[str, int]:
    """Axis sizes from a flag-friendly string: "population=4,data=2".

    Raises:
      ValueError: a part that is not ``axis=integer``, naming it.
    """
    sizes = {}
    for part in str(spec).split(","):
        name, _, size = part.partition("=")
        try:
            sizes[name.strip()] = int(size)
        except ValueError:
            raise ValueError(
                f"Mesh {spec!r}: {part!r} is not axis=size; write e.g. "
                f"'population=4,data=2' (axes: {', '.join(MESH_AXES)}) or 'auto'."
            ) from None
    return sizes


def population_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (population) axis split over the mesh's population axis."""
    return NamedSharding(mesh, PartitionSpec(POPULATION_AXIS))


def data_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (sample) axis split over the mesh's data axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array."""
    return NamedSharding(mesh, PartitionSpec())


def population_shards(mesh: Mesh) -> int:
    """How many slices the population axis is cut into."""
    return int(mesh.shape[POPULATION_AXIS])


def check_divisible(
    size: int, shards: int, field: str = "pop_size", pad: bool = False
) -> int:
    """A population size the mesh can split evenly.

    Args:
      size: the requested population size.
      shards: devices on the population axis.
      field: the config field, named in the error.
      pad: round ``size`` up to the next multiple instead of refusing.

    Returns:
      ``size``, or the next multiple of ``shards`` when ``pad``.

    Raises:
      ValueError: ``size`` is not a multiple of ``shards`` and ``pad`` is
        False; the message names the nearest valid sizes.
    """
    if size % shards == 0:
        return size
    below, above = (size // shards) * shards, (size // shards + 1) * shards
    if pad:
        logging.info(
            "%s %d padded to %d to split over %d devices.", field, size, above, shards
        )
        return above
    nearest = [str(s) for s in (below, above) if s > 0]
    raise ValueError(
        f"{field} {size} does not split over {shards} devices; the nearest valid "
        f"sizes are {' and '.join(nearest)} (or ask for padding)."
    )


def parse_distributed(enabled: bool | str) -> bool | str:
    """The ``distributed`` setting as True, False or "auto".

    A command-line override of a string-valued field stays a string, so
    ``--config.distributed=True`` arrives as "True"; the strings "true" and
    "false", in any case, therefore stand for the booleans.

    Args:
      enabled: True, False, "auto", or "true" / "false" in any case.

    Returns:
      True, False or "auto".

    Raises:
      ValueError: any other value, naming it and the valid choices.
    """
    if isinstance(enabled, str) and enabled.lower() in ("true", "false"):
        return enabled.lower() == "true"
    if enabled not in (True, False, "auto"):
        raise ValueError(f"distributed must be True, False or 'auto', got {enabled!r}.")
    return enabled


def maybe_initialize_distributed(enabled: bool | str = "auto") -> bool:
    """Joins a multi-host run when asked to, before any other JAX call.

    Args:
      enabled: True to call ``jax.distributed.initialize()`` with the
        coordinator, process count and id from JAX_COORDINATOR_ADDRESS,
        JAX_NUM_PROCESSES and JAX_PROCESS_ID where set (else as detected from
        SLURM, Open MPI or Cloud TPU);
        "auto" to do so only when JAX_COORDINATOR_ADDRESS or
        COORDINATOR_ADDRESS is set; False never. The strings "true" and
        "false" (any case, as a command-line override gives them) mean True
        and False.

    Returns:
      Whether this call initialised the distributed runtime.

    Raises:
      ValueError: ``enabled`` is none of these, naming it and the choices.
    """
    enabled = parse_distributed(enabled)
    if enabled == "auto":
        enabled = any(os.environ.get(name) for name in _DISTRIBUTED_VARIABLES)
    if not enabled:
        return False
    # Passed on explicitly where set, so the same three variables work on any
    # cluster; unset, jax.distributed detects SLURM, Open MPI or Cloud TPU.
    arguments = {}
    for name, argument, kind in (
        ("JAX_COORDINATOR_ADDRESS", "coordinator_address", str),
        ("JAX_NUM_PROCESSES", "num_processes", int),
        ("JAX_PROCESS_ID", "process_id", int),
    ):
        if os.environ.get(name):
            arguments[argument] = kind(os.environ[name])
    jax.distributed.initialize(**arguments)
    logging.info(
        "Joined a run of %d processes as process %d (%d local, %d global devices).",
        jax.process_count(),
        jax.process_index(),
        jax.local_device_count(),
        jax.device_count(),
    )
    return True


def is_primary() -> bool:
    """Whether this process writes checkpoints, reports and logs."""
    return jax.process_index() == 0
