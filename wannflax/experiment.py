"""A whole run from a config: search, weight training, report, files in a workdir."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from typing import Any

import jax
import ml_collections
import orbax.checkpoint as ocp
from absl import logging

from wannflax import activations as activation_table
from wannflax import datasets, ranking, sharding
from wannflax.checkpoint import Checkpointer
from wannflax.optimizers import OPTIMIZERS, make_optimizer
from wannflax.plots import PLOT_FILES, write_run_plots
from wannflax.problems import LOSSES, PROBLEMS
from wannflax.problems.rl import (
    check_environment_name,
    check_environment_options,
    make_environment,
)
from wannflax.progress import RunMonitor
from wannflax.registry import parse_spec
from wannflax.report import accuracy_table, return_table
from wannflax.search import ArchitectureSearch, SearchConfig
from wannflax.training import WeightTrainer, WeightTrainerConfig

# Files a finished or running job leaves; their presence marks a used workdir.
RUN_FILES = (
    "report.json",
    "champion.json",
    "metrics.jsonl",
    "config.json",
    "params",
    "checkpoints",
    "tensorboard",
    *PLOT_FILES,
)


class WorkdirInUseError(FileExistsError):
    """The workdir already holds a run."""


def _dataclass_kwargs(
    cls, section: ml_collections.ConfigDict, where: str, extra: tuple = ()
) -> dict[str, Any]:
    names = {field.name for field in dataclasses.fields(cls)} | set(extra)
    values = section.to_dict() if hasattr(section, "to_dict") else dict(section)
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(
            f"Unknown field(s) {unknown} in config.{where}; the valid fields are: "
            f"{', '.join(sorted(names))}."
        )
    return values


def is_rl(config: ml_collections.ConfigDict) -> bool:
    """Whether the config describes a control task (``problem = "rl"``)."""
    return config.problem == "rl"


def validate_names(config: ml_collections.ConfigDict) -> None:
    """Checks every registry name in the config before any work starts."""
    if is_rl(config):
        from wannflax.es_training import STRATEGIES

        check_environment_name(config.environment)
        STRATEGIES.get(config.train.strategy)
    else:
        PROBLEMS.get(config.problem)
        datasets.DATASETS.get(parse_spec(config.dataset)[0])
        LOSSES.get(config.loss)
        OPTIMIZERS.get(config.train.optimizer)
    ranking.RANKINGS.get(config.search.get("ranking", "nsga2"))
    for name in config.search.get("activation_options", ()):
        activation_table.ACTIVATIONS.get(name)
    activation_table.ACTIVATIONS.get(config.search.get("output_activation", "linear"))


def search_config(config: ml_collections.ConfigDict) -> SearchConfig:
    """The SearchConfig described by ``config.search`` (minus ``generations``)."""
    values = _dataclass_kwargs(SearchConfig, config.search, "search", ("generations",))
    values.pop("generations", None)
    values.setdefault("seed", config.seed)
    return SearchConfig(**values)


def trainer_config(config: ml_collections.ConfigDict):
    """Stage 2 settings from ``config.train``: WeightTrainerConfig, or for
    control tasks ESTrainerConfig (minus the step counts and cadence)."""
    if is_rl(config):
        from wannflax.es_training import ESTrainerConfig

        cls, steps = ESTrainerConfig, "generations"
    else:
        cls, steps = WeightTrainerConfig, "epochs"
    values = _dataclass_kwargs(cls, config.train, "train", (steps, "checkpoint_every"))
    values.pop(steps, None)
    values.pop("checkpoint_every", None)
    values.setdefault("seed", config.seed)
    return cls(**values)


def _stage2_steps(config: ml_collections.ConfigDict) -> int:
    return config.train.generations if is_rl(config) else config.train.epochs


def _make_trainer(champion, problem, settings, config, mesh=None):
    if is_rl(config):
        from wannflax.es_training import ESTrainer

        return ESTrainer(champion, problem, settings, mesh=mesh)
    return WeightTrainer(champion, problem, settings)


def mesh_from_config(config: ml_collections.ConfigDict):
    """The device mesh of a run, or None for the one-device path.

    ``config.mesh`` is "auto" (the default: a machine with several devices
    puts them all on the population axis, a single device runs unsharded) or
    axis sizes such as "population=4,data=2", -1 taking the devices left.
    """
    spec = config.get("mesh", "auto")
    if spec in (None, "auto"):
        return sharding.make_mesh() if jax.device_count() > 1 else None
    return sharding.make_mesh(sharding.parse_mesh(spec))


def _fit_to_mesh(config, mesh, search_settings, train_settings) -> None:
    """Population sizes the mesh splits evenly: checked, or padded if asked."""
    if mesh is None:
        return
    shards = sharding.population_shards(mesh)
    pad = bool(config.get("pad_population", False))
    search_settings.pop_size = sharding.check_divisible(
        search_settings.pop_size, shards, "search.pop_size", pad
    )
    if is_rl(config):
        train_settings.population_size = sharding.check_divisible(
            int(train_settings.population_size), shards, "train.population_size", pad
        )


def environment_options(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The optional environment settings a control config sets (None: unset)."""
    return {
        name: config[name]
        for name in ("max_steps", "action_mapping", "backend")
        if name in config and config[name] is not None
    }


