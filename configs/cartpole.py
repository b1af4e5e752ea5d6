"""gymnax CartPole-v1: WANN search, then an evolution strategy on the weights.

python -m wannflax.main --config=configs/cartpole.py --workdir=runs/cartpole
"""

import ml_collections

from wannflax.activations import CONTROL_POOL


def get_config() -> ml_collections.ConfigDict:
    """CartPole experiment."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.problem = "rl"
    config.environment = "CartPole-v1"
    config.episodes = 2  # per genome and shared weight, per generation
    config.test_episodes = 100
    # Outputs -> actions: "auto" is argmax for discrete spaces, clipping to
    # the bounds for continuous ones; also "sample" (softmax) or "tanh".
    config.action_mapping = "auto"
    config.log_every = 5
    config.log_every_epochs = 5
    config.checkpoint_every = 10
    # Watching the run: "auto" draws a progress bar on a terminal and log
    # lines elsewhere; "bar" and "log" force one.
    config.progress = "auto"
    config.tensorboard = False  # scalars under <workdir>/tensorboard when True
    config.plots = True  # network, search, report and training PNGs at the end

    config.mesh = "auto"  # see configs/default.py
    config.pad_population = False
    config.distributed = "auto"

    config.search = ml_collections.ConfigDict()
    config.search.generations = 40
    config.search.pop_size = 64
    config.search.max_nodes = 16
    config.search.max_connections = 48
    config.search.activation_options = list(CONTROL_POOL)
    config.search.weight_values = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0]
    config.search.prob_init_enable = 0.5
    config.search.tournament_size = 8
    config.search.output_activation = "linear"

    config.train = ml_collections.ConfigDict()
    config.train.strategy = "OpenES"
    config.train.population_size = 32
    config.train.generations = 20
    config.train.checkpoint_every = 10
    return config
