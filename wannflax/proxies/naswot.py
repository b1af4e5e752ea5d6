"""NASWOT: how differently a network's ReLU-like units split a batch.

Mellor, Turner, Storkey and Crowley, "Neural Architecture Search without
Training", ICML 2021, https://arxiv.org/abs/2006.04647.

Each sample gets a binary code, one bit per unit (pre-activation > 0); the
kernel ``K_ij`` counts the units on which samples i and j agree, and the score
is ``ln |det K|``. Units are the live hidden and output nodes (see
``structure``); padding and dead nodes are not units, so neither can inflate
the score, which grows with the unit count.

K = U 1 1^T - s 1^T - 1 s^T + 2 C C^T for the code matrix C [B, U] and its row
sums s, so its rank is at most U + 1: a batch larger than the unit count plus
one always gives a singular kernel (``UNDEFINED``). Small WANN genomes have few
units; score them on correspondingly small batches.
"""

from __future__ import annotations

import math

import chex
import jax.numpy as jnp

from wannflax.proxies import structure
from wannflax.proxies.proxy import UNDEFINED, register_proxy


def code_kernel(codes: jnp.ndarray, units: jnp.ndarray) -> jnp.ndarray:
    """K_ij = number of units on which the codes of samples i and j agree.

    Args:
      codes: bool [B, N], one bit per sample and node slot.
      units: bool [N], the slots that are units.

    Returns:
      f32 [B, B], integer-valued.
    """
    on = (codes & units).astype(jnp.float32)
    off = (~codes & units).astype(jnp.float32)
    return on @ on.T + off @ off.T


def log_abs_det(kernel: jnp.ndarray) -> jnp.ndarray:
    """ln |det K| of an integer kernel; ``UNDEFINED`` when K is singular.

    K has integer entries, so det K is an integer: a computed ``|det K| < 1/2``
    can only be a rounded 0, which marks a singular kernel (two samples with
    the same code, or more samples than distinct codes allow).
    """
    sign, log_det = jnp.linalg.slogdet(kernel)
    singular = (sign == 0) | (log_det < math.log(0.5))
    return jnp.where(singular, UNDEFINED, log_det)


@register_proxy("naswot")
def naswot(module, variables, x, y, key):
    """ln |det K| of the unit-agreement kernel of the batch."""
    del y, key
    genome = structure.genome_of(module, variables)
    pre = structure.trace(module, variables, x).pre
    units = structure.live_units(genome, structure.num_steps(module))
    kernel = code_kernel(pre > 0, units)
    chex.assert_shape(kernel, (x.shape[0], x.shape[0]))
    return log_abs_det(kernel)
