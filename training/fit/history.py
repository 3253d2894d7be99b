"""Training callbacks: the run's history.json + curves picture, and a wall-clock budget."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import keras

from training.fit.runs import write_json


class History(keras.callbacks.Callback):
    """Appends each epoch's logs (nats per token) to ``history.json`` and redraws ``training-curves.png``.

    Reads an existing history.json, so a resumed run continues its curves.
    ``clock`` (seconds, monotonic) measures the training time of each epoch.
    """

    def __init__(self, run_path: Path, clock: Callable[[], float]):
        super().__init__()
        self.path = Path(run_path) / "history.json"
        self.clock = clock
        self.data: dict[str, list[float]] = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self._started = 0.0

    @property
    def epochs(self) -> int:
        return len(self.data.get("loss", []))

    def best(self, key: str) -> float | None:
        values = self.data.get(key)
        return min(values) if values else None

    def on_epoch_begin(self, epoch, logs=None):
        self._started = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        logs["seconds"] = self.clock() - self._started
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        for key, value in logs.items():
            self.data.setdefault(key, []).append(float(value))
        write_json(self.path, self.data)
        plot_curves(self.data, self.path.parent / "training-curves.png")


def plot_curves(data: dict[str, list[float]], path: Path) -> None:
    """Training and validation loss (nats per token) per epoch, as a PNG."""
    import matplotlib  # lazy: only drawn at the end of an epoch; matplotlib takes half a second to import

    matplotlib.use("Agg")
    from matplotlib import pyplot  # lazy: after choosing the Agg backend (no display needed)

    figure, axis = pyplot.subplots(figsize=(6, 3.5), dpi=100)
    epochs = range(1, len(data.get("loss", [])) + 1)
    axis.plot(epochs, data.get("loss", []), marker="o", label="training (with dropout)")
    if "val_loss" in data:
        axis.plot(epochs, data["val_loss"], marker="o", label="validation")
    axis.set_xlabel("epoch")
    axis.set_ylabel("cross-entropy (nats per token)")
    axis.set_title("Melody Box LSTM: loss per epoch")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


class TimeBudget(keras.callbacks.Callback):
    """Stops training once ``seconds`` have passed (0 = no limit); the current epoch is still validated."""

    def __init__(self, seconds: float, clock: Callable[[], float]):
        super().__init__()
        self.seconds = seconds
        self.clock = clock
        self.stopped = False
        self._start = 0.0

    def on_train_begin(self, logs=None):
        self._start = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        if self.seconds and self.clock() - self._start > self.seconds:
            self.model.stop_training = True
            self.stopped = True
