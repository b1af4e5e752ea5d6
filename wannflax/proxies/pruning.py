"""Saliency proxies from pruning at initialisation: snip, grasp, fisher, grad_norm, plain.

Abdelfattah, Mehrotra, Dudziak and Lane, "Zero-Cost Proxies for Lightweight
NAS", ICLR 2021, https://arxiv.org/abs/2101.08134, which sums the per-weight
saliencies of SNIP (Lee et al. 2019), GraSP (Wang et al. 2020) and Fisher
pruning (Theis et al. 2018) over a network.

Each one takes ``L``, the mean softmax cross-entropy of the outputs against the
integer labels on one batch, differentiated with respect to the one Flax
parameter tree, ``params/conn_weights``. Only valid, enabled connections count
(``structure`` explains how layers and units map onto the graph).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from wannflax.proxies import structure
from wannflax.proxies.proxy import register_proxy


def _loss(module, variables, x, y):
    """``params -> L``: the mean cross-entropy through the module's own forward."""

    def loss(params):
        logits = module.apply(structure.with_params(variables, params), x)
        chex.assert_shape(logits, (x.shape[0], module.num_outputs))
        return structure.mean_cross_entropy(logits, y)

    return loss


def _weights_and_gradient(module, variables, x, y):
    """Connection weights, dL/d(weights), and the mask of scored connections."""
    genome = structure.genome_of(module, variables)
    params = variables["params"]
    gradient = jax.grad(_loss(module, variables, x, y))(params)["conn_weights"]
    weights = params["conn_weights"]
    chex.assert_equal_shape([weights, gradient])
    return weights, gradient, genome.active_conns()


@register_proxy("snip", needs_labels=True)
def snip(module, variables, x, y, key):
    """SNIP connection sensitivity: sum |theta * dL/dtheta|."""
    del key
    weights, gradient, scored = _weights_and_gradient(module, variables, x, y)
    return jnp.sum(jnp.where(scored, jnp.abs(weights * gradient), 0.0))


@register_proxy("plain", needs_labels=True)
def plain(module, variables, x, y, key):
    """First-order loss change: sum theta * dL/dtheta (signed)."""
    del key
    weights, gradient, scored = _weights_and_gradient(module, variables, x, y)
    return jnp.sum(jnp.where(scored, weights * gradient, 0.0))


@register_proxy("grad_norm", needs_labels=True)
def grad_norm(module, variables, x, y, key):
    """Sum over layers of the L2 norm of the layer's gradient.

    A connection's layer is the depth of its target node, so a WANN with every
    connection into the outputs is one layer.
    """
    del key
    genome = structure.genome_of(module, variables)
    _, gradient, scored = _weights_and_gradient(module, variables, x, y)
    squares = jnp.where(scored, jnp.square(gradient), 0.0)
    # Depths run from 1 to at most max_nodes; empty layers add a zero norm.
    per_layer = jax.ops.segment_sum(
        squares,
        structure.connection_layers(genome),
        num_segments=genome.max_nodes + 1,
    )
    return jnp.sum(jnp.sqrt(per_layer))


@register_proxy("grasp", needs_labels=True)
def grasp(module, variables, x, y, key):
    """GraSP: -sum theta * (H g), g = dL/dtheta held fixed.

    H g is a Hessian-vector product taken forward-over-reverse: the JVP of the
    gradient function in the direction g.
    """
    del key
    genome = structure.genome_of(module, variables)
    loss = _loss(module, variables, x, y)
    params = variables["params"]
    gradient = jax.lax.stop_gradient(jax.grad(loss)(params))
    _, hessian_gradient = jax.jvp(jax.grad(loss), (params,), (gradient,))
    weights = params["conn_weights"]
    product = weights * hessian_gradient["conn_weights"]
    return -jnp.sum(jnp.where(genome.active_conns(), product, 0.0))


@register_proxy("fisher", needs_labels=True)
def fisher(module, variables, x, y, key):
    """Fisher pruning saliency: sum over units of 1/2 mean_n (a dL/da)^2.

    The unit's activation ``a`` is its pre-activation, the weighted sum its
    incoming connections produce: that is where the reference places its probe
    (the output of each convolution or linear layer, before the nonlinearity).
    dL/da is taken by adding a zero perturbation to every node's
    pre-activation and differentiating at it. A unit's saliency is spread over
    its fan-in, so units with no enabled incoming connection, which own no
    scored weight, add nothing; spreading does not change the sum.
    """
    del key
    genome = structure.genome_of(module, variables)
    shape = (x.shape[0], module.max_nodes)

    def loss(pre_shift):
        result = structure.trace(module, variables, x, pre_shift=pre_shift)
        return structure.mean_cross_entropy(result.outputs, y), result.pre

    gradient, pre = jax.grad(loss, has_aux=True)(jnp.zeros(shape, x.dtype))
    chex.assert_shape([gradient, pre], shape)
    units = structure.live_units(genome, structure.num_steps(module))
    units = units & structure.has_fan_in(genome)
    per_unit = 0.5 * jnp.mean(jnp.square(pre * gradient), axis=0)
    return jnp.sum(jnp.where(units, per_unit, 0.0))
