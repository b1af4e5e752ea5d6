"""WANN search on scikit-learn's 8x8 digits, then weight training (= default).

python -m wannflax.main --config=configs/digits.py --workdir=runs/digits
"""

import ml_collections

from configs import default


def get_config() -> ml_collections.ConfigDict:
    """Digits experiment: the main job's settings."""
    return default.get_config()
