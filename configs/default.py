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
    # Watching the run: "auto" draws a progress bar on a terminal and log
    # lines elsewhere; "bar" and "log" force one.
    config.progress = "auto"
    config.tensorboard = False  # scalars under <workdir>/tensorboard when True
    config.plots = True  # network, search, report and training PNGs at the end
    # Devices: "auto" splits the population over every device (one device:
    # no mesh), or axis sizes such as "population=4,data=2" (-1: the rest).
    # pad_population rounds a population size up to a multiple of the
    # population axis instead of refusing it. distributed: "auto" joins a
    # multi-host run when JAX_COORDINATOR_ADDRESS is set; True always; False
    # never.
    config.mesh = "auto"
    config.pad_population = False
    config.distributed = "auto"

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
    # Population forward: "auto" (depth_sorted at this capacity), or
    # node_sequential, layered_dense, depth_sorted, sparse (see
    # wannflax/evaluation.py); all give the same outputs up to float32
    # rounding. population_chunk: genomes per lax.map step; -1 sizes chunks
    # to the cache, 0 evaluates the whole population at once.
    config.search.evaluation = "auto"
    config.search.population_chunk = -1
    # The release keeps outputs linear. A linear output fed by one connection
    # flips sign with the shared weight, so under the paper's +-weights every
    # direct input->output link votes for the wrong class half the time; |.|
    # outputs make such links (and any network whose output is odd or even
    # in w) give the same ranking for w and -w. See BUILD_NOTES.md.
    config.search.output_activation = "abs"
    config.search.proxy_strategy = "none"  # or hybrid, sequential, pareto
    config.search.proxies = ["synflow"]  # names in wannflax.proxies.PROXIES
    config.search.proxy_weights = []  # one per proxy; empty: equal weights
    config.search.proxy_aggregation = "az_log_rank"  # how the proxies combine
    config.search.proxy_mix = 0.5  # hybrid/sequential weight of the proxy rank
    config.search.proxy_top_fraction = 0.25  # sequential: share scored
    config.search.proxy_batch_size = 64  # samples of the batch the proxies see

    config.train = ml_collections.ConfigDict()
    config.train.optimizer = "adamw"
    config.train.learning_rate = 0.01
    config.train.weight_decay = 0.001
    config.train.batch_size = 64
    config.train.epochs = 300
    config.train.checkpoint_every = 50  # epochs between training checkpoints
    return config
