"""Reading and writing networks: our own JSON format and the WANN release's.

Two formats:

* ``wannflax.network`` (:func:`save_network` / :func:`load_network`): one
  genome plus optional per-connection weights and free-form metadata, as
  readable, versioned JSON. Round trips are exact (float32 weights are written
  as the shortest decimal that reads back to the same value).
* The release's ``.out`` matrix format (:func:`load_wann_out`, :func:`load_wann_network` /
  :func:`save_wann_out`), and its ``.wann.json`` individually tuned weights
  (read through :func:`load_wann_network` with ``tuned_weights=``). The formats
  are described in ``shared/data/wann_paper/README.md``; their reader and
  writer live in ``wannflax.wann_format`` and are re-exported here.

Connection slots of a genome read from a ``.out`` file follow the file's
matrix in row-major order (source row, then target column), over enabled and
disabled entries alike; padding slots come after. So the i-th enabled slot is
the i-th enabled entry of the matrix, which is how tuned weights are matched.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from wannflax.genome import Genome, InvalidGenomeError

NETWORK_FORMAT = "wannflax.network"
NETWORK_VERSION = 1

__all__ = [
    "NETWORK_FORMAT",
    "NETWORK_VERSION",
    "load_network",
    "load_wann_network",
    "load_wann_out",
    "read_wann_tuned_weights",
    "save_network",
    "save_wann_out",
]


# -- shared helpers ----------------------------------------------------------------


def _check_single(genome: Genome) -> None:
    if np.ndim(genome.node_kind) != 1:
        raise ValueError(
            "Expected a single genome, got a population; index it with "
            "population.index(i) first."
        )


def _conn_weights(params: Any, genome: Genome) -> np.ndarray:
    """The float32 [max_conns] weights of ``params``, checked shape and finite."""
    if not isinstance(params, Mapping) or "conn_weights" not in params:
        raise ValueError(
            "params must be a mapping {'conn_weights': f32[max_conns]} (the "
            "'params' collection of compile()'s variables)."
        )
    weights = np.asarray(jax.device_get(params["conn_weights"]))
    if weights.shape != (genome.max_conns,):
        raise ValueError(
            f"params['conn_weights'] has shape {tuple(weights.shape)}; the genome "
            f"has max_conns={genome.max_conns}, so it must be ({genome.max_conns},)."
        )
    if not np.issubdtype(weights.dtype, np.floating) and not np.issubdtype(
        weights.dtype, np.integer
    ):
        raise ValueError(
            f"params['conn_weights'] has dtype {weights.dtype}; expected floats."
        )
    weights = weights.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(weights))
    if bad.size:
        slot = int(bad[0])
        raise ValueError(
            f"params['conn_weights'][{slot}] is {weights[slot]!r} (not finite); "
            f"{bad.size} slot(s) are non-finite: {bad[:10].tolist()}."
        )
    return weights


def _atomic_write(path: str | os.PathLike, text: str | bytes, overwrite: bool) -> None:
    """Writes ``text`` (str, or bytes) to ``path`` through a temp file beside it.

    Without ``overwrite`` an existing file is never touched: the final step
    is a hard link, which fails if the name appeared meanwhile.
    """
    path = os.fspath(path)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True to replace it."
        )
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        binary = isinstance(text, bytes)
        with os.fdopen(
            fd, "wb" if binary else "w", encoding=None if binary else "utf-8"
        ) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(
                    f"{path} already exists; pass overwrite=True to replace it."
                ) from None
            except OSError:
                # A filesystem without hard links: fall back to check + rename.
                if os.path.lexists(path):
                    raise FileExistsError(
                        f"{path} already exists; pass overwrite=True to replace it."
                    ) from None
                os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


# -- the wannflax.network format ---------------------------------------------------


def save_network(
    path: str | os.PathLike,
    genome: Genome,
    params: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> None:
    """Writes one genome, optional weights and metadata as versioned JSON.

    The file is ``{"format": "wannflax.network", "version": 1, "genome":
    genome.to_dict(), "conn_weights": [...] or null, "metadata": {...}}``.
    Everything is checked before anything is written, and the write is
    atomic (temp file in the same directory, then rename).

    Args:
      path: destination file.
      genome: a single, valid genome.
      params: ``{"conn_weights": f32[max_conns]}`` (e.g. ``variables["params"]``
        of :func:`wannflax.compile`), or None to store the structure only.
      metadata: a JSON-serialisable mapping (task, shared weight, score...).
      overwrite: replace an existing file; otherwise FileExistsError.

    Raises:
      FileExistsError: ``path`` exists and ``overwrite`` is False.
      ValueError: weights of the wrong shape or non-finite (naming the slot),
        metadata that is not a JSON-serialisable mapping, or a population.
      InvalidGenomeError: an invalid genome.
    """
    _check_single(genome)
    genome.validate()
    weights = None if params is None else _conn_weights(params, genome)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise ValueError(f"metadata must be a mapping, got {type(metadata).__name__}.")
    document = {
        "format": NETWORK_FORMAT,
        "version": NETWORK_VERSION,
        "genome": genome.to_dict(),
        # float(float32) is exact, and json writes floats with repr, which
        # reads back to the same double, hence the same float32.
        "conn_weights": None if weights is None else [float(w) for w in weights],
        "metadata": dict(metadata),
    }
    try:
        text = json.dumps(document, indent=1, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"metadata is not JSON-serialisable (finite numbers, strings, lists, "
            f"dicts with string keys): {error}"
        ) from error
    _atomic_write(path, text + "\n", overwrite)


def load_network(
    path: str | os.PathLike,
) -> tuple[Genome, dict[str, Any] | None, dict[str, Any]]:
    """Reads a file written by :func:`save_network`.

    Returns:
      ``(genome, params, metadata)``: the validated genome, ``{"conn_weights":
      f32[max_conns]}`` or None if the file stored no weights, and the
      metadata dict.

    Raises:
      ValueError: not JSON, another format, a newer or unknown version, or
        malformed weights. InvalidGenomeError: an invalid genome.
    """
    path = os.fspath(path)
    document = _read_json(path)
    if not isinstance(document, dict) or document.get("format") != NETWORK_FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise ValueError(
            f"{path}: field 'format' is {found!r}; expected {NETWORK_FORMAT!r}."
        )
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            f"{path}: field 'version' is {version!r}; this wannflax reads version "
            f"{NETWORK_VERSION}."
        )
    if version > NETWORK_VERSION:
        raise ValueError(
            f"{path}: field 'version' is {version}, newer than this wannflax "
            f"supports (version {NETWORK_VERSION}); upgrade wannflax to read it."
        )
    if "genome" not in document:
        raise ValueError(f"{path}: field 'genome' is missing.")
    try:
        genome = Genome.from_dict(document["genome"])
    except (KeyError, TypeError) as error:
        raise InvalidGenomeError(
            f"{path}: field 'genome' is malformed ({error!r})."
        ) from error
    raw = document.get("conn_weights")
    params = None
    if raw is not None:
        if not isinstance(raw, list) or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) for w in raw
        ):
            raise ValueError(f"{path}: field 'conn_weights' must be a list of numbers.")
        params = {"conn_weights": np.asarray(raw, np.float64)}
        try:
            weights = _conn_weights(params, genome)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
        params = {"conn_weights": weights}
    metadata = document.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: field 'metadata' must be an object.")
    return genome, params, metadata


# -- the release's .out format -----------------------------------------------------


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not a JSON file: {error}") from error


# The release's format lives in its own module; re-exported here so both
# file formats are reachable from one place.
from wannflax.wann_format import (  # noqa: E402
    load_wann_network,
    load_wann_out,
    read_wann_tuned_weights,
    save_wann_out,
)
