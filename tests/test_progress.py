"""Watching a run: progress modes, the bar, and TensorBoard scalars read back."""

import io

import pytest

from wannflax.progress import RunMonitor, read_scalars, resolve_progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _generation(g):
    return {"generation": g, "best_mean": 0.5 + g, "champion_connections": 2 + g}


def test_unknown_progress_mode_fails_listing_the_choices():
    with pytest.raises(
        ValueError, match="Unknown progress mode 'bars'.*auto, bar, log"
    ):
        resolve_progress("bars")
    with pytest.raises(ValueError, match="auto, bar, log"):
        RunMonitor("bars")


def test_auto_draws_a_bar_only_on_a_terminal():
    assert resolve_progress("auto", _Terminal()) == "bar"
    assert resolve_progress("auto", io.StringIO()) == "log"
    # An explicit choice wins over what the stream is.
    assert resolve_progress("bar", io.StringIO()) == "bar"
    assert resolve_progress("log", _Terminal()) == "log"


def test_a_bar_counts_steps_shows_the_best_figures_and_silences_step_logs():
    stream = io.StringIO()
    monitor = RunMonitor("bar", stream=stream)
    # Per-step absl lines would tear the bar apart; the bar shows every step.
    assert monitor.log_every(5) == 0
    with monitor.stage("search", total=4) as observe:
        for g in range(3):
            observe(_generation(g))
    drawn = stream.getvalue()
    assert "search" in drawn and "3/4" in drawn
    assert "best_mean=2.5" in drawn and "champion_connections=4" in drawn


def test_log_mode_draws_nothing_and_keeps_the_log_cadence():
    stream = io.StringIO()
    monitor = RunMonitor("log", stream=stream)
    assert monitor.log_every(5) == 5
    with monitor.stage("search", total=2) as observe:
        observe(_generation(0))
    assert stream.getvalue() == ""


def test_tensorboard_gets_one_scalar_per_metric_at_the_generation_step(tmp_path):
    with RunMonitor("log", str(tmp_path)) as monitor:
        with monitor.stage("search", total=3) as observe:
            for g in range(3):
                observe(_generation(g))
        with monitor.stage("train", total=2, unit="epoch") as observe:
            for e in range(2):
                observe({"epoch": e, "train_loss": 1.0 / (e + 1)})
    scalars = read_scalars(str(tmp_path))
    # The step counters themselves are not scalars.
    assert sorted(scalars) == [
        "search/best_mean",
        "search/champion_connections",
        "train/train_loss",
    ]
    assert scalars["search/best_mean"] == [(0, 0.5), (1, 1.5), (2, 2.5)]
    assert scalars["train/train_loss"] == [(0, 1.0), (1, 0.5)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search", "train"]


def test_a_resumed_stage_replaces_the_steps_logged_after_its_checkpoint(tmp_path):
    # First attempt: generations 0..3 logged, but the last checkpoint was at 2.
    with RunMonitor("log", str(tmp_path)) as monitor:
        with monitor.stage("search", total=5) as observe:
            for g in range(4):
                observe(_generation(g))
    # The resume redoes 2..4 (in the same second, which must not clobber the
    # first file): each step shows once, with the resumed values.
    with RunMonitor("log", str(tmp_path)) as monitor:
        with monitor.stage("search", total=5, done=2) as observe:
            for g in range(2, 5):
                observe({**_generation(g), "best_mean": 10.0 + g})
    assert read_scalars(str(tmp_path))["search/best_mean"] == [
        (0, 0.5),
        (1, 1.5),
        (2, 12.0),
        (3, 13.0),
        (4, 14.0),
    ]
    assert len(list((tmp_path / "search").iterdir())) == 2


def test_without_tensorboard_nothing_is_written(tmp_path, monkeypatch):
    # tensorboardX's own default would be a runs/ folder in the working dir.
    monkeypatch.chdir(tmp_path)
    with RunMonitor("log", None) as monitor:
        with monitor.stage("search", total=1) as observe:
            observe(_generation(0))
    assert list(tmp_path.iterdir()) == []
