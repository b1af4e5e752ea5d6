"""Checkpoints: exact resume, strict restore, kills at any moment lose nothing."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import chex
import jax
import pytest

from configs import xor as xor_config
from wannflax.checkpoint import Checkpointer, CheckpointMismatchError
from wannflax.experiment import WorkdirInUseError, train_and_evaluate
from wannflax.problems import make_supervised
from wannflax.search import ArchitectureSearch, GenerationError, SearchConfig
from wannflax.training import WeightTrainer, WeightTrainerConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _search(max_nodes=12, pop_size=16):
    problem = make_supervised("xor", batch_size=4)
    config = SearchConfig(
        pop_size=pop_size, max_nodes=max_nodes, max_connections=32, seed=3
    )
    return ArchitectureSearch(problem, config)


def test_run3_checkpoint_restore_run2_equals_run5_bit_for_bit(tmp_path):
    straight = _search()
    straight.run(5, log_every=0)

    first = _search()
    checkpointer = Checkpointer(str(tmp_path / "ckpt"))
    first.run(3, log_every=0, checkpointer=checkpointer)
    resumed = _search()
    assert resumed.restore(checkpointer) == 3  # the next generation to run
    resumed.run(2, log_every=0)

    chex.assert_trees_all_equal(
        jax.device_get(resumed.state), jax.device_get(straight.state)
    )
    assert resumed.history == straight.history
    chex.assert_trees_all_equal(resumed.champion, straight.champion)


def test_restoring_into_a_different_capacity_fails_naming_the_leaf(tmp_path):
    checkpointer = Checkpointer(str(tmp_path / "ckpt"))
    small = _search(max_nodes=32)
    small.run(1, log_every=0, checkpointer=checkpointer)
    with pytest.raises(
        CheckpointMismatchError, match=r"champion\.node_activation.*\(32,\).*\(64,\)"
    ):
        _search(max_nodes=64).restore(checkpointer)


def test_restoring_into_a_different_population_size_fails_naming_the_leaf(tmp_path):
    checkpointer = Checkpointer(str(tmp_path / "ckpt"))
    _search(pop_size=16).run(1, log_every=0, checkpointer=checkpointer)
    with pytest.raises(
        CheckpointMismatchError,
        match=r"population\.conn_enabled.*\(16, 32\).*\(8, 32\)",
    ):
        _search(pop_size=8).restore(checkpointer)


def test_a_leftover_partial_step_directory_is_ignored(tmp_path):
    directory = tmp_path / "ckpt"
    search = _search()
    search.run(2, log_every=0, checkpointer=Checkpointer(str(directory)))
    # What a crash mid-write leaves: a temporary directory for a later step.
    (directory / "3.orbax-checkpoint-tmp-1234").mkdir()
    (directory / "3.orbax-checkpoint-tmp-1234" / "junk").write_text("partial")
    checkpointer = Checkpointer(str(directory))
    assert checkpointer.latest_step() == 2
    assert _search().restore(checkpointer) == 2


def test_training_resume_equals_uninterrupted_training(tmp_path):
    search = _search()
    champion = search.run(4, log_every=0)
    problem = search.problem
    config = WeightTrainerConfig(optimizer="adam", learning_rate=0.05, batch_size=2)
    straight = WeightTrainer(champion, problem, config).fit(5, log_every=0)

    checkpointer = Checkpointer(str(tmp_path / "train"))
    WeightTrainer(champion, problem, config).fit(
        3, log_every=0, checkpointer=checkpointer
    )
    resumed = WeightTrainer(champion, problem, config)
    assert resumed.restore(checkpointer) == 3
    resumed.fit(2, log_every=0)
    chex.assert_trees_all_equal(
        jax.device_get(resumed.state), jax.device_get(straight.state)
    )
    assert resumed.history == straight.history
    # The optimizer step counter advanced once per update: 2 batches x 5 epochs.
    assert int(resumed.state.step) == 10


def _small_config():
    config = xor_config.get_config()
    config.search.generations = 12
    config.search.pop_size = 16
    config.train.epochs = 6
    config.checkpoint_every = 1
    config.train.checkpoint_every = 1
    return config


def test_a_changed_config_is_refused_listing_the_fields(tmp_path):
    workdir = str(tmp_path / "run")
    config = _small_config()
    # Leave an unfinished run: config.json and a search checkpoint, no report.
    train_and_evaluate(config, workdir)
    os.remove(os.path.join(workdir, "report.json"))
    changed = _small_config()
    changed.search.pop_size = 32
    changed.train.learning_rate = 0.5
    changed.log_every = 5  # logging only: never counts as a difference
    with pytest.raises(WorkdirInUseError, match="search.pop_size, train.learning_rate"):
        train_and_evaluate(changed, workdir)


def _launch(workdir, extra=()):
    command = [
        sys.executable,
        "-m",
        "wannflax.main",
        "--config=configs/xor.py",
        f"--workdir={workdir}",
        "--config.search.generations=40",
        "--config.search.pop_size=32",
        "--config.train.epochs=30",
        "--config.checkpoint_every=1",
        "--config.train.checkpoint_every=1",
        *extra,
    ]
    return subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return handle.read().splitlines()


@pytest.mark.slow  # about a minute of CLI runs; `pytest -m slow` runs it
def test_sigkill_at_random_moments_then_resume_matches_an_uninterrupted_run(tmp_path):
    reference = tmp_path / "reference"
    assert _launch(reference).wait(timeout=300) == 0

    interrupted = tmp_path / "interrupted"
    rng = random.Random(0)
    # Kill after the log reaches each mark (search and training stages), at a
    # random extra delay, so kills land mid-generation and mid-checkpoint.
    for mark in (3, 15, 28, 45, 60):
        process = _launch(interrupted)
        deadline = time.time() + 120
        while (
            len(_lines(interrupted / "metrics.jsonl")) < mark and process.poll() is None
        ):
            if time.time() > deadline:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.05))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    final = _launch(interrupted)
    assert final.wait(timeout=300) == 0

    assert _lines(interrupted / "metrics.jsonl") == _lines(reference / "metrics.jsonl")
    assert _lines(interrupted / "champion.json") == _lines(reference / "champion.json")
    with open(reference / "report.json") as a, open(interrupted / "report.json") as b:
        expected, got = json.load(a), json.load(b)
    for key in (
        "shared_weight",
        "ensemble",
        "tuned_shared",
        "trained",
        "champion",
        "generations",
    ):
        assert got[key] == expected[key], key


class BrokenProblem:
    """A problem whose fitness raises while a generation is built."""

    num_inputs, num_outputs = 2, 1

    def sample_batch(self, key):
        return jax.numpy.zeros((4, 2)), jax.numpy.zeros(4)

    def fitness(self, outputs, y):
        raise ValueError("the simulator crashed")


def test_a_problem_that_raises_stops_the_run_naming_the_generation(tmp_path):
    search = ArchitectureSearch(
        BrokenProblem(), SearchConfig(pop_size=8, max_nodes=8, max_connections=16)
    )
    checkpointer = Checkpointer(str(tmp_path / "ckpt"))
    with pytest.raises(
        GenerationError,
        match="Generation 0 failed: every individual raised ValueError: the simulator",
    ):
        search.run(3, log_every=0, checkpointer=checkpointer)
    assert checkpointer.latest_step() is None  # nothing half-written
