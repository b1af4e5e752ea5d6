"""The proxy type, the ``PROXIES`` registry, the undefined-score sentinel and checks.

A proxy is a pure function ``fn(module, variables, x, y, key) -> scalar`` of one
compiled genome: jit-able, and vmappable over a population once the module is
bound (``jax.vmap(functools.partial(proxy, module), in_axes=(0, None, None,
None))``). Every proxy is oriented so that a higher score predicts a better
network, and every score is either finite or ``UNDEFINED``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import chex
import jax
import jax.numpy as jnp
import numpy as np

from wannflax.registry import Registry

# The score of a case a proxy's formula does not cover (no input->output path
# for synflow, a singular kernel for naswot, a zero-variance Jacobian row for
# jacob_cov) or whose numbers overflowed. -inf ranks such a genome worst, which
# is what an architecture search should do with it, and it can never be
# mistaken for a real score the way a silent NaN can.
UNDEFINED = float("-inf")

# The key used when a caller passes none, so that an unkeyed call is still
# deterministic (only az_trainability draws random numbers).
DEFAULT_SEED = 0

ProxyFn = Callable[..., jax.Array]


@dataclasses.dataclass(frozen=True)
class Proxy:
    """A registered zero-cost proxy.

    Attributes:
      name: the registry name, used in error messages.
      fn: ``fn(module, variables, x, y, key) -> f32[]``, called with a checked
        float batch ``x [B, num_inputs]``, labels ``y`` (int ``[B]``, or None
        for proxies that do not use them) and a PRNG key.
      needs_labels: whether ``fn`` reads ``y``.
    """

    name: str
    fn: ProxyFn
    needs_labels: bool = False

    def check_inputs(self, module, x, y=None):
        """Checks a batch (and labels) against the network; returns them cast.

        Args:
          module: the WANN module the proxy will score.
          x: batch ``[B, num_inputs]``; integer or bool batches become float32.
          y: integer class labels ``[B]``; required when ``needs_labels``.

        Returns:
          ``(x, y)`` as arrays, ``y`` as int32 (or None when not needed).

        Raises:
          ValueError: a batch whose width is not the network's input count, a
            missing label array for a proxy that needs one, or labels of the
            wrong shape, type or range.
        """
        x = jnp.asarray(x)
        if x.ndim != 2 or x.shape[-1] != module.num_inputs:
            width = x.shape[-1] if x.ndim else "no"
            raise ValueError(
                f"Proxy {self.name!r} got a batch of shape {tuple(x.shape)} ({width} "
                f"features per sample), but the network has {module.num_inputs} "
                f"inputs: pass x as [batch, {module.num_inputs}]."
            )
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.float32)
        chex.assert_type(x, float)
        if not self.needs_labels:
            return x, None
        if y is None:
            raise ValueError(
                f"Proxy {self.name!r} needs class labels: pass y, an integer array "
                f"[{x.shape[0]}] of class ids in 0..{module.num_outputs - 1}."
            )
        y = jnp.asarray(y)
        if y.shape != (x.shape[0],) or not jnp.issubdtype(y.dtype, jnp.integer):
            raise ValueError(
                f"Proxy {self.name!r} needs integer class labels of shape "
                f"({x.shape[0]},), one per sample; got {y.dtype} {tuple(y.shape)}."
            )
        if not isinstance(y, jax.core.Tracer):
            labels = np.asarray(y)
            if labels.size and (labels.min() < 0 or labels.max() >= module.num_outputs):
                raise ValueError(
                    f"Proxy {self.name!r}: labels must lie in 0..{module.num_outputs - 1} "
                    f"(one class per output), got {labels.min()}..{labels.max()}."
                )
        return x, y.astype(jnp.int32)

    def __call__(self, module, variables, x, y=None, key=None) -> jax.Array:
        """Scores one compiled genome.

        Args:
          module: a WANN module (or subclass) with a static ``num_layers`` at
            least the genome's depth (``compile`` sets it; ``None`` falls back
            to the always-sufficient number of non-input node slots).
          variables: ``{"params": {"conn_weights": f32[max_conns]}, "genome":
            {...}}`` as returned by ``compile``.
          x: batch ``[B, num_inputs]``.
          y: integer class labels ``[B]`` (proxies with ``needs_labels``).
          key: PRNG key; ``None`` means ``jax.random.key(DEFAULT_SEED)``.

        Returns:
          ``f32[]``: the score, finite or ``UNDEFINED``.
        """
        x, y = self.check_inputs(module, x, y)
        if key is None:
            key = jax.random.key(DEFAULT_SEED)
        score = jnp.asarray(self.fn(module, variables, x, y, key))
        chex.assert_shape(score, ())
        chex.assert_type(score, float)
        score = score.astype(jnp.float32)
        return defined_or_undefined(score)


def defined_or_undefined(score: jax.Array) -> jax.Array:
    """Maps any non-finite score (NaN, or +-inf from overflow) to ``UNDEFINED``."""
    return jnp.where(jnp.isfinite(score), score, UNDEFINED)


PROXIES: Registry[Proxy] = Registry("proxy")


def register_proxy(
    name: str, *, needs_labels: bool = False, overwrite: bool = False
) -> Callable[[ProxyFn], ProxyFn]:
    """Decorator registering ``fn(module, variables, x, y, key)`` as a proxy.

    Args:
      name: the name ``compute`` and configs refer to.
      needs_labels: whether the proxy reads class labels ``y``.
      overwrite: replace an existing proxy of that name.

    Returns:
      A decorator that registers the function and returns it unchanged.
    """

    def decorator(fn: ProxyFn) -> ProxyFn:
        PROXIES.add(name, Proxy(name, fn, needs_labels), overwrite=overwrite)
        return fn

    return decorator
