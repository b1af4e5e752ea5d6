"""How the proxies read a WANN graph as the layered network they were defined on.

The zero-cost proxies were written for layered networks (convolutions, linear
layers, ReLUs). A WANN genome is a DAG of single nodes, so each notion is mapped
onto the graph once, here, and every proxy uses this mapping:

- **Scored parameters**: the per-connection weights ``params/conn_weights``,
  valid and enabled connections only. Padding and disabled connections never
  reach the forward pass, carry no gradient and are masked out of every sum.
- **Bias node**: an input whose value is the constant 1. It has no weight of
  its own; its outgoing connections are scored like any other.
- **Layer / stage**: a node's depth, the longest path to it from the bias or an
  input (``graph.node_depths``). The inputs are stage 0, the data; every hidden
  or output node has depth >= 1. A **connection belongs to the layer of its
  target node**.
- **ReLU-like unit**: a valid hidden or output node from which an output can be
  reached along enabled connections (a *live* node); its code bit is
  ``pre-activation > 0``. Dead nodes are left out on purpose: they cannot change
  the outputs, and counting them would let a genome raise naswot or AZ
  expressivity by growing nodes that do nothing. Live nodes occupy every depth
  from 1 to the deepest one, so stages are contiguous.

Node values come from :func:`trace`, a layered forward pass that goes through
the module's own ``aggregate`` and ``activate`` (so a research subclass that
changes either is scored as it computes) and can add a perturbation to every
node's pre-activation or value, which is how derivatives with respect to a node
are taken.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax
from jax import lax

from wannflax import graph
from wannflax.genome import ARRAY_FIELDS, HIDDEN, OUTPUT, Genome


class NodeTrace(NamedTuple):
    """Every node slot's values for a batch.

    Attributes:
      pre: f32 [B, max_nodes] pre-activations (0 for the bias and inputs).
      values: f32 [B, max_nodes] node values: 1 for the bias, the inputs, then
        each node's activation.
      outputs: f32 [B, num_outputs] the network's outputs.
    """

    pre: jax.Array
    values: jax.Array
    outputs: jax.Array


def genome_of(module, variables) -> Genome:
    """The genome held in a compiled variables dict."""
    arrays = variables["genome"]
    return Genome.from_arrays(
        {name: arrays[name] for name in ARRAY_FIELDS},
        module.num_inputs,
        module.num_outputs,
    )


def num_steps(module) -> int:
    """Static number of layered steps; exact for any genome the module holds.

    ``num_layers`` when the module has one. Otherwise the number of non-input
    node slots, an upper bound on any feed-forward genome's depth: a layered
    pass is at its fixed point after ``depth`` steps, so extra steps change
    nothing but the cost.
    """
    if module.num_layers is not None:
        return int(module.num_layers)
    return module.max_nodes - module.num_inputs - 1


def _trace_method(mdl, x, pre_shift, value_shift, steps):
    # Runs with the module bound (module.apply(..., method=_trace_method)) so a
    # subclass's aggregate / activate, and any variables they use, are live.
    genome = Genome.from_arrays(
        {name: mdl.get_variable("genome", name) for name in ARRAY_FIELDS},
        mdl.num_inputs,
        mdl.num_outputs,
    )
    conn_weights = mdl.get_variable("params", "conn_weights")
    weights = graph.weight_matrix(genome, conn_weights.astype(x.dtype))
    first = mdl.num_inputs + 1
    ones = jnp.ones(x.shape[:-1] + (1,), x.dtype)
    sources = jnp.concatenate([ones, x], axis=-1) + value_shift[:, :first]
    act_ids = genome.node_activation[first:]

    def evaluate(node_values):
        values = jnp.concatenate([sources, node_values], axis=-1)
        pre = mdl.aggregate(values, weights[:, first:]) + pre_shift[:, first:]
        return pre, mdl.activate(pre, act_ids) + value_shift[:, first:]

    start = jnp.zeros((x.shape[0], mdl.max_nodes - first), x.dtype)
    node_values = lax.fori_loop(0, steps, lambda _, v: evaluate(v)[1], start)
    # One more step at the fixed point changes no value; it yields the
    # pre-activations that belong to the final values.
    pre, node_values = evaluate(node_values)
    return NodeTrace(
        pre=jnp.concatenate([jnp.zeros_like(sources), pre], axis=-1),
        values=jnp.concatenate([sources, node_values], axis=-1),
        outputs=node_values[:, : mdl.num_outputs],
    )


def trace(module, variables, x, pre_shift=None, value_shift=None) -> NodeTrace:
    """Evaluates every node of one genome on a batch.

    Args:
      module: the WANN module (its ``aggregate`` and ``activate`` are used).
      variables: compiled variables of one genome.
      x: f32 [B, num_inputs].
      pre_shift: optional f32 [B, max_nodes] added to each node's
        pre-activation (differentiate at zero for dL/d(pre-activation)).
      value_shift: optional f32 [B, max_nodes] added to each node's value,
        inputs included (differentiate at zero for d(.)/d(node value)).

    Returns:
      The :class:`NodeTrace`.
    """
    shape = (x.shape[0], module.max_nodes)
    pre_shift = jnp.zeros(shape, x.dtype) if pre_shift is None else pre_shift
    value_shift = jnp.zeros(shape, x.dtype) if value_shift is None else value_shift
    chex.assert_shape([pre_shift, value_shift], shape)
    result = module.apply(
        variables, x, pre_shift, value_shift, num_steps(module), method=_trace_method
    )
    chex.assert_shape([result.pre, result.values], shape)
    return result


def live_units(genome: Genome, steps: int) -> jax.Array:
    """bool [max_nodes]: the ReLU-like units, valid hidden or output nodes that
    reach an output along enabled connections.

    Args:
      genome: one genome.
      steps: static bound on its depth (any path to an output is shorter).
    """
    active = genome.active_conns()
    is_output = genome.node_valid & (genome.node_kind == OUTPUT)

    def walk_back(_, live):
        feeds_live = active & live[genome.conn_target]
        reaches = jax.ops.segment_max(
            feeds_live.astype(jnp.int32),
            genome.conn_source,
            num_segments=genome.max_nodes,
        )
        return live | (reaches > 0)

    live = lax.fori_loop(0, steps, walk_back, is_output)
    is_unit_kind = (genome.node_kind == HIDDEN) | (genome.node_kind == OUTPUT)
    return live & genome.node_valid & is_unit_kind


def has_fan_in(genome: Genome) -> jax.Array:
    """bool [max_nodes]: nodes with at least one enabled incoming connection."""
    counts = jax.ops.segment_sum(
        genome.active_conns().astype(jnp.int32),
        genome.conn_target,
        num_segments=genome.max_nodes,
    )
    return counts > 0


def connection_layers(genome: Genome) -> jax.Array:
    """int32 [max_conns]: each connection's layer, the depth of its target."""
    return graph.node_depths(genome)[genome.conn_target]


def stage_masks(genome: Genome, steps: int) -> jax.Array:
    """bool [steps + 1, max_nodes]: row 0 the inputs, row s the units of depth s.

    The bias is in no stage: it is a constant, not a feature. Rows past the
    deepest unit are all False.
    """
    slots = jnp.arange(genome.max_nodes)
    inputs = (slots >= 1) & (slots <= genome.num_inputs)
    depth = graph.node_depths(genome)
    units = live_units(genome, steps)
    levels = jnp.arange(1, steps + 1)[:, None]
    return jnp.concatenate([inputs[None], units[None] & (depth[None] == levels)])


def mean_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of ``logits [B, k]`` against int ``labels [B]``."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def with_params(variables, params):
    """The variables dict with its ``params`` collection replaced."""
    return {**variables, "params": params}
