"""Call and response (``play.mode = "answer"``): the box listens to a player's call, then answers it.

Steps are the transport's 16th steps; a bar has ``bar_steps`` of them and bar lines are its multiples
(in follow mode step 0 is the drum machine's or DAW's first step after Start, so the bars are theirs).

- **Listening.** On every tick the box takes what arrived at its MIDI input. A note's place on the grid is
  where it arrived between the transport's pulses, in steps (12.4 = 40 % into step 12), read into one line
  by the shared reader (device/core/midireader.py: the nearest step, the top note). The box plays nothing;
  ``thru`` echoes the player's notes on the box's channel at the tick they are taken (within one pulse,
  21 ms at 120 bpm; within a step while a followed clock is stopped: the follower ticks once a step then).
- **The call** starts at its first note-on, step F. It ends at step e: ``call_end_bars`` bars of silence
  after the end E of its last note (e = E + those bars), or when it has lasted ``max_call_bars`` bars
  (e = F + max bars; a key still held is cut there), whichever comes first.
- **The answer** starts on the first bar line at or after e, step A, and lasts as many bars as the call
  (E - F, the last note cut at e) rounded up, 1..``max_call_bars``. At A + that many bars the box ends its
  note and listens again. Its first token is computed one step ahead like every other (at A - 1, as soon as
  the call has ended if nothing more comes), so the first note is on the bar line, never late.
- **Priming: from the reset state.** Before answering, the generator goes back to its reset state (the
  model after START and the configured primer) and hears the call's bars, from the bar line at or before F
  to the bar line at or after E, with the bar position given: like a training melody that starts on a bar
  line, followed by the answer as the tune's next bar. Not from the current state: that state is the
  box's previous answer followed by whatever it heard since, a context of unbounded length the model was
  never trained on (it learned from windows that begin on a bar line), and an answer that is cancelled
  after priming (the player went on) would have spoilt it; from the reset state the answer depends on
  the call alone (and the sampler's draws), and priming again is always possible. The waiting bars of
  silence are not heard: the model would take them as a rest in the tune and answer late. The model hears
  the call as it is played, each step once it can no longer change (its last note has ended), so the step
  before the answer only samples its first token. Priming a long call at once would take most of a step
  at 400 bpm, more on a Pi, and lead-mode pulses would wait for it (BENCHMARKS.md, "Priming the model").
- Why the reset state, measured: tests/bench/bench_answer_priming.py (docs/playing-with-others.md).
- **A new call** (a note-on on step e or later) cancels an answer that has not started and cuts one that
  has at the next step: the box's note ends there and nothing more of it is played. A note-on before e
  (possible only while the last step before A is still open) continues the call instead.
- The transport stopping or jumping back (Start, Song Position) forgets the call and the answer; so does
  the reset button.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from device.core import encoding
from device.core.midireader import LiveReader, snap
from device.core.timegrid import PULSES_PER_STEP, step_seconds
from device.engine.generator import Generator, sounding_after
from device.midi.midi_out import MidiOut
from device.transport.base import Tick, Transport

NOTE_TYPES = ("note_on", "note_off")


@dataclass(frozen=True)
class Plan:
    """A call that has ended and its answer. Steps on the transport's grid.

    ``events``: the call's (position in steps, message), kept in case it goes on; ``end``: e, the step
    the call ended (note-ons from here on are a new call); ``start``: A, the answer's first step;
    ``stop``: the step after its last; ``tokens``: the call's bars as the model hears them, from the bar
    line ``bar``.
    """

    events: tuple[tuple[float, object], ...]
    end: int
    start: int
    stop: int
    bar: int
    tokens: tuple[int, ...]


def is_note_on(message) -> bool:
    return message.type == "note_on" and message.velocity > 0


def ceil_to(step: int, bar_steps: int) -> int:
    """The first bar line at or after ``step``."""
    return -(-step // bar_steps) * bar_steps


class Answer:
    """The call-and-response mode. The loop calls ``hear`` on every tick, ``plays`` before a step's token
    and ``ready`` after reading the controls (see device/play/loop.py); ``forget`` on reset.

    ``midi_in``: anything with ``drain() -> list[InputEvent]`` (device.midi.midi_in.MidiIn);
    ``transport``: its ``bpm`` places messages between ticks. Counters: ``answers`` (started), ``cuts``.
    """

    def __init__(self, midi_in, midi_out: MidiOut, transport: Transport, bar_steps: int, call_end_bars: int,
                 max_call_bars: int, thru: bool):
        self.midi_in, self.midi_out, self.transport = midi_in, midi_out, transport
        self.bar_steps, self.thru = bar_steps, thru
        self.gap_steps = call_end_bars * bar_steps  # silence that ends a call
        self.max_steps = max_call_bars * bar_steps  # the longest call, and answer
        self.answers = self.cuts = 0
        self._events: list[tuple[float, object]] = []  # the call being heard: (position in steps, message)
        self._plan: Plan | None = None
        self._primed = False  # the generator has heard the plan's call and computed the answer's first token
        self._fed: tuple[int, list[int]] | None = None  # (first step, tokens) the generator heard since its reset
        self._started = False  # the plan's answer has played its first step
        self._last: Tick | None = None

    def hear(self, tick: Tick) -> None:
        """Every tick: take the input; echo notes (thru); add notes to the call (only while running)."""
        last, self._last = self._last, tick
        jumped = last is not None and tick.pulse < last.pulse
        if not tick.running or jumped:
            self.forget()
        fresh = last is None or not last.running or jumped  # what came before this tick came before the start
        pulse_seconds = step_seconds(self.transport.bpm) / PULSES_PER_STEP
        for event in self.midi_in.drain():
            message = event.message
            if message.type not in NOTE_TYPES:
                continue
            if self.thru:
                self._echo(message)
            position = (tick.pulse + (event.time - tick.due) / pulse_seconds) / PULSES_PER_STEP
            if tick.running and not (fresh and snap(position) < tick.step):
                self._add(position, message)

    def plays(self, step: int) -> bool:
        """Before step ``step``'s token: whether it is an answer step. False ends an answer that is over."""
        plan = self._plan
        if plan is not None and step >= plan.stop:
            self._plan, self._started = None, False
            return False
        playing = plan is not None and self._primed and step >= plan.start
        if playing and not self._started:
            self._started = True
            self.answers += 1
        return playing

    def ready(self, step: int, generator: Generator) -> bool:
        """After step ``step``: whether step + 1 plays an answer token (the loop computes it next).

        Ends the call when it has ended (or will by step + 1, unless more comes), and primes ``generator``
        for the answer's first step.
        """
        if self._plan is None:
            self._plan = self._end_of_call(step)
            self._primed = False
        plan = self._plan
        if plan is None:
            heard = self._heard_so_far(step)
            if heard is not None:
                self._feed(*heard, generator)
            return False
        if not self._primed:
            self._feed(plan.bar, plan.tokens, generator)
        if not plan.start <= step + 1 < plan.stop:
            return False
        self._primed, self._fed = True, None  # the answer is sampled from here: no longer a call heard
        return True

    def forget(self) -> None:
        """Drop the call and the answer (the loop ends the box's note at its next step)."""
        self._events, self._plan, self._primed, self._started, self._fed = [], None, False, False, None

    def _heard_so_far(self, step: int) -> tuple[int, list[int]] | None:
        """The call's tokens that can no longer change at step ``step`` (its last note has ended: every
        step before ``step`` is final), up to the bar line after that note; None while a key is held."""
        if not self._events:
            return None
        reader = read(self._events)
        line = reader.notes()
        if not line or reader.sounding or line[-1].end > step:
            return None
        start = line[0].start - line[0].start % self.bar_steps
        return start, reader.tokens(start, min(step, ceil_to(line[-1].end, self.bar_steps)))

    def _feed(self, start: int, tokens: Sequence[int], generator: Generator) -> None:
        """Make ``generator`` have heard exactly ``tokens`` (from bar line ``start``) since its reset: the
        tokens not heard yet when those heard are their beginning, else all of them after a reset. So the
        priming is spread over the call, about one token a step, not done all at once before the answer."""
        tokens = list(tokens)
        fed = self._fed
        if fed is None or fed[0] != start or tokens[:len(fed[1])] != fed[1]:
            generator.reset()
            fed = (start, [])
        new = tokens[len(fed[1]):]
        if new:
            generator.prime(new, bar_step=len(fed[1]) % self.bar_steps)
        self._fed = (start, tokens)

    def _echo(self, message) -> None:
        if is_note_on(message) and message.note == self.midi_out.sounding:
            self.midi_out.play(encoding.NOTE_OFF)  # one channel: the player's key must not be ended by the box
        self.midi_out.echo(message)

    def _add(self, position: float, message) -> None:
        """A note message at ``position`` (steps) joins the call, or starts a new one."""
        plan = self._plan
        if plan is not None:
            if not is_note_on(message):
                return  # a key held over the end of an ended call: nothing to hear
            if snap(position) < plan.end:
                self._events = list(plan.events)  # the call goes on after all
            elif self._started:
                self.cuts += 1
            self._plan, self._primed, self._started = None, False, False
        self._events.append((position, message))

    def _end_of_call(self, step: int) -> Plan | None:
        """The plan for the call heard so far if it ends by step + 1 (unless more comes), else None."""
        if not self._events:
            return None
        reader = read(self._events)
        line = reader.notes(step + 1)
        if not line:
            return None
        first = line[0].start
        limit = first + self.max_steps
        end = limit if reader.sounding else min(limit, line[-1].end + self.gap_steps)
        if end > step + 1:
            return None
        later = [i for i, (position, message) in enumerate(self._events) if snap(position) >= end
                 and is_note_on(message)]
        if later:  # notes past the end of the call (it ended while the loop was away): they start the next one
            self._events = self._events[later[0]:]
            return None
        last_end = min(line[-1].end, end)
        bars = min(self.max_steps // self.bar_steps, max(1, math.ceil((last_end - first) / self.bar_steps)))
        start = ceil_to(max(end, step + 1), self.bar_steps)  # a bar line passed while the call went on: the next
        bar = first - first % self.bar_steps
        tokens = call_tokens(reader, bar, end, ceil_to(max(last_end, first + 1), self.bar_steps))
        plan = Plan(tuple(self._events), end, start, start + bars * self.bar_steps, bar, tuple(tokens))
        self._events = []
        return plan


def read(events: Sequence[tuple[float, object]]) -> LiveReader:
    """A LiveReader fed ``events`` (position in steps, message), in order."""
    reader = LiveReader()
    for position, message in events:
        reader.feed(position, message)
    return reader


def call_tokens(reader: LiveReader, start: int, cut: int, end: int) -> list[int]:
    """Tokens for steps ``start`` .. ``end`` - 1 of the call in ``reader``; a note still sounding at ``cut``
    ends there (a NOTE_OFF if the cut falls inside)."""
    if end <= cut:
        return reader.tokens(start, end)
    tokens = reader.tokens(start, cut)
    tail = [encoding.NOTE_OFF if sounding_after(tokens, False) else encoding.NO_EVENT]
    return tokens + (tail + [encoding.NO_EVENT] * (end - cut))[: end - cut]
