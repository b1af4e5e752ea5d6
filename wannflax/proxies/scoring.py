"""Entry points: one genome's score, a population's scores, population variables."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np

from wannflax import activations as activation_table
from wannflax import graph
from wannflax.genome import ARRAY_FIELDS, Genome
from wannflax.proxies.proxy import DEFAULT_SEED, PROXIES, Proxy


def population_variables(population: Genome, shared_weight: float = 1.0) -> dict:
    """Variables of a whole population, laid out as ``compile`` lays out one.

    Args:
      population: a Genome with a leading population axis.
      shared_weight: the weight of every valid connection.

    Returns:
      ``{"params": {"conn_weights": f32[P, max_conns]}, "genome": {...[P, ...]}}``.
    """
    conn_weights = jnp.where(population.conn_valid, jnp.float32(shared_weight), 0.0)
    return {"params": {"conn_weights": conn_weights}, "genome": population.arrays()}


def _check_variables(module, variables, leading: tuple[int, ...]) -> None:
    """Shapes of the variables against the module's capacity (and batch axes)."""
    if not {"params", "genome"} <= set(variables):
        raise ValueError(
            "Proxies take the whole variables dict from compile(), with its 'params' "
            f"and 'genome' collections; got the keys {sorted(variables)}."
        )
    conn_weights = variables["params"]["conn_weights"]
    expected = leading + (module.max_conns,)
    if tuple(conn_weights.shape) != expected:
        raise ValueError(
            f"params/conn_weights has shape {tuple(conn_weights.shape)}; the module "
            f"(max_conns={module.max_conns}) expects {expected}."
        )
    for name in ARRAY_FIELDS:
        array = variables["genome"][name]
        capacity = module.max_nodes if name.startswith("node") else module.max_conns
        if tuple(np.shape(array)) != leading + (capacity,):
            raise ValueError(
                f"genome/{name} has shape {tuple(np.shape(array))}; expected "
                f"{leading + (capacity,)} for this module."
            )
    chex.assert_tree_all_finite(conn_weights)


_depths = jax.jit(jax.vmap(graph.num_layers))


def _fitted_module(module, genome_arrays: dict):
    """The module with enough static steps and every activation the genomes use.

    A layered pass is exact once it has as many steps as the deepest genome;
    more steps change nothing, so ``num_layers`` only ever grows. A module
    from ``compile`` knows only its own genome's activations (others would act
    as linear), so any missing ones are added.
    """
    arrays = {name: np.asarray(genome_arrays[name]) for name in ARRAY_FIELDS}
    batched = Genome.from_arrays(
        {name: a.reshape((-1, a.shape[-1])) for name, a in arrays.items()},
        module.num_inputs,
        module.num_outputs,
    )
    depth = int(np.max(_depths(batched)))
    used = np.unique(
        np.asarray(batched.node_activation)[np.asarray(batched.node_valid)]
    )
    missing = {activation_table.activation_name(i) for i in used}
    missing -= set(module.activation_names)
    activation_names = module.activation_names
    if missing:
        wanted = set(activation_names) | missing
        activation_names = tuple(
            n for n in activation_table.activation_names() if n in wanted
        )
    return module.clone(
        num_layers=max(module.num_layers or 0, depth),
        activation_names=activation_names,
    )


def _proxies(names) -> tuple[Proxy, ...]:
    if isinstance(names, str):
        names = (names,)
    return tuple(PROXIES.get(name) for name in names)


def _checked_inputs(proxies, module, x, y):
    """Batch and labels checked once for all proxies (labels kept if any needs them)."""
    checked_x, checked_y = x, None
    for proxy in proxies:
        checked_x, labels = proxy.check_inputs(module, x, y)
        checked_y = labels if labels is not None else checked_y
    chex.assert_tree_all_finite(checked_x)
    return checked_x, checked_y


def _key(key):
    return jax.random.key(DEFAULT_SEED) if key is None else key


