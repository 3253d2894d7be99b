"""Follow: a transport that steps on MIDI clock arriving at the box's input.

Step 0 is the first clock pulse after Start, then one 16th step every 6 pulses.
Continue resumes from the position held; Song Position Pointer (counted in 16ths) sets it;
Stop holds it and stops (the loop silences the synth); Start while running restarts at 0.
While stopped, ``next_tick`` still returns a non-running tick about once a step, so the
loop reads its controls and can quit.

Timing: a pulse is delivered when it has arrived AND its dejittered time has come. The
dejittered time is where the last bar of arrivals (a least-squares line) puts this pulse,
plus half the largest distance of an arrival from that line (MARGIN_SHARE): early pulses
wait for that time, so they leave together, and late ones leave at once on arrival (never
before they arrived, so a Stop can never race a note). This trades a small steady delay for
much less jitter, which a listener forgives far more readily, and its 99th percentile stays that
of playing each pulse on arrival (measured by device/bench/clock.py: BENCHMARKS.md).
``dejitter=False`` delivers each pulse the moment it arrives.

Bad input never crashes and never bursts notes: a step pulse within MIN_STEP_SECONDS of
the previous step (a USB hiccup flushing pulses) is counted but not played; the tempo
estimate is clamped to 20..400 bpm. Each problem gets one line through ``say``.

No note after a Stop: a Stop that has arrived by the time a pulse would be delivered (while the
pulse waited for its dejittered time, or while the loop was busy) stops the transport first, and
that pulse counts for the song position without being played.

Clock lost (no pulse for LOSS_SECONDS while running): ``on_clock_loss="stop"`` stops and
waits for Start or Continue (pulses that come back before then are not followed, and that is
said once, with what to press); ``"continue"`` free-runs at the last tempo from where the
pulses would be by now, and re-locks when they return: a returning pulse takes the number
the free-run gives its arrival time, pulses already played are not played again, and at
most one step is played per pulse (no burst).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable
from typing import Protocol

from device.core.clock import Clock
from device.core.timegrid import PULSES_PER_QUARTER, PULSES_PER_STEP, step_seconds
from device.midi.midi_in import InputEvent
from device.transport.base import Tick

LOSS_SECONDS = 0.5  # no pulse for this long while running: the clock is lost
MIN_BPM, MAX_BPM = 20.0, 400.0  # the tempo range the box plays at
MIN_STEP_SECONDS = step_seconds(MAX_BPM) / 2  # two step pulses closer than this are a burst
BURST_SECONDS = 60.0 / (2 * MAX_BPM) / PULSES_PER_QUARTER  # pulse intervals under this (3.1 ms) are a burst
MAX_MARGIN_SECONDS = 0.005  # the dejitter delay never exceeds this
MARGIN_SHARE = 0.5  # of the largest residual: the whole of it spread no less and delayed more (BENCHMARKS.md)
DEJITTER_WINDOW = 4 * PULSES_PER_QUARTER  # pulses in the dejitter line: the longer, the steadier


class ClockSource(Protocol):
    def wait_clock(self, deadline: float) -> InputEvent | None:
        """The next clock/transport message, or None once the clock passes ``deadline`` (seconds)."""
        ...


class TempoEstimate:
    """Tempo from the last ``window`` pulse arrivals (default one beat): a least-squares line through them.

    Not fooled by jitter (the line averages it), follows a tempo change within one beat
    (the window is replaced by then). ``add`` with a gap (``restart``) starts a new line.
    """

    def __init__(self, window: int = PULSES_PER_QUARTER):
        self.times: collections.deque[float] = collections.deque(maxlen=window)
        self._fit: tuple[float, float, float] | None = None  # (intercept, slope, largest residual)

    def restart(self) -> None:
        self.times.clear()
        self._fit = None

    def add(self, time: float) -> None:
        """A pulse arrived at ``time`` (seconds), one pulse after the previous one added."""
        self.times.append(time)
        self._fit = self._line() if len(self.times) >= PULSES_PER_STEP else None

    @property
    def pulse_seconds(self) -> float | None:
        """Seconds per pulse, or None until a step's worth of pulses has arrived."""
        return None if self._fit is None else self._fit[1]

    @property
    def bpm(self) -> float | None:
        seconds = self.pulse_seconds
        return None if seconds is None or seconds <= 0 else 60.0 / (seconds * PULSES_PER_QUARTER)

    def expected(self) -> float | None:
        """When the next pulse is due on the line, plus MARGIN_SHARE of the largest residual (capped): its
        dejittered time."""
        if self._fit is None:
            return None
        intercept, slope, residual = self._fit
        return intercept + slope * len(self.times) + min(MARGIN_SHARE * residual, MAX_MARGIN_SECONDS)

    def _line(self) -> tuple[float, float, float]:
        n = len(self.times)
        origin = self.times[0]
        ys = [t - origin for t in self.times]
        x_mean, y_mean = (n - 1) / 2, sum(ys) / n
        sxx = sum((x - x_mean) ** 2 for x in range(n))
        slope = sum((x - x_mean) * (y - y_mean) for x, y in enumerate(ys)) / sxx
        intercept = y_mean - slope * x_mean
        residual = max(abs(y - intercept - slope * x) for x, y in enumerate(ys))
        return origin + intercept, slope, residual


