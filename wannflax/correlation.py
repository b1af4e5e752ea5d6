"""Rank correlations in numpy (Spearman, Kendall tau-b) for proxy studies.

Both treat ``-inf`` (a proxy's ``UNDEFINED``) as the lowest value, tied with
every other ``-inf``, which is how the search ranks an undefined score. NaN is
refused: it has no place in a ranking.
"""

from __future__ import annotations

import numpy as np


def _checked_pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"Rank correlation needs two 1-D arrays of one length; got shapes "
            f"{a.shape} and {b.shape}."
        )
    if a.size < 2:
        raise ValueError(f"Rank correlation needs at least 2 samples, got {a.size}.")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("Rank correlation got NaN; map undefined scores to -inf.")
    return a, b


def average_ranks(values) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of the ranks they span."""
    values = np.asarray(values, np.float64)
    ordered = np.sort(values)
    below = np.searchsorted(ordered, values, side="left")
    up_to = np.searchsorted(ordered, values, side="right")
    return (below + 1 + up_to) / 2.0


def spearman(a, b) -> float:
    """Spearman's rho: the Pearson correlation of the average ranks.

    Returns NaN when either array is constant (no ranking to correlate).
    """
    a, b = _checked_pair(a, b)
    rank_a = average_ranks(a) - (a.size + 1) / 2.0
    rank_b = average_ranks(b) - (b.size + 1) / 2.0
    scale = np.sqrt(np.sum(rank_a**2) * np.sum(rank_b**2))
    return float(np.sum(rank_a * rank_b) / scale) if scale > 0 else float("nan")


def kendall_tau_b(a, b) -> float:
    """Kendall's tau-b, (C - D) / sqrt((n0 - ties_a) (n0 - ties_b)).

    C and D count concordant and discordant pairs, n0 = n (n - 1) / 2, and
    ties_a / ties_b the pairs tied in ``a`` / in ``b`` (pairs tied in both
    count in each). O(n^2) memory, meant for studies of hundreds of genomes.
    Returns NaN when either array is constant.
    """
    a, b = _checked_pair(a, b)
    upper = np.triu(np.ones((a.size, a.size), bool), k=1)
    # Equal infinities subtract to NaN; compare instead of subtracting.
    sign_a = np.sign(np.greater.outer(a, a).astype(int) - np.less.outer(a, a))
    sign_b = np.sign(np.greater.outer(b, b).astype(int) - np.less.outer(b, b))
    product = (sign_a * sign_b)[upper]
    num_pairs = product.size
    tied_a = np.sum(sign_a[upper] == 0)
    tied_b = np.sum(sign_b[upper] == 0)
    scale = np.sqrt(float(num_pairs - tied_a) * float(num_pairs - tied_b))
    return float(np.sum(product) / scale) if scale > 0 else float("nan")
