"""AZ-NAS: expressivity, progressivity, trainability and complexity.

Lee and Ham, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture
Search", CVPR 2024, https://arxiv.org/abs/2403.19232. The four scores are meant
to be combined by the rank aggregation in ``aggregation`` (``az_log_rank``).

On a WANN graph a stage is a depth level (see ``structure``): stage s holds the
live units of depth s, and stage 0 holds the inputs. The inputs are the data,
not a feature the network computes, so expressivity sums stages 1..D only; but
progressivity and trainability measure stage 1 against stage 0 as they measure
every later stage against the one before, which keeps both defined for the
one-stage genomes a WANN search starts from.

- expressivity: sum over stages of the entropy of the normalised eigenvalues of
  the stage's centred feature covariance (the node values over the batch). An
  isotropic covariance over C nodes gives ln C; features that do not vary give
  0.
- progressivity: the smallest entropy increase from one stage to the next.
- trainability: per block (stage s-1 -> stage s), with a Rademacher probe v on
  stage s and ``g = J^T v`` pulled back onto stage s-1, the matrix
  ``M = g^T v / B`` estimates the block's mean Jacobian; for its top singular
  value sigma the block scores ``-sigma - 1/(sigma + 1e-6) + 2`` (0 at
  sigma = 1, the best); the score is the mean over blocks. Only direct
  connections join consecutive depth levels, so J is each block's own map.
- complexity: the number of enabled connections (the search's cost), and
  complexity_flops, floating-point operations per sample.

Deviation from the reference: it gives an identity block (input gradient equal
to the probe) -inf; a WANN has no parameter-free skip blocks, and a node whose
single incoming weight is 1 is a real connection, so no such rule applies here.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from jax.scipy.special import entr

from wannflax import activations as activation_table
from wannflax.genome import HIDDEN, OUTPUT
from wannflax.proxies import structure
from wannflax.proxies.proxy import register_proxy

SIGMA_OFFSET = 1e-6


def spectral_entropy(features: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Entropy of the normalised eigenvalues of the features' covariance.

    Args:
      features: f32 [B, C], one row per sample.
      mask: optional bool [C], the columns that belong to the stage.

    Returns:
      f32 []: ``-sum p ln p`` with ``p = eigenvalues / sum``; ln C for an
      isotropic covariance, 0 when no feature varies.
    """
    batch, channels = features.shape
    if mask is not None:
        chex.assert_shape(mask, (channels,))
        features = jnp.where(mask, features, 0.0)
    # Subtracting the first sample makes a constant column exactly zero, so a
    # stage that does not vary has exactly zero covariance, not rounding noise
    # that normalisation would blow up into an arbitrary entropy.
    shifted = features - features[:1]
    centred = shifted - jnp.mean(shifted, axis=0, keepdims=True)
    # The nonzero eigenvalues of X^T X and X X^T agree; take the smaller.
    if batch < channels:
        eigenvalues = jnp.linalg.eigvalsh(centred @ centred.T / batch)
    else:
        eigenvalues = jnp.linalg.eigvalsh(centred.T @ centred / batch)
    eigenvalues = jnp.maximum(eigenvalues, 0.0)
    total = jnp.sum(eigenvalues)
    share = eigenvalues / jnp.where(total > 0, total, 1.0)
    return jnp.where(total > 0, jnp.sum(entr(share)), 0.0)


def _stage_entropies(module, variables, x):
    """Entropy of each stage 0..S, and which stages exist ([S + 1] each)."""
    genome = structure.genome_of(module, variables)
    masks = structure.stage_masks(genome, structure.num_steps(module))
    values = structure.trace(module, variables, x).values
    entropies = jax.vmap(spectral_entropy, in_axes=(None, 0))(values, masks)
    chex.assert_shape(entropies, (masks.shape[0],))
    return entropies, jnp.any(masks, axis=1)


@register_proxy("az_expressivity")
def az_expressivity(module, variables, x, y, key):
    """Sum over stages 1..D of the feature spectrum entropy."""
    del y, key
    entropies, _ = _stage_entropies(module, variables, x)
    # Missing stages have no features and entropy 0.
    return jnp.sum(entropies[1:])


@register_proxy("az_progressivity")
def az_progressivity(module, variables, x, y, key):
    """Smallest entropy increase between consecutive stages (stage 0 included)."""
    del y, key
    entropies, exists = _stage_entropies(module, variables, x)
    increases = entropies[1:] - entropies[:-1]
    # Stage 1 always exists: the outputs are units of depth >= 1.
    return jnp.min(jnp.where(exists[1:], increases, jnp.inf))


def _rademacher_probes(key, batch: int, max_nodes: int) -> jax.Array:
    """f32 [B, max_nodes] of +-1, drawn per node slot.

    Each slot folds its index into the key, so a node's probe does not depend on
    how many slots the genome is padded to.
    """

    def slot_probe(slot):
        return jax.random.rademacher(jax.random.fold_in(key, slot), (batch,))

    probes = jax.vmap(slot_probe)(jnp.arange(max_nodes))
    return probes.T.astype(jnp.float32)


def top_singular_value(matrix: jax.Array) -> jax.Array:
    """Largest singular value of a 2-D matrix."""
    return jnp.max(jnp.linalg.svd(matrix, compute_uv=False))


@register_proxy("az_trainability")
def az_trainability(module, variables, x, y, key):
    """Mean over blocks of -sigma - 1/(sigma + 1e-6) + 2 (see the module doc).

    The only proxy that draws random numbers: the Rademacher probes come from
    ``key``, the same for every genome of a population.
    """
    del y
    genome = structure.genome_of(module, variables)
    steps = structure.num_steps(module)
    masks = structure.stage_masks(genome, steps).astype(x.dtype)
    batch = x.shape[0]
    shape = (batch, module.max_nodes)

    def node_values(value_shift):
        return structure.trace(module, variables, x, value_shift=value_shift).values

    _, pull_back = jax.vjp(node_values, jnp.zeros(shape, x.dtype))
    probes = _rademacher_probes(key, batch, module.max_nodes)

    def block_score(stage):
        probe = probes * masks[stage]
        (pulled,) = pull_back(probe)
        chex.assert_shape(pulled, shape)
        mean_jacobian = (pulled * masks[stage - 1]).T @ probe / batch
        sigma = top_singular_value(mean_jacobian)
        return -sigma - 1.0 / (sigma + SIGMA_OFFSET) + 2.0

    scores = jax.vmap(block_score)(jnp.arange(1, steps + 1))
    exists = jnp.any(masks[1:] > 0, axis=1)
    return jnp.sum(jnp.where(exists, scores, 0.0)) / jnp.sum(exists)


@register_proxy("complexity")
def complexity(module, variables, x, y, key):
    """Number of enabled connections (each a multiply-add per sample)."""
    del x, y, key
    genome = structure.genome_of(module, variables)
    return genome.num_connections().astype(jnp.float32)


@register_proxy("complexity_flops")
def complexity_flops(module, variables, x, y, key):
    """Floating-point operations per sample of the forward pass.

    A multiply and an add per enabled connection, plus one per valid hidden or
    output node whose activation is not the identity (``linear``).
    """
    del x, y, key
    genome = structure.genome_of(module, variables)
    is_node = genome.node_valid & (
        (genome.node_kind == HIDDEN) | (genome.node_kind == OUTPUT)
    )
    linear = activation_table.activation_id("linear")
    nonlinear = jnp.sum(is_node & (genome.node_activation != linear))
    return (2 * genome.num_connections() + nonlinear).astype(jnp.float32)
