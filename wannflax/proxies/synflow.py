"""SynFlow, computed exactly in log space.

Tanaka, Kunin, Yamins and Ganguli, "Pruning neural networks without any data by
iteratively conserving synaptic flow", NeurIPS 2020,
https://arxiv.org/abs/2006.05467.

The reference replaces every weight by its absolute value, feeds an all-ones
input through a ReLU network and scores ``sum |theta * dR/dtheta|`` with ``R``
the sum of the outputs. With non-negative weights and inputs every ReLU passes
its input unchanged, so the reference scores a *linear* network. wannflax keeps
that meaning for every activation (sin, gaussian and the rest would not stay
positive or homogeneous): all nodes act as the identity, the bias and the
inputs are 1, and aggregation is the plain weighted sum. Then

    R = sum over source->output paths p of prod_{c in p} |theta_c|,

and since each path's product is homogeneous of degree len(p) in the weights,

    synflow = sum_c |theta_c| dR/d|theta_c| = sum_p len(p) prod_{c in p} |theta_c|.

Path sums reach 1e40 on a 40-layer network of width 10 and overflow float32, so
the forward pass runs on ``log R`` (a segment log-sum-exp per node) and the score
is returned as its natural logarithm:

    ln synflow = ln R + ln sum_c theta_c d(ln R)/d theta_c,

where each ``theta_c d(ln R)/d theta_c`` is the share of the path mass through c
(in [0, 1]; their sum is the mean path length). Both factors are exact; nothing
is large. A genome with no path from the bias or an input to an output has
synflow 0, whose logarithm is ``UNDEFINED`` (-inf).

Because the definition fixes the activations (identity) and the aggregation
(the weighted sum), a module subclass that overrides ``aggregate`` or
``activate`` does not change synflow; every other proxy uses them.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from jax import lax

from wannflax.genome import BIAS, INPUT, OUTPUT
from wannflax.proxies import structure
from wannflax.proxies.proxy import UNDEFINED, register_proxy

# Stands in for ln 0 (a zero weight, a node no path reaches). Finite, so that
# log-sum-exp and its gradient never meet inf - inf; any real path's log mass
# is above FLOOR / 2 by twenty orders of magnitude.
FLOOR = -1e30


def _segment_logsumexp(terms, segments, num_segments):
    """log sum exp of ``terms`` per segment; FLOOR for an empty segment."""
    peak = jax.ops.segment_max(terms, segments, num_segments=num_segments)
    # The peak only keeps exp() in range; the result does not depend on it.
    peak = lax.stop_gradient(jnp.where(jnp.isfinite(peak), peak, FLOOR))
    total = jax.ops.segment_sum(
        jnp.exp(terms - peak[segments]), segments, num_segments=num_segments
    )
    return peak + jnp.log(jnp.where(total > 0, total, 1.0))


@register_proxy("synflow")
def synflow(module, variables, x, y, key):
    """ln of SynFlow, sum_p len(p) prod |theta| over source->output paths.

    The batch is not used (the input is all ones by definition); pass any
    batch of the right width.
    """
    del x, y, key
    genome = structure.genome_of(module, variables)
    steps = structure.num_steps(module)
    active = genome.active_conns()
    is_source = (genome.node_kind == BIAS) | (genome.node_kind == INPUT)
    is_output = genome.node_valid & (genome.node_kind == OUTPUT)

    def log_path_sum(params):
        weights = params["conn_weights"]
        usable = active & (weights != 0)
        # The inner where keeps log() off zero so its gradient stays finite.
        magnitude = jnp.where(usable, jnp.abs(weights), 1.0)
        log_weight = jnp.where(usable, jnp.log(magnitude), FLOOR)
        start = jnp.where(is_source, 0.0, FLOOR)

        def step(_, log_mass):
            terms = jnp.where(active, log_weight + log_mass[genome.conn_source], FLOOR)
            incoming = _segment_logsumexp(terms, genome.conn_target, genome.max_nodes)
            return jnp.where(is_source, 0.0, incoming)

        log_mass = lax.fori_loop(0, steps, step, start)
        return jax.nn.logsumexp(jnp.where(is_output, log_mass, FLOOR))

    params = variables["params"]
    log_total, gradient = jax.value_and_grad(log_path_sum)(params)
    weights = params["conn_weights"]
    path_share = jnp.abs(weights * gradient["conn_weights"])
    chex.assert_equal_shape([weights, path_share])
    mean_length = jnp.sum(jnp.where(active, path_share, 0.0))
    score = log_total + jnp.log(mean_length)
    return jnp.where(log_total > FLOOR / 2, score, UNDEFINED)
