"""Command line entry: ``python -m wannflax.main --config=configs/digits.py``."""

from absl import app, flags, logging
from ml_collections import config_flags

from wannflax.experiment import train_and_evaluate
from wannflax.sharding import maybe_initialize_distributed

_CONFIG = config_flags.DEFINE_config_file(
    "config",
    "configs/default.py",
    "Path to an experiment config file.",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string(
    "workdir", "runs/default", "Directory for the run's files."
)
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "Replace the files of an earlier run in --workdir."
)


def main(argv):
    """Runs the experiment the flags describe; bad input exits with one line.

    Args:
      argv: the command line left after absl parsed the flags; only the
        program name is allowed.
    """
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    logging.info("Config:\n%s", _CONFIG.value)
    try:
        # Before any other JAX call: joins a multi-host run when asked.
        maybe_initialize_distributed(_CONFIG.value.get("distributed", "auto"))
        train_and_evaluate(_CONFIG.value, _WORKDIR.value, overwrite=_OVERWRITE.value)
    except (ValueError, KeyError, FileExistsError, FileNotFoundError) as error:
        # Bad input is the user's to fix: one clear line, no traceback.
        logging.error("%s: %s", type(error).__name__, error)
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    app.run(main)
