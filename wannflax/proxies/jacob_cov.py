"""Jacobian covariance: how differently a network responds to each sample.

Mellor, Turner, Storkey and Crowley, "Neural Architecture Search without
Training" (first version, 2020), https://arxiv.org/abs/2006.04647v1, as used by
Abdelfattah et al. 2021.

``J`` holds per sample the gradient of the sum of the outputs with respect to
the inputs, ``C`` is the correlation matrix of J's rows (samples), and the score
is ``-sum_i (ln(l_i + k) + 1 / (l_i + k))`` over C's eigenvalues, ``k = 1e-5``.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np

from wannflax.proxies.proxy import UNDEFINED, register_proxy

EIGENVALUE_OFFSET = 1e-5


def _centred_basis(width: int) -> np.ndarray:
    """[width, width - 1] orthonormal basis of the vectors whose entries sum to 0.

    (Helmert's columns: 1,..,1, -k scaled by 1 / sqrt(k (k + 1)).)
    """
    basis = np.zeros((width, width - 1), np.float32)
    for k in range(1, width):
        basis[:k, k - 1] = 1.0
        basis[k, k - 1] = -k
        basis[:, k - 1] /= np.sqrt(k * (k + 1.0))
    return basis


def correlation_eigenvalues(rows: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Eigenvalues of the correlation matrix of ``rows`` [B, d], d >= 2.

    The B x B correlation matrix is ``Z Z^T`` for Z the centred rows scaled to
    unit norm. Centred rows are orthogonal to the all-ones vector, so with Q an
    orthonormal basis of its complement ``Z Z^T = (Z Q)(Z Q)^T``, whose rank is
    at most d - 1: when d - 1 < B its nonzero eigenvalues are those of the
    small (d-1) x (d-1) matrix ``(Z Q)^T (Z Q)`` and the other B - d + 1 are
    exactly zero. Taking them as exact zeros matters, since each contributes
    1/k = 1e5 and float32 noise of 1e-7 in one of them would shift the score by
    about 1%.

    Args:
      rows: f32 [B, d].

    Returns:
      ``(eigenvalues [B], defined)``: ``defined`` is False when a row is
      constant (zero variance), where the correlation is undefined.
    """
    batch, width = rows.shape
    # Subtracting the first entry first makes a constant row exactly zero, so
    # the zero-variance test below needs no tolerance.
    shifted = rows - rows[:, :1]
    centred = shifted - jnp.mean(shifted, axis=1, keepdims=True)
    norms = jnp.sqrt(jnp.sum(jnp.square(centred), axis=1, keepdims=True))
    defined = jnp.all(norms > 0)
    unit_rows = centred / jnp.where(norms > 0, norms, 1.0)
    projected = unit_rows @ _centred_basis(width)
    rank_bound = width - 1
    if rank_bound < batch:
        small = jnp.linalg.eigvalsh(projected.T @ projected)
        eigenvalues = jnp.concatenate([jnp.zeros(batch - rank_bound), small])
    else:
        eigenvalues = jnp.linalg.eigvalsh(projected @ projected.T)
    # C is positive semi-definite; negative values are rounding.
    return jnp.maximum(eigenvalues, 0.0), defined


def correlation_score(eigenvalues: jnp.ndarray) -> jnp.ndarray:
    """-sum (ln(l + k) + 1/(l + k)) over the eigenvalues l."""
    shifted = eigenvalues + EIGENVALUE_OFFSET
    return -jnp.sum(jnp.log(shifted) + 1.0 / shifted)


@register_proxy("jacob_cov")
def jacob_cov(module, variables, x, y, key):
    """Score of the correlation spectrum of the input Jacobians.

    ``UNDEFINED`` when a sample's Jacobian row is constant (no input->output
    path gives a zero row), hence always for a single-input network, whose rows
    have one entry.
    """
    del y, key
    if module.num_inputs < 2:
        return jnp.float32(UNDEFINED)

    def output_sum(inputs):
        return jnp.sum(module.apply(variables, inputs))

    jacobian = jax.grad(output_sum)(x)
    chex.assert_shape(jacobian, x.shape)
    eigenvalues, defined = correlation_eigenvalues(jacobian)
    chex.assert_shape(eigenvalues, (x.shape[0],))
    return jnp.where(defined, correlation_score(eigenvalues), UNDEFINED)
