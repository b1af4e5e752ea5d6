"""Whole runs from configs: names validated first, files written, workdirs kept."""

import json
import os
import subprocess
import sys

import pytest

from configs import xor as xor_config
from wannflax import UnknownNameError, plots
from wannflax.experiment import WorkdirInUseError, train_and_evaluate
from wannflax.progress import read_scalars

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tiny_xor_config():
    config = xor_config.get_config()
    config.search.generations = 3
    config.search.pop_size = 8
    config.train.epochs = 2
    return config


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("dataset", "cifar", "Unknown dataset 'cifar'.*digits, iris, mnist, xor"),
        ("problem", "atari", "Unknown problem 'atari'.*supervised"),
        ("loss", "hinge", "Unknown loss 'hinge'.*cross_entropy"),
        ("train.optimizer", "adamx", "Unknown optimizer 'adamx'.*adamw"),
        ("search.ranking", "spea2", "Unknown ranking 'spea2'.*nsga2"),
        ("search.output_activation", "swish", "Unknown activation 'swish'.*tanh"),
    ],
)
def test_unknown_names_fail_before_any_work_listing_choices(
    tmp_path, field, value, message
):
    config = _tiny_xor_config()
    section, _, key = field.rpartition(".")
    (config[section] if section else config)[key] = value
    with pytest.raises(UnknownNameError, match=message):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_unknown_activation_in_the_pool_is_refused(tmp_path):
    config = _tiny_xor_config()
    config.search.activation_options = ["tanh", "gelu"]
    with pytest.raises(UnknownNameError, match="Unknown activation 'gelu'"):
        train_and_evaluate(config, str(tmp_path / "run"))


def test_unknown_config_field_lists_the_valid_ones(tmp_path):
    config = _tiny_xor_config()
    config.search.population = 10
    with pytest.raises(ValueError, match="Unknown field.*population.*pop_size"):
        train_and_evaluate(config, str(tmp_path / "run"))


def test_a_run_writes_its_files_and_never_overwrites_silently(tmp_path):
    workdir = str(tmp_path / "run")
    report = train_and_evaluate(_tiny_xor_config(), workdir)
    for name in (
        "report.json",
        "champion.json",
        "metrics.jsonl",
        "config.json",
        "params",
    ):
        assert os.path.exists(os.path.join(workdir, name)), name
    with open(os.path.join(workdir, "report.json")) as handle:
        written = json.load(handle)
    assert written["shared_weight"] == report["shared_weight"]
    assert set(written["shared_weight"]) == {
        "-2.0",
        "-1.0",
        "-0.5",
        "0.5",
        "1.0",
        "2.0",
    }
    for key in ("ensemble", "tuned_shared", "trained", "champion", "wall_seconds"):
        assert key in written
    with open(os.path.join(workdir, "metrics.jsonl")) as handle:
        stages = [json.loads(line)["stage"] for line in handle]
    assert stages == ["search"] * 3 + ["train"] * 2

    before = open(os.path.join(workdir, "report.json")).read()
    with pytest.raises(WorkdirInUseError, match="already holds a finished run"):
        train_and_evaluate(_tiny_xor_config(), workdir)
    assert open(os.path.join(workdir, "report.json")).read() == before


def test_main_accepts_config_overrides(tmp_path):
    workdir = tmp_path / "main_run"
    command = [
        sys.executable,
        "-m",
        "wannflax.main",
        "--config=configs/xor.py",
        f"--workdir={workdir}",
        "--config.search.generations=2",
        "--config.search.pop_size=8",
        "--config.train.epochs=1",
    ]
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with open(workdir / "config.json") as handle:
        assert json.load(handle)["search"]["generations"] == 2
    assert (workdir / "report.json").exists()


def test_bad_training_settings_fail_before_the_search_even_with_overwrite(tmp_path):
    workdir = str(tmp_path / "run")
    train_and_evaluate(_tiny_xor_config(), workdir)
    before = {
        name: open(os.path.join(workdir, name)).read()
        for name in ("report.json", "metrics.jsonl", "champion.json")
    }
    bad = _tiny_xor_config()
    bad.train.learning_rate = -1.0
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        train_and_evaluate(bad, workdir, overwrite=True)
    for name, text in before.items():
        assert open(os.path.join(workdir, name)).read() == text, name


