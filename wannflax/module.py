"""The Flax module that evaluates a padded genome, and ``compile``.

The genome's structure lives in the module's ``genome`` variable collection and
the per-connection weights in ``params``, so one module definition (and one
compiled program) serves every genome of a capacity, and search, gradient
training, proxies and export all read the same parameter tree.

The forward pass is layered: after the input contributions are summed once,
each step applies every non-input node's activation to the weighted sum of the
current node values. A node of depth k is exact after k steps, so ``depth``
steps evaluate any feed-forward genome exactly, however its slots are ordered.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from wannflax import activations as activation_table
from wannflax import graph
from wannflax.genome import ARRAY_FIELDS, Genome


class WANN(nn.Module):
    """A weight agnostic network over a padded genome.

    Attributes:
      num_inputs: input width.
      num_outputs: output width.
      max_nodes: node capacity of the genomes it evaluates.
      max_conns: connection capacity.
      activation_names: activations that may occur in the genome (static);
        only these are computed.
      num_layers: activation steps as a static int (differentiable in reverse
        mode), or None to compute the depth inside jit (forward passes only,
        as in the search).

    Research code can subclass and override :meth:`aggregate` (how a node
    combines its weighted inputs) or :meth:`activate`.
    """

    num_inputs: int
    num_outputs: int
    max_nodes: int
    max_conns: int
    activation_names: tuple[str, ...] = activation_table.PAPER_ACTIVATIONS
    num_layers: int | None = None

    def genome_variables(self) -> Genome:
        """The genome held in the ``genome`` collection (an empty one at init)."""
        empty = Genome.empty(
            self.num_inputs, self.num_outputs, self.max_nodes, self.max_conns
        )
        arrays = {
            name: self.variable("genome", name, lambda n=name: getattr(empty, n)).value
            for name in ARRAY_FIELDS
        }
        return Genome.from_arrays(arrays, self.num_inputs, self.num_outputs)

    def aggregate(self, values: jnp.ndarray, weights: jnp.ndarray) -> jnp.ndarray:
        """Combines source values into pre-activations: a weighted sum.

        Args:
          values: [..., sources] node values.
          weights: [sources, targets] weight matrix, zero where no connection.

        Returns:
          [..., targets] pre-activations.
        """
        return values @ weights

    @staticmethod
    def torch_aggregate(weighted, present):
        """The PyTorch twin of :meth:`aggregate`, used by the torch export.

        A subclass that overrides ``aggregate`` overrides this too, or export
        refuses it (the exporter cannot translate JAX code).

        Args:
          weighted: torch tensor [..., nodes, fan_in]: each incoming
            connection's source value times its weight (0 in padded slots).
          present: torch bool tensor [nodes, fan_in]: which slots hold a
            connection.

        Returns:
          [..., nodes] pre-activations; here the sum.
        """
        return weighted.sum(dim=-1)

    def activate(self, pre_activations: jnp.ndarray, activation_ids: jnp.ndarray):
        """Applies each node's activation (ids broadcast on the last axis)."""
        return activation_table.apply_activations(
            self.activation_names, activation_ids, pre_activations
        )

    def _sum_aggregation(self) -> bool:
        # A weighted sum splits over sources, which lets the input part be
        # computed once instead of once per step.
        return type(self).aggregate is WANN.aggregate

    def _steps(self, genome: Genome):
        if self.num_layers is not None:
            return int(self.num_layers)
        return graph.num_layers(genome)

    def _layered_forward(self, genome: Genome, weights: jnp.ndarray, x: jnp.ndarray):
        """Evaluates one weight matrix on a batch [..., num_inputs]."""
        first = self.num_inputs + 1
        ones = jnp.ones(x.shape[:-1] + (1,), x.dtype)
        sources = jnp.concatenate([ones, x], axis=-1)
        act_ids = genome.node_activation[first:]
        hidden_width = self.max_nodes - first
        if self._sum_aggregation():
            from_inputs = self.aggregate(sources, weights[:first, first:])

            def step(_, node_values):
                pre = from_inputs + self.aggregate(node_values, weights[first:, first:])
                return self.activate(pre, act_ids)

        else:

            def step(_, node_values):
                values = jnp.concatenate([sources, node_values], axis=-1)
                return self.activate(
                    self.aggregate(values, weights[:, first:]), act_ids
                )

        # Every non-input node starts at zero, so the first step needs no
        # product with the hidden block.
        start = jnp.zeros(x.shape[:-1] + (hidden_width,), weights.dtype)
        if self._sum_aggregation():
            node_values = self.activate(from_inputs, act_ids)
        else:
            node_values = step(0, start)
        node_values = lax.fori_loop(1, self._steps(genome), step, node_values)
        return node_values[..., : self.num_outputs]

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        """Maps a batch [B, num_inputs] to [B, num_outputs]."""
        genome = self.genome_variables()
        conn_weights = self.param(
            "conn_weights", nn.initializers.ones_init(), (self.max_conns,), jnp.float32
        )
        x = _input_batch(x, self.num_inputs)
        weights = graph.weight_matrix(genome, conn_weights.astype(x.dtype))
        return self._layered_forward(genome, weights, x)

    @nn.compact
    def sweep(
        self, x: jnp.ndarray, shared_weights: jnp.ndarray, width: int | None = None
    ) -> jnp.ndarray:
        """Outputs under each shared weight: [K] weights, [B, in] -> [K, B, out].

        Equal to ``__call__`` with every connection weight set to w, for each
        w; with sum aggregation the structure is multiplied through once and
        the K weights share one batched matrix product per step.

        Args:
          x: batch [B, num_inputs].
          shared_weights: [K] weights.
          width: static number of non-input node slots to evaluate (default
            all). Exact whenever every valid node lies below slot
            ``num_inputs + 1 + width`` (see ``graph.used_width``); the search
            uses it to skip empty capacity.
        """
        genome = self.genome_variables()
        x = _input_batch(x, self.num_inputs)
        shared_weights = jnp.asarray(shared_weights, x.dtype)
        counts = graph.weight_matrix(genome, jnp.ones(self.max_conns, x.dtype))
        if not self._sum_aggregation():
            return jax.vmap(lambda w: self._layered_forward(genome, w * counts, x))(
                shared_weights
            )

        first = self.num_inputs + 1
        last = self.max_nodes if width is None else first + max(width, self.num_outputs)
        ones = jnp.ones(x.shape[:-1] + (1,), x.dtype)
        from_inputs = jnp.concatenate([ones, x], axis=-1) @ counts[:first, first:last]
        scale = shared_weights[:, None, None]
        act_ids = genome.node_activation[first:last]
        hidden_block = counts[first:last, first:last]

        def step(_, node_values):
            pre = scale * (from_inputs + node_values @ hidden_block)
            return self.activate(pre, act_ids)

        node_values = self.activate(scale * from_inputs, act_ids)
        node_values = lax.fori_loop(1, self._steps(genome), step, node_values)
        return node_values[..., : self.num_outputs]


