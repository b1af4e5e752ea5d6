"""Iris: three classes from four measurements.

python -m wannflax.main --config=configs/iris.py --workdir=runs/iris
"""

import ml_collections

from configs import default


def get_config() -> ml_collections.ConfigDict:
    """Iris experiment."""
    config = default.get_config()
    config.dataset = "iris"
    config.batch_size = 120
    config.log_every = 20
    config.search.generations = 150
    config.search.pop_size = 128
    config.search.max_nodes = 40
    config.search.max_connections = 128
    config.search.prob_init_enable = 0.5
    config.search.tournament_size = 8
    config.train.batch_size = 16
    config.train.epochs = 200
    return config
