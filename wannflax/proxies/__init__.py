"""Zero-cost proxies for WANN genomes, and ways to combine them.

A proxy scores a compiled genome without training it: a pure function of
``(module, variables, x, y, key)`` built from ``jax.grad`` / ``jax.jvp`` /
``jax.vjp`` on the one Flax parameter tree (``params/conn_weights``), returning
a scalar, higher meaning better, ``UNDEFINED`` (-inf) where the proxy's formula
does not apply. ``structure`` documents how layers, stages and ReLU-like units
map onto a WANN graph.

Registered proxies (``PROXIES.names()``): synflow (as ln synflow), snip,
grasp, fisher, grad_norm, plain, jacob_cov, naswot, az_expressivity,
az_progressivity, az_trainability, complexity, complexity_flops.

Typical use::

    module, variables = wannflax.compile(genome, shared_weight=1.0)
    score = proxies.compute("snip", module, variables, x, y)
    scores = proxies.compute_population(
        ["synflow", "naswot"], module, proxies.population_variables(population), x
    )
    ranking = proxies.aggregate("az_log_rank", scores)
"""

# Importing the families registers their proxies.
from wannflax.proxies import az_nas, jacob_cov, naswot, pruning, synflow
from wannflax.proxies.aggregation import AGGREGATIONS, aggregate, ranks
from wannflax.proxies.proxy import (
    DEFAULT_SEED,
    PROXIES,
    UNDEFINED,
    Proxy,
    register_proxy,
)
from wannflax.proxies.scoring import compute, compute_population, population_variables

__all__ = [
    "AGGREGATIONS",
    "DEFAULT_SEED",
    "PROXIES",
    "UNDEFINED",
    "Proxy",
    "aggregate",
    "az_nas",
    "compute",
    "compute_population",
    "jacob_cov",
    "naswot",
    "population_variables",
    "pruning",
    "ranks",
    "register_proxy",
    "synflow",
]