def test_a_control_run_searches_trains_with_es_and_reports_returns(tmp_path):
    from configs import cartpole

    config = cartpole.get_config()
    config.search.generations = 3
    config.search.pop_size = 16
    config.train.generations = 2
    config.train.population_size = 8
    config.test_episodes = 4
    workdir = str(tmp_path / "cartpole")
    report = train_and_evaluate(config, workdir)
    assert report["metric"] == "return"
    assert set(report["shared_weight"]) == {"-2.0", "-1.0", "-0.5", "0.5", "1.0", "2.0"}
    for row in [
        *report["shared_weight"].values(),
        report["tuned_shared"],
        report["trained"],
    ]:
        assert 0 <= row["mean"] <= 500 and row["std"] >= 0
    with open(os.path.join(workdir, "metrics.jsonl")) as handle:
        stages = [json.loads(line)["stage"] for line in handle]
    assert stages == ["search"] * 3 + ["train"] * 2


def test_unknown_environment_and_strategy_fail_listing_choices(tmp_path):
    from configs import cartpole

    config = cartpole.get_config()
    config.environment = "CartPole-v9"
    with pytest.raises(ValueError, match="Unknown environment 'CartPole-v9'.*swingup"):
        train_and_evaluate(config, str(tmp_path / "a"))
    config = cartpole.get_config()
    config.train.strategy = "OpenESS"
    with pytest.raises(UnknownNameError, match="Unknown strategy 'OpenESS'.*CMA_ES"):
        train_and_evaluate(config, str(tmp_path / "b"))


def test_a_bad_action_mapping_fails_before_an_overwrite_touches_the_old_run(
    tmp_path,
):
    from configs import cartpole

    config = cartpole.get_config()
    config.search.generations = 1
    config.search.pop_size = 8
    config.train.generations = 1
    config.train.population_size = 4
    config.test_episodes = 2
    workdir = str(tmp_path / "cartpole")
    train_and_evaluate(config, workdir)
    before = open(os.path.join(workdir, "report.json")).read()
    config.action_mapping = "tanh"  # CartPole's actions are discrete
    with pytest.raises(ValueError, match="'tanh' does not fit.*auto, argmax, sample"):
        train_and_evaluate(config, workdir, overwrite=True)
    assert open(os.path.join(workdir, "report.json")).read() == before


def test_a_run_draws_its_four_pictures_and_logs_tensorboard_scalars(tmp_path):
    config = _tiny_xor_config()
    config.tensorboard = True
    config.progress = "bar"
    workdir = tmp_path / "run"
    train_and_evaluate(config, str(workdir))
    for name in ("network.png", "search.png", "report.png", "training.png"):
        content = (workdir / name).read_bytes()
        assert content[:8] == b"\x89PNG\r\n\x1a\n", name
        assert len(content) > 10_000, name
    scalars = read_scalars(str(workdir / "tensorboard"))
    # One point per generation / epoch, at the generation / epoch number.
    assert [step for step, _ in scalars["search/best_mean"]] == [0, 1, 2]
    assert [step for step, _ in scalars["search/champion_connections"]] == [0, 1, 2]
    assert [step for step, _ in scalars["train/train_loss"]] == [0, 1]
    with open(workdir / "metrics.jsonl") as handle:
        first = json.loads(handle.readline())
    assert scalars["search/best_mean"][0][1] == pytest.approx(first["best_mean"])