def validate_environment_settings(config: ml_collections.ConfigDict) -> None:
    """Checks a control config's environment settings before any work starts.

    Raises:
      ValueError: a setting the environment does not take (``backend`` for
        the swing-up or a gymnax environment), naming it and the environments
        that take it; or a ``max_steps`` that is not a positive integer.
    """
    options = environment_options(config)
    check_environment_options(config.environment, options)
    max_steps = options.get("max_steps")
    # A field the base config lacks is untyped, so a config file can give it
    # a string or a float that the environments would trip over mid-build.
    if max_steps is not None and (
        not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1
    ):
        raise ValueError(
            "config.max_steps must be a positive integer (steps per episode) or "
            f"None for the environment's own limit, got {max_steps!r}."
        )


def build_problem(config: ml_collections.ConfigDict):
    """The config's problem: an environment for control, else a registry build."""
    if is_rl(config):
        return make_environment(
            config.environment, episodes=config.episodes, **environment_options(config)
        )
    return PROBLEMS.build(
        config.problem,
        dataset=config.dataset,
        loss_fn=config.loss,
        batch_size=config.batch_size,
    )


# Fields that change only logging, pictures or checkpoint cadence, never the
# result; a resumed run may change them.
RESULT_NEUTRAL_FIELDS = frozenset(
    {
        "log_every",
        "log_every_epochs",
        "checkpoint_every",
        "train.checkpoint_every",
        "plots",
        "progress",
        "tensorboard",
        "distributed",
    }
)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        flat = {}
        for key, value in tree.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: tree}


def config_differences(saved: dict, current: dict) -> list[str]:
    """Fields (dotted) whose values differ between two config dicts."""
    old, new = _flatten(saved), _flatten(current)
    return sorted(
        name
        for name in set(old) | set(new)
        if name not in RESULT_NEUTRAL_FIELDS and old.get(name) != new.get(name)
    )


def check_workdir(workdir: str, config_dict: dict, overwrite: bool) -> bool:
    """Decides what to do with ``workdir``; returns True to resume a run.

    A finished run (``report.json``) is never touched without ``overwrite``;
    an unfinished one is resumed only with the same result-affecting config.

    Raises:
      WorkdirInUseError: naming the reason and the differing fields.
    """
    if overwrite:
        return False
    used = [name for name in RUN_FILES if os.path.exists(os.path.join(workdir, name))]
    if not used:
        return False
    if os.path.exists(os.path.join(workdir, "report.json")):
        raise WorkdirInUseError(
            f"The workdir {workdir!r} already holds a finished run ({', '.join(used)}); "
            "choose another --workdir or pass --overwrite to replace it."
        )
    config_path = os.path.join(workdir, "config.json")
    if not os.path.exists(config_path):
        raise WorkdirInUseError(
            f"The workdir {workdir!r} holds run files ({', '.join(used)}) but no "
            "config.json; pass --overwrite to start over."
        )
    with open(config_path) as handle:
        differences = config_differences(json.load(handle), config_dict)
    if differences:
        raise WorkdirInUseError(
            f"The workdir {workdir!r} holds an unfinished run with a different config; "
            f"differing fields: {', '.join(differences)}. Resume with the same config "
            "or pass --overwrite to start over."
        )
    return True


