"""Population forward passes: several algorithms behind one interface, by name.

The search evaluates every genome of a population under K shared weights on
one batch. ``population_outputs`` does that for any registered strategy:

- ``node_sequential``: one step per node slot in topological order (the
  TensorNEAT forward), the baseline.
- ``layered_dense``: node depths once per genome, then depth-many dense steps
  (the module's ``sweep``), the last step computing the outputs only.
- ``depth_sorted``: each genome's nodes sorted by depth once; the depth-1
  layer (most of an evolved network) as one dense step, then the deeper
  nodes one at a time, each with its own activation only.
- ``sparse``: the connection list; gather source values, segment-sum into
  targets, one step per depth.

Every strategy folds the K shared weights into the batch (a node's weighted
sum does not depend on w, only its scaling does), computes the input part of
the sums once on the unscaled batch, and evaluates only the costly activation
functions that some node of the current chunk uses. The population can be
evaluated in chunks with ``lax.map``, which bounds memory and keeps each
chunk's working set in cache.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from wannflax import activations as activation_table
from wannflax import graph
from wannflax.genome import Genome
from wannflax.module import WANN, _input_batch
from wannflax.registry import Registry


@dataclasses.dataclass(frozen=True)
class EvaluationStrategy:
    """A registered population forward.

    Attributes:
      fn: ``fn(module, population, x, shared_weights, width, plan=None)``
        for a chunk of genomes (leading axis), a float batch ``[B,
        num_inputs]``, ``[K]`` weights and a static width; returns ``[P, K,
        B, num_outputs]``.
      skips_empty_slots: True when ``fn`` already skips node slots no genome
        of the chunk uses, so width buckets chosen outside would only add
        compiled branches (and compile time).
      plan: optional ``plan(population, width)``, run once on the whole
        population before it is cut into chunks; its result reaches every
        chunk's ``fn`` as ``plan``. A strategy that picks static sizes from
        it computes every chunk with the same shapes, hence the same
        rounding, as the whole population at once.
    """

    fn: Callable
    skips_empty_slots: bool = False
    plan: Callable | None = None


EVALUATIONS: Registry = Registry("evaluation strategy")
AUTO = "auto"


def auto_strategy(max_nodes: int, max_conns: int) -> str:
    """The strategy ``"auto"`` stands for at a capacity.

    The rule, measured with benchmarks/forward.py (evolved-looking genomes
    filling the capacity, 6 weights, populations 64-1024, batches 100 and
    1000): up to 32 node slots, ``node_sequential`` (with a handful of inputs such genomes are
    chains, and one step per node wins by up to 20%); above that
    ``depth_sorted`` (tied at 64 slots, 2-3x faster from 128 on, where wide
    input layers make most nodes depth 1). The connection capacity did not
    change the order.

    Args:
      max_nodes: node capacity.
      max_conns: connection capacity.

    Returns:
      A registered strategy name.
    """
    del max_conns
    return "node_sequential" if max_nodes <= 32 else "depth_sorted"


# Node values a chunk may hold. On the digits setting (one genome's values
# are 1.5 MB at full width) depth_sorted over budgets of 2, 4, 6, 8 and
# 12 MiB took 233/203/205/245/241 ms on full synthetic genomes and 176/154/
# 141/162/138 ms on a generation-570 search population (62-79 ms at
# generation 5, 133-161 ms at 150), 6 MiB best or within 5% throughout; the
# whole population at once (256 genomes) is 2-4x slower.
CHUNK_BYTES = 6 << 20


def auto_chunk_size(pop_size: int, num_weights: int, batch: int, width: int) -> int:
    """Genomes per chunk whose node values ``[K, B, width]`` fit CHUNK_BYTES.

    Args:
      pop_size: genomes in the population.
      num_weights: shared weights K.
      batch: samples B.
      width: non-input node slots evaluated.

    Returns:
      A chunk size between 1 and ``pop_size``.
    """
    per_genome = 4 * num_weights * batch * max(width, 1)
    return int(min(pop_size, max(1, CHUNK_BYTES // per_genome)))


def auto_sample_slices(num_weights: int, batch: int, width: int) -> int:
    """Batch slices that bring one genome's node values under CHUNK_BYTES.

    1 unless a single genome's values ``[K, B, width]`` exceed the budget
    (large batches); its samples are then evaluated slice by slice.
    """
    per_genome = 4 * num_weights * batch * max(width, 1)
    return int(min(batch, -(-per_genome // CHUNK_BYTES)))


def population_outputs(
    module: WANN,
    population: Genome,
    x: jnp.ndarray,
    shared_weights: jnp.ndarray,
    strategy: str = AUTO,
    width: int | Sequence[int] | None = None,
    chunk_size: int | None = None,
    reduce: Callable[[jnp.ndarray], jnp.ndarray] | None = None,
) -> jnp.ndarray:
    """Outputs of every genome under every shared weight.

    Equal (to float32 rounding) to ``module.sweep`` vmapped over the
    population, whatever the strategy.

    Args:
      module: a WANN (or subclass) whose capacity matches the population.
      population: genomes with a leading axis P.
      x: batch ``[B, num_inputs]``.
      shared_weights: ``[K]`` weights.
      strategy: a name in ``EVALUATIONS`` or ``"auto"``.
      width: non-input node slots to evaluate: None for all, an int (exact
        when every genome's ``graph.used_width`` is at most that), or a
        sequence of widths: one compiled branch each, the population taking
        the smallest that covers all its genomes (hidden slots fill from the
        front, so early generations use a fraction of the capacity).
      chunk_size: genomes per ``lax.map`` step; None or 0 evaluates the whole
        population at once, -1 picks ``auto_chunk_size`` for the width (and,
        where one genome's values exceed the budget, evaluates the batch in
        ``auto_sample_slices`` slices).
      reduce: applied to each chunk's outputs ``[p, K, B, num_outputs]``
        inside the chunk (for example the fitness), so the outputs of the
        whole population are never held in memory at once.

    Returns:
      float ``[P, K, B, num_outputs]``, or the concatenated ``reduce``
      results.

    Raises:
      UnknownNameError: for an unknown strategy, listing the valid names.
    """
    entry = EVALUATIONS.get(strategy)
    if strategy == AUTO:
        entry = EVALUATIONS.get(auto_strategy(module.max_nodes, module.max_conns))
    fn = entry.fn
    if type(module).aggregate is not WANN.aggregate:
        # The fast paths rely on a weighted sum; any other aggregation goes
        # through the module's own layered sweep.
        fn = _module_sweep
    x = _input_batch(x, module.num_inputs)
    shared_weights = jnp.asarray(shared_weights, x.dtype)
    size = population.node_kind.shape[0]
    capacity = module.max_nodes - module.num_inputs - 1
    if width is None:
        widths = (capacity,)
    elif isinstance(width, (int, np.integer)):
        widths = (int(width),)
    else:
        widths = tuple(sorted({int(w) for w in width}))
    widths = tuple(sorted({min(max(w, module.num_outputs), capacity) for w in widths}))
    if entry.skips_empty_slots and fn is entry.fn:
        widths = widths[-1:]

    def evaluate(width: int) -> Callable:
        chunk, slices = chunk_size, 1
        if chunk == -1:
            chunk = auto_chunk_size(size, shared_weights.shape[0], x.shape[0], width)
            slices = auto_sample_slices(shared_weights.shape[0], x.shape[0], width)

        def evaluate_population(population: Genome) -> jnp.ndarray:
            plan = None
            if entry.plan is not None and fn is entry.fn:
                plan = entry.plan(population, width)

            def outputs(chunk: Genome, x: jnp.ndarray) -> jnp.ndarray:
                return fn(module, chunk, x, shared_weights, width, plan=plan)

            def evaluate_chunk(chunk: Genome) -> jnp.ndarray:
                if slices == 1:
                    result = outputs(chunk, x)
                else:
                    result = _map_samples(functools.partial(outputs, chunk), x, slices)
                return result if reduce is None else reduce(result)

            return _map_chunks(evaluate_chunk, population, chunk)

        return evaluate_population

    if len(widths) == 1:
        return evaluate(widths[0])(population)
    needed = jnp.max(graph.used_width(population))
    return lax.switch(
        _bucket(widths, needed), [evaluate(w) for w in widths], population
    )


def _map_samples(fn: Callable, x: jnp.ndarray, slices: int) -> jnp.ndarray:
    """``fn(x)`` ([P, K, B, out]) computed over ``slices`` batch slices by lax.map."""
    batch = x.shape[0]
    per_slice = -(-batch // slices)
    # The last slice is filled up with copies of the last sample, cut below.
    padded = jnp.concatenate(
        [x, jnp.broadcast_to(x[-1:], (slices * per_slice - batch, x.shape[1]))]
    )
    outputs = lax.map(fn, padded.reshape(slices, per_slice, x.shape[1]))
    outputs = jnp.moveaxis(outputs, 0, 2)  # [P, K, slices, per_slice, out]
    return outputs.reshape(*outputs.shape[:2], -1, outputs.shape[-1])[:, :, :batch]


def _map_chunks(fn: Callable, population: Genome, chunk_size: int | None):
    """``fn`` over the population in chunks, as one ``lax.map`` (never unrolled)."""
    size = population.node_kind.shape[0]
    if not chunk_size or chunk_size >= size:
        return fn(population)
    num_chunks = -(-size // chunk_size)
    padding = num_chunks * chunk_size - size

    def split(leaf):
        # The last chunk is filled up with copies of the first genome, whose
        # outputs are dropped again below.
        filler = jnp.broadcast_to(leaf[:1], (padding, *leaf.shape[1:]))
        leaf = jnp.concatenate([leaf, filler]) if padding else leaf
        return leaf.reshape(num_chunks, chunk_size, *leaf.shape[1:])

    outputs = lax.map(fn, jax.tree.map(split, population))
    return outputs.reshape(num_chunks * chunk_size, *outputs.shape[2:])[:size]


# -- shared pieces ---------------------------------------------------------------


def _activation(module: WANN) -> Callable:
    """``act(ids, compute, *operands)``: activations of ``compute(*operands)``.

    The pre-activations are computed inside :func:`present_activations`'s
    branch, so the scaling and the product fuse with the activation instead
    of being written out first. A subclass's own ``activate`` is called
    through ``module.apply``.
    """
    if type(module).activate is not WANN.activate:
        method = type(module).activate

        def act(ids, compute, *operands):
            return module.apply({}, compute(*operands), ids, method=method)

        return act
    return functools.partial(present_activations, tuple(module.activation_names))


# The activations that cost more than a compare and a select; the members of a
# group share one evaluation in activations.apply_activations.
_COSTLY_GROUPS = (("sin", "cos"), ("tanh", "sigmoid"), ("gaussian",))


def present_activations(
    names: Sequence[str],
    activation_ids: jnp.ndarray,
    compute: Callable[..., jnp.ndarray],
    *operands,
) -> jnp.ndarray:
    """``apply_activations`` skipping the costly functions no node here uses.

    ``apply_activations`` computes every listed function for every element
    (a node's function is data, so vmapped code cannot branch on it). Here a
    ``lax.switch`` on the costly groups (sine, tanh, exp) that
    ``activation_ids`` names picks a variant without the others: the cheap
    functions alone, one costly group, or all of them. A node evaluated on
    its own thus pays for its function only. The result is bit-identical: a
    dropped group has no node to act on.

    Args:
      names: static tuple of activation names that may occur.
      activation_ids: int ids, broadcastable against the pre-activations.
      compute: maps ``operands`` to the pre-activations; it runs inside the
        chosen branch, so it fuses with the activation.
      *operands: arrays passed to ``compute``.

    Returns:
      The activations, shaped like the pre-activations.
    """
    names = tuple(names)
    groups = [
        tuple(n for n in group if n in names)
        for group in _COSTLY_GROUPS
        if any(n in names for n in group)
    ]

    def variant(dropped):
        kept = tuple(n for n in names if n not in dropped)

        def apply(ids, *operands):
            return activation_table.apply_activations(kept, ids, compute(*operands))

        return apply

    if not groups:
        return variant(())(activation_ids, *operands)
    costly = {n for group in groups for n in group}
    variants = [variant(costly)]
    variants += [variant(costly - set(group)) for group in groups]
    variants.append(variant(()))
    present = jnp.stack(
        [
            jnp.any(
                jnp.isin(
                    activation_ids,
                    jnp.asarray([activation_table.activation_id(n) for n in group]),
                )
            )
            for group in groups
        ]
    )
    count = jnp.sum(present)
    index = jnp.where(
        count == 0, 0, jnp.where(count == 1, 1 + jnp.argmax(present), len(variants) - 1)
    )
    return lax.switch(index, variants, activation_ids, *operands)


def _hidden_matrix(genome: Genome, width: int) -> jnp.ndarray:
    """[width, width] enabled-connection counts among the non-input slots.

    Entry (i, j) counts connections from slot ``first + i`` to ``first + j``
    (0 or 1: genomes hold no duplicate connections).
    """
    first = genome.num_inputs + 1
    between = genome.active_conns() & (genome.conn_source >= first)
    # Row `width` is out of range, so connections from inputs drop.
    source = jnp.where(between, genome.conn_source - first, width)
    counts = jnp.zeros((width, width), jnp.float32)
    return counts.at[source, genome.conn_target - first].add(1.0, mode="drop")


def _sources(x: jnp.ndarray) -> jnp.ndarray:
    """[B, 1 + num_inputs]: the bias column then the inputs."""
    return jnp.concatenate([jnp.ones(x.shape[:-1] + (1,), x.dtype), x], axis=-1)


def _input_matrix(genome: Genome, width: int) -> jnp.ndarray:
    """[1 + num_inputs, width] enabled-connection counts from bias and inputs."""
    first = genome.num_inputs + 1
    from_input = genome.active_conns() & (genome.conn_source < first)
    # Column `width` is out of range, so other connections drop.
    target = jnp.where(from_input, genome.conn_target - first, width)
    counts = jnp.zeros((first, width), jnp.float32)
    return counts.at[genome.conn_source, target].add(1.0, mode="drop")


def _input_sums(x: jnp.ndarray, input_matrix: jnp.ndarray) -> jnp.ndarray:
    """[P, B, nodes]: each node's sum over the bias and inputs.

    It does not depend on the shared weight, so it is computed once on the
    unscaled batch. Every strategy computes it by this same product, so their
    results differ only by the order of the sums over hidden sources.
    """
    return jnp.einsum("bi,pij->pbj", _sources(x), input_matrix.astype(x.dtype))


def _population_input_sums(population: Genome, x, width: int) -> jnp.ndarray:
    """``_input_sums`` of every non-input slot up to ``width``."""
    return _input_sums(x, jax.vmap(_input_matrix, (0, None))(population, width))


def _column_sums(column: jnp.ndarray, values: jnp.ndarray) -> jnp.ndarray:
    """[P, K, B]: one node's sum over the node rows, ``column`` [P, nodes] weighted.

    The barrier keeps XLA from fusing the addition that follows into the
    product, which it does for some batch sizes only; the rounding would
    then depend on the chunk size.
    """
    return lax.optimization_barrier(jnp.einsum("pn,pnkb->pkb", column, values))


def _depths(population: Genome) -> jnp.ndarray:
    """int32 [P, max_nodes] active-connection depths, 0 for padding slots."""
    return jax.vmap(graph.node_depths)(population)


def _chunk_depth(depths: jnp.ndarray) -> jnp.ndarray:
    """Layered steps the deepest genome of a chunk needs (>= 1)."""
    return jnp.maximum(jnp.max(depths), 1)


# -- the strategies --------------------------------------------------------------


def node_sequential(module, population, x, shared_weights, width, plan=None):
    """One node per step, in topological order: as many steps as nodes.

    Node values live node-major, ``[P, width, K, B]``. A step takes, for one
    node per genome, the sum of its hidden sources (a product with its column
    of the count matrix), adds its input sum, scales by w and activates.
    """
    act = _activation(module)
    first = module.num_inputs + 1
    size = population.node_kind.shape[0]
    from_inputs = _population_input_sums(population, x, width)  # [P, B, width]
    hidden = jax.vmap(_hidden_matrix, (0, None))(population, width)
    valid = population.node_valid[:, first : first + width]
    depths = _depths(population)[:, first : first + width]
    # Padding slots sort last; nodes of equal depth never feed each other.
    order = jnp.argsort(jnp.where(valid, depths, width + 1), axis=1, stable=True)
    node_ids = jnp.take_along_axis(
        population.node_activation[:, first : first + width], order, axis=1
    )
    values = jnp.zeros((size, width, shared_weights.shape[0], x.shape[0]), x.dtype)
    scale = shared_weights[None, :, None]
    genome_index = jnp.arange(size)

    def step(i, values):
        node = order[:, i]
        column = jnp.take_along_axis(hidden, node[:, None, None], axis=2)[..., 0]
        own_inputs = jnp.take_along_axis(from_inputs, node[:, None, None], axis=2)
        own_inputs = own_inputs[:, None, :, 0]

        def pre(own_inputs, column, values):
            return scale * (own_inputs + _column_sums(column, values))

        new = act(node_ids[:, i, None, None], pre, own_inputs, column, values)
        return values.at[genome_index, node].set(new)

    steps = jnp.max(jnp.sum(valid, axis=1))
    values = lax.fori_loop(0, steps, step, values)
    return jnp.moveaxis(values[:, : module.num_outputs], 1, -1)


def layered_dense(module, population, x, shared_weights, width, plan=None):
    """Depth-many dense steps over all width columns, the last one outputs only.

    As ``WANN.sweep``: values ``[P, K, B, width]``; after k steps every node
    of depth <= k holds its final value. The step count is the chunk's
    deepest genome, from depths computed once per genome.
    """
    act = _activation(module)
    first = module.num_inputs + 1
    num_outputs = module.num_outputs
    from_inputs = _population_input_sums(population, x, width)
    from_inputs = from_inputs[:, None]  # [P, 1, B, width]
    hidden = jax.vmap(_hidden_matrix, (0, None))(population, width)
    ids = population.node_activation[:, None, None, first : first + width]
    scale = shared_weights[None, :, None, None]
    depth = _chunk_depth(_depths(population))

    def step(_, values):
        return act(
            ids,
            lambda v: scale * (from_inputs + jnp.einsum("pkbi,pij->pkbj", v, hidden)),
            values,
        )

    # The nodes feeding the outputs need depth - 1 steps; at depth 1 the
    # outputs read the inputs alone and no full step is needed.
    values = lax.cond(
        depth > 1,
        lambda: act(ids, lambda f: scale * f, from_inputs),
        lambda: jnp.zeros(
            (hidden.shape[0], shared_weights.shape[0], x.shape[0], width), x.dtype
        ),
    )
    values = lax.fori_loop(1, depth - 1, step, values)

    def outputs(values):
        pre = from_inputs[..., :num_outputs] + jnp.einsum(
            "pkbi,pij->pkbj", values, hidden[..., :num_outputs]
        )
        return scale * pre

    return act(ids[..., :num_outputs], outputs, values)


def _size_ladder(width: int) -> tuple[int, ...]:
    """Static row counts a chunk's windows round up to: width, halved down to 8."""
    sizes = [width]
    while sizes[-1] > 8:
        sizes.append(max(-(-sizes[-1] // 2), 8))
    return tuple(sorted(set(sizes)))


def _bucket(sizes: tuple[int, ...], needed: jnp.ndarray) -> jnp.ndarray:
    """Index of the smallest static size that holds ``needed``."""
    return jnp.minimum(jnp.searchsorted(jnp.asarray(sizes), needed), len(sizes) - 1)


def _sort_keys(
    population: Genome, width: int, hidden: jnp.ndarray | None = None
) -> jnp.ndarray:
    """int32 [P, width]: each non-input slot's place in depth order.

    Padding 0, hidden nodes their depth, and so the outputs, except that an
    output feeding no node (every output of an evolved genome: the
    add-connection mutation never starts at one) is a sink, ``width + 1``,
    after all the others: nothing waits for a sink, so the sinks are
    computed together in one last step. ``hidden``: the population's
    ``_hidden_matrix`` at this width, when the caller has it already.
    """
    first = population.num_inputs + 1
    valid = population.node_valid[:, first : first + width]
    keys = jnp.where(valid, _depths(population)[:, first : first + width], 0)
    if hidden is None:
        hidden = jax.vmap(_hidden_matrix, (0, None))(population, width)
    feeds = jnp.any(hidden > 0, axis=2)
    is_output = jnp.arange(width) < population.num_outputs
    return jnp.where(is_output & ~feeds, width + 1, keys)


def _depth_counts(population: Genome, width: int) -> jnp.ndarray:
    """[2]: the most valid non-input nodes, and deep ones, of any genome.

    Deep: nodes of depth >= 2 and sinks (see ``_sort_keys``).
    """
    keys = _sort_keys(population, width)
    return jnp.stack(
        [jnp.max(jnp.sum(keys >= 1, axis=1)), jnp.max(jnp.sum(keys >= 2, axis=1))]
    )


def depth_sorted(module, population, x, shared_weights, width, plan=None):
    """Nodes sorted by depth: the first layer as one dense step, then node by node.

    Each genome's non-input slots are permuted once so that depths ascend
    (padding, depth 1, depth 2, ..., then the sinks: the outputs that feed
    no node); values live node-major, ``[P, nodes, K, B]``, and only the
    last ``active`` rows hold valid nodes. Depth-1 nodes
    read the inputs alone, so they are one activation of their input sums;
    in evolved genomes that is most of the network. The deeper nodes and
    the sinks sit in the last ``tail`` rows. The depth-1 rows before them
    are final, so their share of the tail's sums is one product, taken
    once. Then the deeper rows that are no sinks are computed one at a time
    in sorted (hence topological) order, each a product with the tail column
    of its sources and its own activation only (see
    ``present_activations``), and last every sink at once, in one product.
    ``active`` and ``tail`` are the population's largest counts rounded up
    to a few static sizes, so empty capacity costs nothing.
    """
    act = _activation(module)
    first = module.num_inputs + 1
    hidden = jax.vmap(_hidden_matrix, (0, None))(population, width)
    keys = _sort_keys(population, width, hidden)
    perm = jnp.argsort(keys, axis=1, stable=True)
    keys = jnp.take_along_axis(keys, perm, axis=1)
    hidden = jnp.take_along_axis(hidden, perm[:, :, None], axis=1)
    hidden = jnp.take_along_axis(hidden, perm[:, None, :], axis=2)
    input_matrix = jax.vmap(_input_matrix, (0, None))(population, width)
    input_matrix = jnp.take_along_axis(input_matrix, perm[:, None, :], axis=2)
    ids = population.node_activation[:, first : first + width]
    ids = jnp.take_along_axis(ids, perm, axis=1)[:, :, None, None]
    output_rows = jnp.argsort(perm, axis=1)[:, : module.num_outputs]
    scale = shared_weights[None, None, :, None]
    sizes = _size_ladder(width)
    # The static sizes follow the whole population's counts (the plan), so
    # chunking leaves every sum's grouping, hence its rounding, unchanged;
    # the row loop follows this chunk's own deep nodes: it ends where the
    # sinks of the genome with most of them begin (a sink it passes is
    # recomputed by the last step anyway).
    num_deep = jnp.max(jnp.sum(keys >= 2, axis=1))
    num_sinks = jnp.min(jnp.sum(keys == width + 1, axis=1))
    if plan is None:
        plan = _depth_counts(population, width)

    def evaluate(active, tail):
        start, head = width - active, active - tail
        # Every genome's sinks (outputs only, so at most num_outputs, and
        # counted in the tail) lie in the tail's last `sinks` rows.
        sinks = min(module.num_outputs, tail)
        # From here on rows are counted within the active window.
        from_inputs = _input_sums(x, input_matrix[..., start:])
        from_inputs = jnp.moveaxis(from_inputs, 2, 1)[:, :, None, :]  # [P, a, 1, B]
        window_ids = ids[:, start:]
        block = hidden[:, start:, start:]
        # Head and tail are separate arrays, so no step copies a whole buffer.
        head_values = act(
            window_ids[:, :head], lambda f: scale * f, from_inputs[:, :head]
        )
        tail_values = act(
            window_ids[:, head:], lambda f: scale * f, from_inputs[:, head:]
        )
        tail_ids = window_ids[:, head:]  # [P, t, 1, 1]
        tail_block = block[:, head:, head:]
        from_head = jnp.einsum("pij,pikb->pjkb", block[:, :head, head:], head_values)
        # Unfused for the reason given in _column_sums.
        base = from_inputs[:, head:] + lax.optimization_barrier(from_head)

        def pre(row_base, row_sums):
            return scale[:, 0] * (row_base + row_sums)

        def step(row, tail_values):
            # Rows before `row` are final, later ones hold no source of it.
            # Only the row's own arrays enter the activation's branches.
            column = lax.dynamic_index_in_dim(tail_block, row, 2, keepdims=False)
            new = act(
                lax.dynamic_index_in_dim(tail_ids, row, 1, keepdims=False),
                pre,
                lax.dynamic_index_in_dim(base, row, 1, keepdims=False),
                _column_sums(column, tail_values),
            )
            return lax.dynamic_update_index_in_dim(tail_values, new, row, 1)

        tail_values = lax.fori_loop(
            tail - num_deep, tail - num_sinks, step, tail_values
        )
        sums = jnp.einsum(
            "pij,pikb->pjkb", tail_block[:, :, tail - sinks :], tail_values
        )
        last = act(
            tail_ids[:, tail - sinks :],
            lambda base, sums: scale * (base + sums),
            base[:, tail - sinks :],
            lax.optimization_barrier(sums),
        )
        is_sink = (keys[:, width - sinks :] == width + 1)[:, :, None, None]
        last = jnp.where(is_sink, last, tail_values[:, tail - sinks :])
        tail_values = jnp.concatenate([tail_values[:, : tail - sinks], last], axis=1)
        rows = (output_rows - start)[:, :, None, None]
        outputs = jnp.take_along_axis(
            tail_values, jnp.clip(rows - head, 0, tail - 1), axis=1
        )
        if head:
            in_head = jnp.take_along_axis(
                head_values, jnp.clip(rows, 0, head - 1), axis=1
            )
            outputs = jnp.where(rows < head, in_head, outputs)
        return jnp.moveaxis(outputs, 1, -1)

    pairs = [(a, t) for a in sizes for t in sizes if t <= a]
    active, tail = _bucket(sizes, plan[0]), _bucket(sizes, plan[1])
    return lax.switch(
        active * (active + 1) // 2 + tail,
        [functools.partial(evaluate, a, t) for a, t in pairs],
    )


def _connection_buckets(max_conns: int) -> tuple[int, ...]:
    """Static connection counts a sparse step may gather: halved down to 16."""
    counts = [max_conns]
    while counts[-1] > 16:
        counts.append(-(-counts[-1] // 2))
    return tuple(sorted(set(counts)))


def sparse(module, population, x, shared_weights, width, plan=None):
    """The connection list, one step per depth.

    Each step gathers the source values of the enabled connections between
    non-input nodes, segment-sums them into their targets, adds the input
    sums and activates every node. Those connections are moved to the front
    of each genome's list (ordered by source, so the sums run in the same
    order as a dense product), and a step gathers only as many as the
    chunk's genomes hold, rounded up to one of a few static counts.
    """
    act = _activation(module)
    first = module.num_inputs + 1
    size = population.node_kind.shape[0]
    # [P, width, 1, B]: node-major, like the values.
    sums_in = jnp.moveaxis(_population_input_sums(population, x, width), 2, 1)[
        :, :, None, :
    ]
    source, target = population.conn_source, population.conn_target
    between = population.active_conns() & (source >= first)
    # Enabled hidden-to-hidden connections first, by source then target.
    rank = jnp.where(
        between, source * population.max_nodes + target, jnp.iinfo(jnp.int32).max
    )
    order = jnp.argsort(rank, axis=1, stable=True)
    between = jnp.take_along_axis(between, order, axis=1)
    rows = jnp.where(between, jnp.take_along_axis(source, order, axis=1) - first, 0)
    targets = jnp.where(between, jnp.take_along_axis(target, order, axis=1) - first, 0)
    ids = population.node_activation[:, first : first + width, None, None]
    scale = shared_weights[None, None, :, None]
    genome_index = jnp.arange(size)[:, None]
    depth = _chunk_depth(_depths(population))
    buckets = _connection_buckets(population.max_conns)

    def steps_gathering(count):
        def step(_, values):
            gathered = jnp.take_along_axis(values, rows[:, :count, None, None], axis=1)
            gathered = jnp.where(between[:, :count, None, None], gathered, 0.0)
            sums = (
                jnp.zeros_like(values)
                .at[genome_index, targets[:, :count]]
                .add(gathered)
            )
            return act(ids, lambda s: scale * (sums_in + s), sums)

        return lambda values: lax.fori_loop(1, depth, step, values)

    values = act(ids, lambda s: scale * s, sums_in)  # [P, width, K, B]
    needed = jnp.max(jnp.sum(between, axis=1))
    values = lax.switch(
        _bucket(buckets, needed), [steps_gathering(c) for c in buckets], values
    )
    return jnp.moveaxis(values[:, : module.num_outputs], 1, -1)


def _module_sweep(module, population, x, shared_weights, width, plan=None):
    """The module's own ``sweep`` per genome (any aggregation)."""

    def one(genome):
        return module.apply(
            {"genome": genome.arrays()},
            x,
            shared_weights,
            width,
            method=type(module).sweep,
        )

    return jax.vmap(one)(population)


EVALUATIONS.add("node_sequential", EvaluationStrategy(node_sequential))
EVALUATIONS.add("layered_dense", EvaluationStrategy(layered_dense))
EVALUATIONS.add("depth_sorted", EvaluationStrategy(depth_sorted, True, _depth_counts))
EVALUATIONS.add("sparse", EvaluationStrategy(sparse))


def _auto(module, population, x, shared_weights, width, plan=None):
    """The strategy ``auto_strategy`` picks for the module's capacity."""
    name = auto_strategy(module.max_nodes, module.max_conns)
    return EVALUATIONS.get(name).fn(module, population, x, shared_weights, width)


EVALUATIONS.add(AUTO, EvaluationStrategy(_auto))