def test_a_failing_picture_is_a_warning_after_the_results_are_written(
    tmp_path, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("no ink")

    monkeypatch.setattr(plots, "plot_network", broken)
    workdir = tmp_path / "run"
    report = train_and_evaluate(_tiny_xor_config(), str(workdir))
    assert json.loads((workdir / "report.json").read_text()) == report
    assert not (workdir / "network.png").exists()
    for name in ("search.png", "report.png", "training.png"):
        assert (workdir / name).exists(), name
    assert not (workdir / "tensorboard").exists()  # off unless asked for


def test_pictures_are_off_with_plots_false(tmp_path):
    config = _tiny_xor_config()
    config.plots = False
    workdir = tmp_path / "run"
    train_and_evaluate(config, str(workdir))
    assert (workdir / "report.json").exists()
    assert not [name for name in os.listdir(workdir) if name.endswith(".png")]


def test_an_unknown_progress_mode_fails_before_anything_is_written(tmp_path):
    config = _tiny_xor_config()
    config.progress = "bars"
    with pytest.raises(
        ValueError, match="Unknown progress mode 'bars'.*auto, bar, log"
    ):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def _run_main(*arguments):
    command = [sys.executable, "-m", "wannflax.main", *arguments]
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("value", ["false", "False", "FALSE"])
def test_main_takes_distributed_false_from_the_command_line(tmp_path, value):
    # The default is the string "auto", so the override stays the string
    # "False". generations=0 stops the run at the next check, before any work,
    # which shows the distributed setting itself was accepted.
    result = _run_main(
        "--config=configs/xor.py",
        f"--config.distributed={value}",
        "--config.search.generations=0",
        f"--workdir={tmp_path / 'run'}",
    )
    assert result.returncode != 0
    assert "distributed must be" not in result.stderr
    assert "config.search.generations must be >= 1" in result.stderr
    assert not (tmp_path / "run").exists()


def test_main_refuses_a_distributed_value_that_is_no_boolean(tmp_path):
    result = _run_main(
        "--config=configs/xor.py",
        "--config.distributed=maybe",
        f"--workdir={tmp_path / 'run'}",
    )
    assert result.returncode != 0
    assert "error: distributed must be True, False or 'auto', got 'maybe'." in (
        result.stderr
    )
    assert not (tmp_path / "run").exists()


def test_a_library_run_refuses_a_bad_distributed_value_before_any_work(tmp_path):
    config = _tiny_xor_config()
    config.distributed = "sometimes"
    with pytest.raises(ValueError, match="True, False or 'auto', got 'sometimes'"):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def _finished_run(workdir):
    """A workdir that holds a finished run's files (their content is a marker)."""
    workdir.mkdir()
    for name in ("report.json", "config.json", "metrics.jsonl"):
        (workdir / name).write_text(f'{{"kept": "{name}"}}\n')
    return {path.name: path.read_text() for path in workdir.iterdir()}


BRAX_ONLY = (
    "only these take it: brax/ant, brax/halfcheetah, brax/hopper, brax/humanoid, "
    "brax/humanoidstandup, brax/inverted_double_pendulum, brax/inverted_pendulum, "
    "brax/pusher, brax/reacher, brax/swimmer, brax/walker2d."
)


def test_main_refuses_a_backend_for_the_swingup_in_one_line_keeping_the_old_run(
    tmp_path,
):
    config_file = tmp_path / "swingup_backend.py"
    config_file.write_text(
        "from configs import swingup\n\n\n"
        "def get_config():\n"
        "    config = swingup.get_config()\n"
        '    config.backend = "generalized"\n'
        "    return config\n"
    )
    workdir = tmp_path / "run"
    before = _finished_run(workdir)
    result = _run_main(f"--config={config_file}", f"--workdir={workdir}", "--overwrite")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    # The last line is main's one-line error: the field, the environment, and
    # the environments that take a backend (the brax ones).
    assert result.stderr.strip().splitlines()[-1] == (
        "error: The setting 'backend' does not apply to the environment 'swingup'; "
        + BRAX_ONLY
    )
    assert {path.name: path.read_text() for path in workdir.iterdir()} == before


def test_a_backend_for_a_gymnax_environment_fails_before_an_overwrite(tmp_path):
    from configs import cartpole

    config = cartpole.get_config()
    config.backend = "spring"
    workdir = tmp_path / "run"
    before = _finished_run(workdir)
    with pytest.raises(ValueError) as raised:
        train_and_evaluate(config, str(workdir), overwrite=True)
    assert str(raised.value) == (
        "The setting 'backend' does not apply to the environment 'CartPole-v1'; "
        + BRAX_ONLY
    )
    assert {path.name: path.read_text() for path in workdir.iterdir()} == before


@pytest.mark.parametrize("max_steps", ["200", 2.5, 0, True])
def test_a_max_steps_that_is_no_positive_integer_fails_before_any_work(
    tmp_path, max_steps
):
    from configs import swingup

    # swingup's base config has no max_steps, so a config file can set any
    # type; the swing-up compared a string with 1 and raised a TypeError.
    config = swingup.get_config()
    config.max_steps = max_steps
    with pytest.raises(
        ValueError,
        match=f"config.max_steps must be a positive integer .*got {max_steps!r}",
    ):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")
