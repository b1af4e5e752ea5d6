"""XOR: the smallest classification check (four patterns).

python -m wannflax.main --config=configs/xor.py --workdir=runs/xor
"""

import ml_collections

from configs import default


def get_config() -> ml_collections.ConfigDict:
    """XOR experiment."""
    config = default.get_config()
    config.dataset = "xor"
    config.batch_size = 4
    config.log_every = 20
    config.search.generations = 100
    config.search.pop_size = 64
    config.search.max_nodes = 16
    config.search.max_connections = 48
    config.search.prob_init_enable = 0.5
    config.search.tournament_size = 8
    config.train.batch_size = 4
    config.train.epochs = 200
    return config