class FollowTransport:
    """Ticks from MIDI clock on ``source`` (a MidiIn). ``bpm``: the estimate, clamped to 20..400
    (``fallback_bpm`` until pulses arrive: idle ticks and a free-run without a tempo use it).

    ``on_clock_loss``: "stop" or "continue". ``dejitter``: see the module docstring.
    Counters: ``burst_pulses`` (step pulses not played: too close), ``losses``, ``relocks``.
    """

    def __init__(self, source: ClockSource, clock: Clock, fallback_bpm: float = 120.0, on_clock_loss: str = "stop",
                 dejitter: bool = True, say: Callable[[str], None] | None = None):
        if on_clock_loss not in ("stop", "continue"):
            raise ValueError(f"on_clock_loss must be 'stop' or 'continue', got {on_clock_loss!r}")
        self.source, self.clock = source, clock
        self.fallback_bpm = float(fallback_bpm)
        self.on_clock_loss, self.dejitter = on_clock_loss, dejitter
        self._say = say or (lambda message: None)
        self.tempo = TempoEstimate()  # one beat: the tempo shown and used
        self.grid = TempoEstimate(DEJITTER_WINDOW)  # a bar: the line pulses are dejittered against
        self.running = False
        self.position = 0  # the next pulse to deliver (the song position, in pulses)
        self.free_running = False
        self.burst_pulses = self.losses = self.relocks = 0
        self._count: int | None = None  # the number of the last pulse that arrived (None: none since Start)
        self._last_arrival: float | None = None
        self._last_step: float | None = None  # when the last step pulse was delivered
        self._idle_at: float | None = None
        self._anchor = (0, 0.0)  # free-run: (pulse, time) of the last pulse that arrived
        self._free_pulse_seconds = self.pulse_seconds
        self._said: set[str] = set()
        self._pending_fit: float | None = None  # a pulse's arrival not yet fed to the lines (seconds)
        self._held: InputEvent | None = None  # a message read ahead for a Stop, handled at the next tick
        self._stopped_by_loss = False  # the clock was lost and the transport stopped: waiting for Continue

    @property
    def bpm(self) -> float:
        estimate = self.tempo.bpm
        return self.fallback_bpm if estimate is None else min(MAX_BPM, max(MIN_BPM, estimate))

    @property
    def pulse_seconds(self) -> float:
        return step_seconds(self.bpm) / PULSES_PER_STEP

    def next_tick(self) -> Tick:
        """Wait for the next pulse (or, while stopped, about one step) and return its tick."""
        self._fit_pending()  # the last pulse's note is out by now: fitting it costs no note any time
        while True:
            deadline = self._deadline()
            event, self._held = self._held or self.source.wait_clock(deadline), None
            tick = self._on_timeout() if event is None else self._on_event(event)
            if tick is None and event is not None and self.clock.now() >= self._deadline():
                tick = self._on_timeout()  # events keep coming (clock while stopped): the deadline still counts
            if tick is not None:
                return tick

    def _deadline(self) -> float:
        if not self.running:
            if self._idle_at is None:
                self._idle_at = self.clock.now()
            return self._idle_at + step_seconds(self.bpm)
        if self.free_running:
            pulse, time = self._anchor
            return time + (self.position - pulse) * self._free_pulse_seconds
        return self._last_arrival + LOSS_SECONDS

    def _on_timeout(self) -> Tick | None:
        now = self.clock.now()
        if not self.running:
            due = self._idle_at + step_seconds(self.bpm)
            self._idle_at = due if now - due < step_seconds(self.bpm) else now  # about once a step, on a grid
            return Tick(self.position, False, due, max(0.0, now - due))
        if self.free_running:
            due = self._deadline()
            if now - due > step_seconds(self.bpm):  # a stall: start the grid again here, never catch up
                self._anchor, due = (self.position, now), now
            return self._deliver(self.position, due, now)
        self.losses += 1
        bpm = self.bpm
        self.tempo.restart()
        self.grid.restart()
        what = "no MIDI clock since Start" if self._count is None else "MIDI clock lost"
        if self.on_clock_loss == "stop":
            self._say(f"{what} (nothing for {LOSS_SECONDS:g} s): stopped; waiting for Start or Continue")
            self._stopped_by_loss = True
            return self._stop(now)
        self._say(f"{what} (nothing for {LOSS_SECONDS:g} s): playing on at {bpm:.0f} bpm")
        self._free_run_from(now, step_seconds(bpm) / PULSES_PER_STEP)
        return None

    def _on_event(self, event: InputEvent) -> Tick | None:
        message, time = event.message, event.time
        if message.type == "clock":
            return self._on_pulse(time)
        if message.type == "start":
            self._start(0, time)
        elif message.type == "continue" and not self.running:
            self._start(self.position, time)
        elif message.type == "stop" and self.running:
            return self._stop(time)
        elif message.type == "songpos":
            position = message.pos * PULSES_PER_STEP
            if self.free_running:  # the free-run grid moves with the position: no catching up
                pulse, anchor_time = self._anchor
                self._anchor = (pulse + position - self.position, anchor_time)
            self.position = position
            if self.running:
                self._count = self.position - 1
        return None

    def _start(self, position: int, time: float) -> None:
        self.running, self.free_running = True, False
        self.position, self._count = position, None
        self._last_arrival = time  # _last_step stays: a restart right after a step must not burst
        self._said.discard("burst")
        self._said.discard("back")
        self._stopped_by_loss = False

    def _stop(self, time: float) -> Tick:
        self.running, self.free_running = False, False
        self._idle_at = self.clock.now()
        return Tick(self.position, False, time)

    def _on_pulse(self, time: float) -> Tick | None:
        self._fit_pending()
        expected = self.grid.expected()
        if expected is not None and abs(time - expected) > MAX_MARGIN_SECONDS:
            self.grid.restart()  # a tempo change or a glitch: the old line no longer holds
        self._pending_fit = time  # fitted at the next next_tick or pulse, after this pulse's note
        if not self.running:
            if self._stopped_by_loss:
                self._warn("MIDI clock is back, but the box stopped when it was lost: press Continue (or Start) on "
                           "the drum machine or DAW to play on", key="back")
            elif self._count is None and "waiting" not in self._said:
                self._warn("MIDI clock is arriving: waiting for Start or Continue", key="waiting")
            return None
        self._last_arrival = time
        if self.free_running:
            self._relock(time)
            expected = None
        self._count = self.position if self._count is None else self._count + 1
        if self._count < self.position:  # after a re-lock: this pulse was already played by the free-run
            return None
        if self._count % PULSES_PER_STEP == 0 and self._last_step is not None \
                and time - self._last_step < MIN_STEP_SECONDS:
            self.burst_pulses += 1
            self._warn("MIDI clock burst (pulses arriving all at once): a step was not played", key="burst")
            self.position = self._count + 1
            return None
        release = time if not self.dejitter or expected is None else max(time, min(expected, time + MAX_MARGIN_SECONDS))
        if release > self.clock.now():
            self.clock.sleep_until(release)
        stop = self._stop_arrived()
        if stop is not None:
            self.position = self._count + 1  # the pulse was the drum machine's; its note would come after the Stop
            return self._stop(stop.time)
        return self._deliver(self._count, release, self.clock.now())

    def _stop_arrived(self) -> InputEvent | None:
        """The Stop that has already arrived behind the pulse being delivered, if that is the next message (read
        without waiting); any other message is held for the next tick."""
        event = self.source.wait_clock(self.clock.now())
        if event is not None and event.message.type == "stop":
            return event
        self._held = event
        return None

    def _deliver(self, pulse: int, due: float, now: float) -> Tick:
        self.position = pulse + 1
        if pulse % PULSES_PER_STEP == 0:
            self._last_step = now
        return Tick(pulse, True, due, max(0.0, now - due))

    def _fit_pending(self) -> None:
        if self._pending_fit is not None:
            time, self._pending_fit = self._pending_fit, None
            self._track_tempo(time)

    def _track_tempo(self, time: float) -> None:
        """Feed the tempo line; a gap or a burst starts a new one. Warns once when the tempo leaves 20..400."""
        for line in (self.tempo, self.grid):
            if line.times and not BURST_SECONDS <= time - line.times[-1] <= LOSS_SECONDS:
                line.restart()
            line.add(time)
        estimate = self.tempo.bpm
        if estimate is not None and not MIN_BPM <= estimate <= MAX_BPM:
            self._warn(f"MIDI clock at {estimate:.0f} bpm is outside {MIN_BPM:.0f}..{MAX_BPM:.0f}: "
                       f"tempo shown as {self.bpm:.0f}", key="range")
        elif estimate is not None:
            self._said.discard("range")

    def _free_run_from(self, now: float, pulse_seconds: float) -> None:
        """Free-run on the last pulse's grid at ``pulse_seconds``: the next pulse is the first due after ``now``."""
        self.free_running = True
        self._free_pulse_seconds = pulse_seconds
        last = self.position - 1
        self._anchor = (last, self._last_arrival)
        self.position = last + math.ceil((now - self._last_arrival) / pulse_seconds - 1e-9)

    def _relock(self, time: float) -> None:
        """A pulse returned while free-running: it takes the number the free-run grid gives its arrival."""
        pulse, anchor_time = self._anchor
        self._count = pulse + max(1, round((time - anchor_time) / self._free_pulse_seconds)) - 1
        self.free_running = False
        self.relocks += 1
        self._say("MIDI clock is back: following it again")

    def _warn(self, message: str, key: str | None = None) -> None:
        """Say ``message`` once per ``key`` (default: the message itself) until the condition clears."""
        key = key or message
        if key not in self._said:
            self._said.add(key)
            self._say(message)