def _input_batch(x, num_inputs: int) -> jnp.ndarray:
    """Checks the input width; integer and bool inputs become float32.

    The weights are cast to the input dtype, so an integer batch (XOR patterns
    written as ints) would otherwise truncate a shared weight of 0.5 to 0.
    """
    x = jnp.asarray(x)
    if x.ndim < 1 or x.shape[-1] != num_inputs:
        raise ValueError(
            f"Input batch has shape {tuple(x.shape)}; the network expects "
            f"[batch, {num_inputs}]."
        )
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def used_activations(genome: Genome) -> tuple[str, ...]:
    """Names of the activations a concrete genome's valid nodes use."""
    ids = np.unique(np.asarray(genome.node_activation)[np.asarray(genome.node_valid)])
    return tuple(activation_table.activation_name(i) for i in ids)


def make_module(
    genome: Genome,
    activation_names: Sequence[str] | None = None,
    num_layers: int | None = None,
    module_class: type = WANN,
) -> WANN:
    """A module for genomes shaped like ``genome`` (single or population)."""
    return module_class(
        num_inputs=genome.num_inputs,
        num_outputs=genome.num_outputs,
        max_nodes=genome.max_nodes,
        max_conns=genome.max_conns,
        activation_names=tuple(
            activation_names
            if activation_names is not None
            else activation_table.activation_names()
        ),
        num_layers=num_layers,
    )


def compile(  # noqa: A001 - the public name the API promises.
    genome: Genome,
    shared_weight: float = 1.0,
    module_class: type = WANN,
):
    """Turns a genome into a Flax module and its variables.

    Args:
      genome: one concrete genome.
      shared_weight: the weight every valid connection starts with.
      module_class: WANN or a subclass of it.

    Returns:
      ``(module, variables)`` with ``variables = {"params": {"conn_weights":
      f32[max_conns]}, "genome": {...}}``, so ``module.apply(variables, x)``
      gives the outputs. The module has a static depth, so it can be
      differentiated in reverse mode.
    """
    if not isinstance(shared_weight, jax.core.Tracer) and not np.isfinite(
        shared_weight
    ):
        raise ValueError(f"shared_weight must be finite, got {shared_weight}.")
    if isinstance(genome.node_kind, jax.core.Tracer):
        depth, names = None, activation_table.activation_names()
    else:
        if np.ndim(genome.node_kind) != 1:
            raise ValueError(
                "compile() takes a single genome; index a population with "
                "population.index(i) first."
            )
        genome.validate()
        depth, names = int(graph.num_layers(genome)), used_activations(genome)
    module = make_module(genome, names, depth, module_class)
    conn_weights = jnp.where(genome.conn_valid, jnp.float32(shared_weight), 0.0)
    variables = {"params": {"conn_weights": conn_weights}, "genome": genome.arrays()}
    return module, variables