def _clear_run_files(workdir: str) -> None:
    for name in RUN_FILES:
        path = os.path.join(workdir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def _rewrite_metrics(workdir: str, search_history: list, train_history: list) -> None:
    """Makes metrics.jsonl hold exactly the restored histories.

    Lines written after the last checkpoint of an interrupted run are
    dropped, so a resumed run's log equals an uninterrupted one's.
    """
    path = os.path.join(workdir, "metrics.jsonl")
    partial = path + ".partial"
    with open(partial, "w") as handle:
        for stage, history in (("search", search_history), ("train", train_history)):
            for metrics in history:
                handle.write(json.dumps({"stage": stage, **metrics}) + "\n")
    os.replace(partial, path)


def _write_json(path: str, payload: Any) -> None:
    # Write-then-rename, so a reader never sees half a file.
    partial = path + ".partial"
    with open(partial, "w") as handle:
        json.dump(payload, handle, indent=2)
    os.replace(partial, path)


def train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str, overwrite: bool = False
) -> dict[str, Any]:
    """Runs search, training and evaluation, writing everything into ``workdir``.

    Besides the result files, a run shows a progress bar or log lines
    (``config.progress``), can write TensorBoard scalars under
    ``workdir/tensorboard`` (``config.tensorboard``) and, once report.json is
    written, draws network.png, search.png, report.png and training.png
    (``config.plots``); a picture that fails is a warning, never an error.

    Args:
      config: see configs/default.py for the fields.
      workdir: output directory (created if missing).
      overwrite: replace the files of an earlier run in ``workdir``.

    Returns:
      The report (also written to ``workdir/report.json``).
    """
    validate_names(config)
    if is_rl(config):
        validate_environment_settings(config)
    # main checks it before JAX starts; a library call is checked here.
    sharding.parse_distributed(config.get("distributed", "auto"))
    # Writes nothing until a stage starts; an unknown progress mode fails here.
    monitor = RunMonitor(
        config.get("progress", "auto"),
        os.path.join(workdir, "tensorboard")
        if config.get("tensorboard") and sharding.is_primary()
        else None,
    )
    search_settings = search_config(config)
    train_settings = trainer_config(config)
    # Every setting is checked before anything is computed, deleted or written.
    train_settings.validate()
    if not is_rl(config):
        make_optimizer(
            train_settings.optimizer,
            train_settings.learning_rate,
            train_settings.weight_decay,
            **dict(train_settings.optimizer_kwargs),
        )
    if config.search.generations < 1 or _stage2_steps(config) < 0:
        raise ValueError(
            "config.search.generations must be >= 1 and the Stage 2 count "
            "(train.epochs, or train.generations for control) >= 0."
        )
    mesh = mesh_from_config(config)
    _fit_to_mesh(config, mesh, search_settings, train_settings)
    config_dict = json.loads(config.to_json_best_effort())
    resume = check_workdir(workdir, config_dict, overwrite)
    # In a multi-host run every process computes; only process 0 writes the
    # run's files (orbax coordinates the checkpoint writes itself).
    primary = sharding.is_primary()

    problem = build_problem(config)
    search = ArchitectureSearch(problem, search_settings, mesh=mesh)
    os.makedirs(workdir, exist_ok=True)
    if overwrite and primary:
        _clear_run_files(workdir)
    if not resume and primary:
        _write_json(os.path.join(workdir, "config.json"), config_dict)
    search_checkpoints = Checkpointer(os.path.join(workdir, "checkpoints", "search"))
    train_checkpoints = Checkpointer(os.path.join(workdir, "checkpoints", "train"))
    every = config.get("checkpoint_every", 25)

    done, trainer, epochs_done = 0, None, 0
    if resume and search_checkpoints.latest_step() is not None:
        done = search.restore(search_checkpoints)
        logging.info("Resuming %s at generation %d.", workdir, done)
        if done >= config.search.generations and train_checkpoints.latest_step():
            trainer = _make_trainer(
                search.champion, problem, train_settings, config, mesh
            )
            epochs_done = trainer.restore(train_checkpoints)
            logging.info("Resuming weight training at epoch %d.", epochs_done)
    if primary:
        _rewrite_metrics(workdir, search.history, trainer.history if trainer else [])
    logging.info(
        "Searching %s: %d inputs, %d outputs, population %d, generations %d to %d.",
        config.environment if is_rl(config) else config.dataset,
        problem.num_inputs,
        problem.num_outputs,
        search_settings.pop_size,
        done,
        config.search.generations,
    )

    metrics_path = os.path.join(workdir, "metrics.jsonl") if primary else os.devnull
    with open(metrics_path, "a") as metrics_file, monitor:

        def record(stage, observe):
            def write(metrics):
                metrics_file.write(json.dumps({"stage": stage, **metrics}) + "\n")
                metrics_file.flush()
                observe(metrics)

            return write

        started = time.perf_counter()
        with monitor.stage("search", config.search.generations, done) as observe:
            champion = search.run(
                max(config.search.generations - done, 0),
                callback=record("search", observe),
                log_every=monitor.log_every(config.get("log_every", 1)),
                checkpointer=search_checkpoints,
                checkpoint_every=every,
            )
        search_seconds = time.perf_counter() - started
        if primary:
            _write_json(os.path.join(workdir, "champion.json"), champion.to_dict())

        started = time.perf_counter()
        if trainer is None:
            trainer = _make_trainer(champion, problem, train_settings, config, mesh)
        steps = _stage2_steps(config)
        unit = "generation" if is_rl(config) else "epoch"
        with monitor.stage("train", steps, epochs_done, unit) as observe:
            trainer.fit(
                max(steps - epochs_done, 0),
                callback=record("train", observe),
                log_every=monitor.log_every(config.get("log_every_epochs", 10)),
                checkpointer=train_checkpoints,
                checkpoint_every=config.train.get("checkpoint_every", 50),
            )
        train_seconds = time.perf_counter() - started

    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(
        os.path.abspath(os.path.join(workdir, "params")),
        trainer.get_weights(),
        force=True,
    )
    checkpointer.wait_until_finished()

    if is_rl(config):
        split = f"{config.get('test_episodes', 100)} test episodes"
        table = return_table(
            champion,
            problem,
            search_settings.weight_values,
            trainer.shared_weight,
            trainer.get_weights(),
            episodes=config.get("test_episodes", 100),
            seed=config.seed + 1,
        )
    else:
        x_eval, y_eval, split = problem.x_test, problem.y_test, "test"
        if x_eval is None:
            x_eval, y_eval, split = problem.x_train, problem.y_train, "train"
        table = accuracy_table(
            champion,
            problem,
            x_eval,
            y_eval,
            search_settings.weight_values,
            trainer.shared_weight,
            trainer.get_weights(),
        )
    report = {
        **table,
        "evaluated_on": split,
        "champion": {
            "hidden_nodes": int(champion.num_hidden()),
            "connections": int(champion.num_connections()),
            "search_mean_fitness": float(search.state.champion_fitness[0]),
        },
        "generations": int(search.state.generation),
        # Wall times of this process only: a resumed run counts from its resume.
        "resumed_from": {"generation": done, "epoch": epochs_done} if resume else None,
        "wall_seconds": {"search": search_seconds, "train": train_seconds},
        "devices": [str(device) for device in jax.devices()],
    }
    if not primary:
        return report
    _write_json(os.path.join(workdir, "report.json"), report)
    logging.info("Report: %s", json.dumps(report))
    if config.get("plots", True):
        write_run_plots(workdir, champion, search.history, trainer.history, report)
    return report
