"""How a training session ended: the one-line summary ``train`` prints, and its warning (no TensorFlow here)."""

from __future__ import annotations

from dataclasses import dataclass

STOP_REASONS = ("done", "early", "budget")
ADVICE = ("try --from default (fine-tune the shipped model), more melodies, or more --epochs; "
          "`melodybox-train evaluate` compares it with the n-gram")


@dataclass(frozen=True)
class Outcome:
    """One training session. Losses in nats per token; ``history`` holds per-epoch lists (History's keys).

    ``reason``: "done" (all epochs), "early" (no validation gain for ``patience`` epochs) or "budget"
    (``budget_minutes`` of training spent). ``unigram_loss``: the unigram baseline on the same validation
    targets (None: not compared). ``seconds``: wall time of the session.
    """

    history: dict[str, list[float]]
    epochs: int
    steps_per_epoch: int
    passes_per_epoch: float
    reason: str
    seconds: float
    patience: int
    budget_minutes: float
    unigram_loss: float | None = None

    @property
    def best_epoch(self) -> int:
        """1-based epoch with the lowest validation loss."""
        losses = self.history["val_loss"]
        return losses.index(min(losses)) + 1

    @property
    def best_loss(self) -> float:
        return min(self.history["val_loss"])

    def stop(self) -> str:
        """Why the session ended, in words."""
        done = len(self.history["loss"])
        if self.reason == "early":
            return f"stopped early after epoch {done} of {self.epochs}: no validation gain for {self.patience} epochs"
        if self.reason == "budget":
            return f"stopped in epoch {done} of {self.epochs}: the {self.budget_minutes:g}-minute budget was spent"
        return f"ran all {self.epochs} epochs"

    def summary(self) -> str:
        """One line: epochs and batches, time, best validation loss against the unigram, why it stopped."""
        minutes, seconds = divmod(round(self.seconds), 60)
        unigram = "" if self.unigram_loss is None else f" (unigram {self.unigram_loss:.3f})"
        return (f"trained {len(self.history['loss'])} epochs of {self.steps_per_epoch} batches "
                f"({self.passes_per_epoch:.1f} passes over the training windows each) "
                f"in {minutes} min {seconds:02d} s; "
                f"best validation loss {self.best_loss:.3f} nats/token at epoch {self.best_epoch}{unigram}; "
                f"{self.stop()}")

    def warning(self) -> str | None:
        """A warning when the best validation loss is no better than the unigram baseline's, else None."""
        if self.unigram_loss is None or self.best_loss < self.unigram_loss:
            return None
        return (f"the best validation loss {self.best_loss:.3f} nats/token is no better than the unigram "
                f"baseline's {self.unigram_loss:.3f} (token frequencies alone): {ADVICE}")
