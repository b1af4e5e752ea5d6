"""The paper's cart-pole swing-up: WANN search, then an evolution strategy.

python -m wannflax.main --config=configs/swingup.py --workdir=runs/swingup

The paper ran population 192 for thousands of generations; these settings are
sized for a laptop CPU (see BUILD_NOTES.md for measured figures).
"""

import ml_collections

from configs import cartpole


def get_config() -> ml_collections.ConfigDict:
    """Swing-up experiment."""
    config = cartpole.get_config()
    config.environment = "swingup"
    config.episodes = 2
    config.search.generations = 200
    config.search.pop_size = 128
    config.search.max_nodes = 48
    config.search.max_connections = 128
    config.search.tournament_size = 8
    config.train.generations = 100
    config.train.population_size = 64
    return config
