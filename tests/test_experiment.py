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
