"""Combining several proxies' scores over a population into one ranking score.

Each proxy is first turned into ranks within the population (1 = worst, n =
best, ties sharing their average rank, ``UNDEFINED`` or NaN ranked worst), so
proxies on unrelated scales combine. Each aggregation takes ``scores`` (proxy
name -> f32 [n]) and optional non-negative ``weights`` (proxy name -> float,
default 1) and returns f32 [n], higher is better.

- ``az_log_rank``: sum_m w_m ln(rank_m / n), the AZ-NAS combination (Lee and
  Ham, CVPR 2024, https://arxiv.org/abs/2403.19232). 0 for a genome that is
  best on every proxy; a low rank on any one proxy costs a lot.
- ``mean_rank``: the weighted mean of the normalised ranks rank_m / n.
- ``geometric_mean``: the weighted geometric mean of rank_m / n; it orders a
  population as ``az_log_rank`` does with the same weights, on a (0, 1] scale
  that does not grow with the number of proxies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import chex
import jax
import jax.numpy as jnp

from wannflax.proxies.proxy import UNDEFINED
from wannflax.registry import Registry

Aggregation = Callable[[Mapping[str, jax.Array], Mapping[str, float] | None], jax.Array]

AGGREGATIONS: Registry[Aggregation] = Registry("proxy aggregation")


def ranks(scores: jax.Array) -> jax.Array:
    """Average ranks, 1 for the lowest score to n for the highest.

    Tied scores share the mean of the ranks they span (as AZ-NAS, via
    ``scipy.stats.rankdata``); ``UNDEFINED`` and NaN tie for the lowest.

    Args:
      scores: f32 [n].

    Returns:
      f32 [n], each in [1, n].
    """
    chex.assert_rank(scores, 1)
    scores = jnp.where(jnp.isnan(scores), UNDEFINED, scores)
    ordered = jnp.sort(scores)
    below = jnp.searchsorted(ordered, scores, side="left")
    up_to = jnp.searchsorted(ordered, scores, side="right")
    # Positions below+1 .. up_to hold this value; their mean is the rank.
    return (below + 1 + up_to).astype(jnp.float32) / 2.0


def _normalised_ranks(scores, weights):
    """(rank / n as [m, n], weights as [m]) after checking names and shapes."""
    if not scores:
        raise ValueError("Aggregation needs the scores of at least one proxy.")
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(scores))
    if unknown:
        raise ValueError(
            f"Weights name proxies {unknown} that have no scores; the scored proxies "
            f"are: {', '.join(sorted(scores))}."
        )
    names = sorted(scores)
    values = [jnp.asarray(scores[name], jnp.float32) for name in names]
    chex.assert_rank(values, 1)
    lengths = {name: int(v.shape[0]) for name, v in zip(names, values, strict=True)}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"Every proxy must score the same population; got lengths {lengths}."
        )
    factors = [float(weights.get(name, 1.0)) for name in names]
    if any(not math.isfinite(w) or w < 0 for w in factors) or sum(factors) <= 0:
        raise ValueError(
            f"Proxy weights must be finite, non-negative and not all zero; got "
            f"{dict(zip(names, factors, strict=True))}."
        )
    count = values[0].shape[0]
    normalised = jnp.stack([ranks(v) for v in values]) / count
    return normalised, jnp.asarray(factors, jnp.float32)


@AGGREGATIONS.register("az_log_rank")
def az_log_rank(scores, weights=None):
    """sum_m w_m ln(rank_m / n)."""
    normalised, factors = _normalised_ranks(scores, weights)
    return factors @ jnp.log(normalised)


@AGGREGATIONS.register("mean_rank")
def mean_rank(scores, weights=None):
    """sum_m w_m rank_m / n, divided by sum_m w_m."""
    normalised, factors = _normalised_ranks(scores, weights)
    return factors @ normalised / jnp.sum(factors)


@AGGREGATIONS.register("geometric_mean")
def geometric_mean(scores, weights=None):
    """prod_m (rank_m / n) ** (w_m / sum w)."""
    normalised, factors = _normalised_ranks(scores, weights)
    return jnp.exp(factors @ jnp.log(normalised) / jnp.sum(factors))


def aggregate(
    name: str,
    scores: Mapping[str, jax.Array],
    weights: Mapping[str, float] | None = None,
) -> jax.Array:
    """Combines per-proxy population scores with the aggregation ``name``.

    Args:
      name: a registered aggregation (``AGGREGATIONS.names()``).
      scores: proxy name -> f32 [n], e.g. the output of ``compute_population``.
      weights: proxy name -> non-negative weight; unnamed proxies weigh 1.

    Returns:
      f32 [n], higher is better.

    Raises:
      UnknownNameError: an unknown aggregation, listing the registered ones.
      ValueError: weights for proxies without scores, negative weights, or
        score arrays of different lengths.
    """
    return AGGREGATIONS.get(name)(scores, weights)
