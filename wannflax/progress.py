"""Watching a run: a progress bar or log lines, and optional TensorBoard scalars."""

from __future__ import annotations

import contextlib
import os
import struct
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO

from absl import logging
from tqdm import tqdm

PROGRESS_MODES = ("auto", "bar", "log")

# Figures shown beside the bar, in this order, when a step reports them.
_POSTFIX_KEYS = (
    "best_mean",
    "best_max",
    "champion_mean",
    "champion_connections",
    "train_loss",
    "best_return",
    "mean_return",
    "best_ever_return",
)
_STEP_KEYS = ("generation", "epoch")


def resolve_progress(mode: str, stream: TextIO | None = None) -> str:
    """The display a ``progress`` setting asks for: ``"bar"`` or ``"log"``.

    Args:
      mode: ``"auto"`` (a bar when ``stream`` is a terminal, else log lines),
        ``"bar"`` or ``"log"``.
      stream: where the bar would be drawn (default: sys.stderr).

    Returns:
      ``"bar"`` or ``"log"``.

    Raises:
      ValueError: for any other value, listing the choices.
    """
    if mode not in PROGRESS_MODES:
        raise ValueError(
            f"Unknown progress mode {mode!r}; the choices are: "
            f"{', '.join(PROGRESS_MODES)}."
        )
    if mode != "auto":
        return mode
    stream = sys.stderr if stream is None else stream
    is_terminal = getattr(stream, "isatty", None)
    return "bar" if is_terminal is not None and is_terminal() else "log"


def _has_screen_size(stream: TextIO) -> bool:
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return size.columns > 0 and size.lines > 0


def _postfix(metrics: Mapping[str, Any]) -> dict[str, str]:
    keys = [key for key in _POSTFIX_KEYS if key in metrics]
    keys += sorted(key for key in metrics if key.startswith("val_"))
    return {key: f"{metrics[key]:.4g}" for key in keys}


def _scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {
        key: float(value)
        for key, value in metrics.items()
        if key not in _STEP_KEYS
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
    }


