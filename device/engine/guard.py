"""The collapse guard: notices a degenerate melody and sends the box back to its primed state.

An LSTM left to itself for weeks can fall into a state it never leaves: silence, one
note hammered or held for ever, or a short figure repeated like a stuck record. The
guard watches what was played, one token per step, and says when to reset:

- only rests (nothing sounding) for ``rest_bars`` bars;
- one pitch (played again or held) for ``one_pitch_bars`` bars;
- a cycle of at most ``max_cycle_steps`` steps repeated for ``cycle_bars`` bars, while
  déjà-vu is off (with déjà-vu on, repetition is what the player asked for);
- optionally every ``reset_minutes`` minutes, whatever is playing.

Pure bookkeeping: no I/O; the loop feeds it and does the reset.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from device.core import encoding
from device.core.timegrid import DEFAULT_BAR_STEPS


@dataclass(frozen=True)
class GuardSettings:
    """When the guard resets (the [guard] section of box.toml). 0 turns a rule off."""

    rest_bars: int = 4
    one_pitch_bars: int = 4
    cycle_bars: int = 8
    max_cycle_steps: int = 8  # the longest period counted as "a few tokens" (half a 4/4 bar)
    reset_minutes: float = 0.0  # a scheduled reset every this many minutes; 0 = never


class CollapseGuard:
    """Feed ``observe()`` each played step; it returns a reason (a short phrase) when the box should reset.

    ``bar_steps``: 16th steps in a bar (16 in 4/4).
    """

    def __init__(self, settings: GuardSettings = GuardSettings(), bar_steps: int = DEFAULT_BAR_STEPS):
        self.settings = settings
        self.bar_steps = bar_steps
        longest = max(settings.rest_bars, settings.one_pitch_bars, settings.cycle_bars) * bar_steps
        self._tokens: deque[int] = deque(maxlen=max(longest, 1))
        self._sounding: int | None = None
        self._silent_steps = 0  # steps in a row with nothing sounding
        self._pitch_steps = 0  # steps in a row sounding only ``_pitch``
        self._pitch: int | None = None
        self._last_reset: float | None = None
        self.resets: dict[str, int] = {}  # reason -> how many times

    def restart(self, now: float | None = None) -> None:
        """Forget the history (after any reset); ``now`` (seconds) restarts the scheduled reset's count."""
        self._tokens.clear()
        self._sounding = self._pitch = None
        self._silent_steps = self._pitch_steps = 0
        if now is not None:
            self._last_reset = now

    def observe(self, token: int, now: float, deja_vu: float = 0.0) -> str | None:
        """Record the token played at a step (at clock time ``now``, seconds); a reason to reset, or None."""
        if self._last_reset is None:
            self._last_reset = now
        self._follow(token)
        self._tokens.append(token)
        reason = self._reason(now, deja_vu)
        if reason is not None:
            self.resets[reason] = self.resets.get(reason, 0) + 1
            self.restart(now)
        return reason

    def _follow(self, token: int) -> None:
        """Update what sounds and how long the silence or the single pitch has lasted."""
        if encoding.is_note_on(token):
            self._sounding = token
        elif token == encoding.NOTE_OFF:
            self._sounding = None
        if self._sounding is None:
            self._silent_steps += 1
            self._pitch_steps, self._pitch = 0, None
            return
        self._silent_steps = 0
        if self._sounding == self._pitch:
            self._pitch_steps += 1
        else:
            self._pitch, self._pitch_steps = self._sounding, 1

    def _reason(self, now: float, deja_vu: float) -> str | None:
        s, bar = self.settings, self.bar_steps
        if s.rest_bars and self._silent_steps >= s.rest_bars * bar:
            return f"only rests for {s.rest_bars} bars"
        if s.one_pitch_bars and self._pitch_steps >= s.one_pitch_bars * bar:
            return f"one pitch for {s.one_pitch_bars} bars"
        if s.cycle_bars and deja_vu == 0 and self._cycles(s.cycle_bars * bar, s.max_cycle_steps):
            return f"a cycle of {s.max_cycle_steps} steps or fewer for {s.cycle_bars} bars"
        if s.reset_minutes and now - self._last_reset >= s.reset_minutes * 60.0:
            return f"the scheduled reset every {s.reset_minutes:g} minutes"
        return None

    def _cycles(self, span: int, max_period: int) -> bool:
        """True if the last ``span`` tokens repeat with some period <= ``max_period`` (and hold a note-on)."""
        if len(self._tokens) < span:
            return False
        recent = list(self._tokens)[-span:]
        if not any(encoding.is_note_on(t) for t in recent):
            return False  # silence is the rest rule's business
        return any(all(recent[i] == recent[i - period] for i in range(period, span))
                   for period in range(1, max_period + 1))