@functools.partial(jax.jit, static_argnames=("proxy", "module"))
def _score_one(proxy, module, variables, x, y, key):
    return proxy(module, variables, x, y, key)


@functools.partial(jax.jit, static_argnames=("proxies", "module", "chunk_size"))
def _score_population(proxies, module, variables, x, y, key, chunk_size):
    def scores(genome_variables):
        return {p.name: p(module, genome_variables, x, y, key) for p in proxies}

    if chunk_size is None:
        return jax.vmap(scores)(variables)
    return jax.lax.map(scores, variables, batch_size=chunk_size)


def compute(name: str, module, params, x, y=None, key=None) -> float:
    """Scores one compiled genome with the proxy ``name``.

    Args:
      name: a registered proxy (``PROXIES.names()``).
      module: the module from ``compile`` (or any WANN module of the genome's
        capacity; its depth and activations are widened to fit the genome).
      params: the full variables dict from ``compile``, ``{"params":
        {"conn_weights": f32[max_conns]}, "genome": {...}}`` (the weights are
        scored where they stand, e.g. all equal to the shared weight).
      x: batch [B, num_inputs]; proxies that need no data (synflow,
        complexity) still take one to check the width.
      y: integer class labels [B]; needed by snip, grasp, fisher, grad_norm and
        plain.
      key: PRNG key (az_trainability's probes); None means
        ``jax.random.key(0)``.

    Returns:
      The score as a Python float, higher is better; ``UNDEFINED`` (-inf) when
      the proxy is undefined for this genome.

    Raises:
      UnknownNameError: an unknown proxy, listing the registered ones.
      ValueError: a batch of the wrong width, missing or bad labels, or
        variables of another capacity.
      AssertionError: a non-finite weight or input (chex), which no score
        could mean anything for.
    """
    (proxy,) = _proxies(name)
    _check_variables(module, params, ())
    module = _fitted_module(module, params["genome"])
    x, y = _checked_inputs((proxy,), module, x, y)
    return float(_score_one(proxy, module, params, x, y, _key(key)))


def compute_population(
    names: str | Sequence[str],
    module,
    population_variables: dict,
    x,
    y=None,
    key=None,
    *,
    chunk_size: int | None = None,
) -> dict[str, jax.Array]:
    """Scores every genome of a population with each named proxy, in one jit.

    The genomes are vmapped (no Python loop over them); the module's static
    depth is raised to the deepest genome's, which is exact for all of them.
    Call it with concrete arrays (it reads the depths); inside a jitted search
    step, vmap a ``Proxy`` from ``PROXIES`` directly with a module whose
    ``num_layers`` bounds the population's depth.

    Args:
      names: a proxy name or a sequence of them.
      module: a WANN module of the population's capacity.
      population_variables: variables with a leading population axis on every
        leaf (``population_variables(population)``, or compiled variables
        stacked with ``jax.tree.map(jnp.stack, ...)``).
      x: batch [B, num_inputs], shared by all genomes.
      y: integer class labels [B], shared.
      key: PRNG key, shared, so every genome sees the same probes.
      chunk_size: if given, evaluate that many genomes at a time
        (``lax.map``) to bound memory.

    Returns:
      ``{name: f32[P]}``, each entry finite or ``UNDEFINED``.

    Raises:
      As :func:`compute`.
    """
    proxies = _proxies(names)
    conn_weights = population_variables["params"]["conn_weights"]
    if np.ndim(conn_weights) != 2:
        raise ValueError(
            f"population_variables need a leading population axis; "
            f"params/conn_weights has shape {tuple(np.shape(conn_weights))}."
        )
    _check_variables(module, population_variables, (int(conn_weights.shape[0]),))
    module = _fitted_module(module, population_variables["genome"])
    x, y = _checked_inputs(proxies, module, x, y)
    return _score_population(
        proxies, module, population_variables, x, y, _key(key), chunk_size
    )
