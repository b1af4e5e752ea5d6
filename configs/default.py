"""The main job: WANN search on scikit-learn's 8x8 digits, then weight training.

python -m wannflax.main --config=configs/default.py --workdir=runs/digits
"""

import ml_collections

from wannflax.activations import CLASSIFICATION_POOL


def get_config() -> ml_collections.ConfigDict:
    """Default (digits) experiment."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.problem = "supervised"
    config.dataset = "digits"
    config.loss = "cross_entropy"
    config.batch_size = 1000  # samples per generation, shared by all genomes
    config.log_every = 1  # generations between log lines
    config.log_every_epochs = 10
    config.checkpoint_every = 25  # generations between search checkpoints

    config.search = ml_collections.ConfigDict()
    config.search.generations = 600
    config.search.pop_size = 256
    config.search.max_nodes = 128
    config.search.max_connections = 768
    config.search.activation_options = list(CLASSIFICATION_POOL)
    config.search.weight_values = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0]
    config.search.prob_init_enable = 0.5
    config.search.prob_add_connection = 0.20
    config.search.prob_add_node = 0.25
    config.search.prob_enable = 0.05
    config.search.prob_change_activation = 0.50
    config.search.mutations_per_child = 1
    config.search.cull_ratio = 0.2
    config.search.elite_ratio = 0.2
    config.search.tournament_size = 32
    config.search.prob_mean_connections = 0.8
    config.search.ranking = "nsga2"
    # The release keeps outputs linear. A linear output fed by one connection
    # flips sign with the shared weight, so under the paper's +-weights every
    # direct input->output link votes for the wrong class half the time; |.|
    # outputs make such links (and any network whose output is odd or even
    # in w) give the same ranking for w and -w. See BUILD_NOTES.md.
    config.search.output_activation = "abs"

    config.train = ml_collections.ConfigDict()
    config.train.optimizer = "adamw"
    config.train.learning_rate = 0.01
    config.train.weight_decay = 0.001
    config.train.batch_size = 64
    config.train.epochs = 300
    config.train.checkpoint_every = 50  # epochs between training checkpoints
    return config