class RunMonitor:
    """Progress display and TensorBoard scalars for the stages of one run.

    Use as a context manager; each stage is entered with :meth:`stage`, which
    yields the callback to hand to ``ArchitectureSearch.run`` or a trainer's
    ``fit``. TensorBoard events go to ``<tensorboard_dir>/<stage>``, one run
    per stage because the search and Stage 2 count their steps separately.
    """

    def __init__(
        self,
        progress: str = "auto",
        tensorboard_dir: str | None = None,
        stream: TextIO | None = None,
    ):
        """Sets up the display; nothing is written until a stage starts.

        Args:
          progress: ``"auto"``, ``"bar"`` or ``"log"`` (see
            :func:`resolve_progress`).
          tensorboard_dir: directory for TensorBoard events; None writes none.
          stream: where a bar is drawn (default: sys.stderr).

        Raises:
          ValueError: for an unknown ``progress``.
        """
        self.stream = sys.stderr if stream is None else stream
        self.mode = resolve_progress(progress, self.stream)
        self.tensorboard_dir = tensorboard_dir
        if tensorboard_dir is not None:
            # Imported here so that a run without TensorBoard never loads it.
            from tensorboardX import SummaryWriter

            self._summary_writer = SummaryWriter
        self._writers: dict[str, Any] = {}

    def __enter__(self) -> RunMonitor:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def log_every(self, every: int) -> int:
        """The absl logging cadence to use: none under a bar, which shows
        every step already and would be torn apart by log lines."""
        return 0 if self.mode == "bar" else every

    @contextlib.contextmanager
    def stage(
        self, name: str, total: int, done: int = 0, unit: str = "generation"
    ) -> Iterator[Callable[[Mapping[str, Any]], None]]:
        """Watches one stage that runs steps ``done`` .. ``total``.

        Args:
          name: the stage, ``"search"`` or ``"train"``; also the prefix of the
            TensorBoard tags (``"search/best_mean"``).
          total: the step count the stage ends at.
          done: steps already run (a resumed run). TensorBoard hides events of
            this stage logged at a step >= ``done`` by an interrupted run,
            so steps written twice show once.
          unit: what a step is called beside the bar.

        Yields:
          A callback taking one step's metrics.
        """
        writer = None
        if self.tensorboard_dir is not None and total > done:
            writer = self._writers.get(name)
            if writer is None:
                directory = os.path.join(self.tensorboard_dir, name)
                earlier = (
                    [n for n in os.listdir(directory) if "tfevents" in n]
                    if os.path.isdir(directory)
                    else []
                )
                # Event file names hold the time in whole seconds; a numbered
                # suffix keeps a quick restart from reusing (and truncating)
                # the last file and keeps the files in the order written.
                writer = self._summary_writer(
                    directory,
                    purge_step=done,
                    filename_suffix=f".{len(earlier):04d}",
                )
                self._writers[name] = writer
        bar = None
        if self.mode == "bar":
            # Follow the terminal's size. A stream that reports none (a pipe,
            # or a pseudo-terminal of size 0x0, on which tqdm would hide the
            # bar) gets a fixed size instead.
            follow = _has_screen_size(self.stream)
            bar = tqdm(
                total=total,
                initial=done,
                desc=name,
                unit=unit,
                file=self.stream,
                dynamic_ncols=follow,
                ncols=None if follow else 100,
                nrows=None if follow else 24,
            )
        last: dict[str, Any] = {}
        counter = [done]

        def observe(metrics: Mapping[str, Any]) -> None:
            step = next(
                (int(metrics[key]) for key in _STEP_KEYS if key in metrics),
                counter[0],
            )
            counter[0] += 1
            last.clear()
            last.update(metrics)
            if writer is not None:
                for key, value in _scalars(metrics).items():
                    writer.add_scalar(f"{name}/{key}", value, step)
                # On disk before the next checkpoint can be taken: a run
                # killed later resumes from that checkpoint, and a step
                # lost in the writer's queue would stay a gap for good.
                writer.flush()
            if bar is not None:
                bar.set_postfix(_postfix(metrics), refresh=False)
                bar.update(1)

        try:
            yield observe
        finally:
            if bar is not None:
                bar.close()
                if last:
                    # The bar is gone from log files; leave one line there.
                    logging.info(
                        "%s: %d/%d %ss, last: %s",
                        name,
                        counter[0],
                        total,
                        unit,
                        ", ".join(f"{k} {v}" for k, v in _postfix(last).items()),
                    )
            if writer is not None:
                writer.flush()

    def close(self) -> None:
        """Flushes and closes the TensorBoard writers."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def _records(path: str) -> Iterator[bytes]:
    # TFRecord framing: u64 length, u32 length CRC, payload, u32 payload CRC.
    # CRCs are not checked; a record cut short by a killed run ends the file.
    with open(path, "rb") as handle:
        while True:
            header = handle.read(12)
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            payload = handle.read(length)
            if len(payload) < length or len(handle.read(4)) < 4:
                return
            yield payload


def read_scalars(logdir: str) -> dict[str, list[tuple[int, float]]]:
    """Reads back the scalars a run wrote, as TensorBoard would show them.

    Reads every event file under ``logdir`` without needing TensorBoard
    itself. Within one directory files are read oldest first, and a resume
    marker (a session start at step T) drops the earlier points of that
    directory at steps >= T, as TensorBoard does.

    Args:
      logdir: a run's ``tensorboard`` directory (or one stage's below it).

    Returns:
      ``{tag: [(step, value), ...]}`` in the order written.
    """
    from tensorboardX.proto import event_pb2

    scalars: dict[str, list[tuple[int, float]]] = {}
    for directory, _, names in sorted(os.walk(logdir)):
        here: dict[str, list[tuple[int, float]]] = {}
        for name in sorted(n for n in names if "tfevents" in n):
            for payload in _records(os.path.join(directory, name)):
                event = event_pb2.Event.FromString(payload)
                if event.HasField("session_log") and (
                    event.session_log.status == event_pb2.SessionLog.START
                ):
                    for points in here.values():
                        points[:] = [p for p in points if p[0] < event.step]
                for value in event.summary.value:
                    here.setdefault(value.tag, []).append(
                        (int(event.step), float(value.simple_value))
                    )
        for tag, points in here.items():
            scalars.setdefault(tag, []).extend(points)
    return scalars
