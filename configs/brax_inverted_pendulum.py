"""brax inverted pendulum: WANN search, then an evolution strategy.

python -m wannflax.main --config=configs/brax_inverted_pendulum.py \
    --workdir=runs/brax_inverted_pendulum

Small settings that run search and ES end to end in a few minutes on a
2-core CPU (measured figures in BUILD_NOTES.md). The environment pays 1 per
step until the pole leans past 0.2 rad; episodes are capped at ``max_steps``.
"""

import ml_collections

from configs import cartpole


def get_config() -> ml_collections.ConfigDict:
    """brax inverted_pendulum experiment."""
    config = cartpole.get_config()
    config.environment = "brax/inverted_pendulum"
    config.backend = "generalized"  # or positional, spring, mjx
    config.max_steps = 1000  # steps per episode (brax's usual cap): the best return
    config.episodes = 1  # per genome and shared weight, per generation
    config.test_episodes = 20
    config.search.generations = 40
    config.search.pop_size = 32
    config.search.max_nodes = 12
    config.search.max_connections = 32
    config.train.population_size = 32
    config.train.generations = 50
    return config
