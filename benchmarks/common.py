"""Settings the benchmark scripts share (imported as ``common``: a script's
own folder is on its import path)."""

from wannflax.search import SearchConfig
from wannflax.training import WeightTrainerConfig


def digits_search_config(**settings) -> SearchConfig:
    """The default job's digits search settings (configs/default.py).

    Args:
      **settings: SearchConfig fields to set or override (pop_size, capacity,
        seed, evaluation, proxy settings, ...).
    """
    defaults = dict(
        max_nodes=128,
        max_connections=768,
        prob_init_enable=0.5,
        output_activation="abs",
        tournament_size=32,
    )
    return SearchConfig(**{**defaults, **settings})


def digits_trainer_config(seed: int) -> WeightTrainerConfig:
    """The default job's Stage 2 settings: adamw, lr 0.01, weight decay 0.001."""
    return WeightTrainerConfig(
        optimizer="adamw",
        learning_rate=0.01,
        weight_decay=0.001,
        batch_size=64,
        seed=seed,
    )
