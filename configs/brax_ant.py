"""brax ant: WANN search, then an evolution strategy (a long run).

python -m wannflax.main --config=configs/brax_ant.py --workdir=runs/brax_ant

Ant has 27 observations and 8 motors with controls in [-1, 1]; it pays for
forward speed and staying healthy and ends when the torso falls. A physics
step of ant costs far more than a classic-control step: these settings are
meant for an accelerator; cut pop_size, episodes and max_steps for a CPU.
"""

import ml_collections

from configs import cartpole


def get_config() -> ml_collections.ConfigDict:
    """brax ant experiment."""
    config = cartpole.get_config()
    config.environment = "brax/ant"
    config.backend = "generalized"
    config.max_steps = 1000
    config.action_mapping = "tanh"  # squashes outputs into the motors' range
    config.episodes = 2
    config.test_episodes = 20
    config.log_every = 1
    config.checkpoint_every = 5
    config.search.generations = 200
    config.search.pop_size = 128
    config.search.max_nodes = 64
    config.search.max_connections = 256
    config.search.tournament_size = 8
    config.train.population_size = 64
    config.train.generations = 100
    return config
