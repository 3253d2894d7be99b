"""A recording mido output port and note-checking helpers, shared by the device tests.

``RecordingOutput`` is a real ``mido.ports.BaseOutput`` (send/reset/panic/close run
mido's own checks) that keeps every message it receives. ``fail()`` makes it behave
like an unplugged rtmidi port: every send then raises ``rtmidi.SystemError`` with the
message RtMidi gives for a send to a vanished ALSA port. ``PlayerClock`` is a fake clock
that plays a player's scheduled messages into a port as time passes them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import mido
import rtmidi
from mido.ports import BaseOutput

from device.core.clock import FakeClock

ALL_NOTES_OFF = 123
ALL_SOUND_OFF = 120
UNPLUGGED_MESSAGE = "MidiOutAlsa::sendMessage: error sending MIDI message to port."
ROOT = Path(__file__).resolve().parents[1]


def shipped_model_path() -> Path:
    """The model the device tests run on: models/default.tflite (+ .json), the one the box ships with.

    MELODYBOX_TEST_MODEL=path runs the device tests against another exported model (e.g. a quantized one).
    """
    return Path(os.environ.get("MELODYBOX_TEST_MODEL", ROOT / "models" / "default.tflite"))


def copy_shipped_model(folder: Path) -> Path:
    """A copy of the shipped model and its contract in ``folder`` (as copy.tflite/.json), to break."""
    source = shipped_model_path()
    target = folder / "copy.tflite"
    shutil.copy(source, target)
    shutil.copy(source.with_suffix(".json"), target.with_suffix(".json"))
    return target


def edit_contract(model_path: Path, edit: Callable[[dict], None], refresh_file: bool = False) -> None:
    """Apply ``edit(data)`` to the model's JSON contract; optionally record the file's new size and hash."""
    from device.core.contract import sha256_of

    path = model_path.with_suffix(".json")
    data = json.loads(path.read_text())
    edit(data)
    if refresh_file:
        data["tflite"]["bytes"] = model_path.stat().st_size
        data["tflite"]["sha256"] = sha256_of(model_path)
    path.write_text(json.dumps(data))


def unplugged_error() -> rtmidi.SystemError:
    """The error python-rtmidi raises when a send goes to a port that disappeared."""
    return rtmidi.SystemError(UNPLUGGED_MESSAGE, type=rtmidi.ERRORTYPE_DRIVER_ERROR)


class RecordingOutput(BaseOutput):
    """Records sent messages in ``messages``. ``fail_after=n``: the (n+1)-th send and later ones fail.

    With a ``clock`` (anything with ``now()``), ``times`` holds the clock time of each recorded message.
    """

    def __init__(self, name: str = "recording", fail_after: int | None = None, clock=None, **kwargs):
        self.messages: list[mido.Message] = []
        self.times: list[float] = []
        self.clock = clock
        self.fail_after = fail_after
        self.failing = False
        self.failed_sends = 0
        super().__init__(name=name, **kwargs)

    def fail(self) -> None:
        """Unplug: from now on every send raises like a vanished rtmidi port."""
        self.failing = True

    def _send(self, message: mido.Message) -> None:
        if self.fail_after is not None and len(self.messages) >= self.fail_after:
            self.failing = True
        if self.failing:
            self.failed_sends += 1
            raise unplugged_error()
        self.messages.append(message.copy())
        if self.clock is not None:
            self.times.append(self.clock.now())


def note_events(messages: Iterable[mido.Message]) -> list[tuple[str, int]]:
    """("on"|"off", pitch) for note messages; ("cc", number) for control changes. Note-on velocity 0 is "off"."""
    events = []
    for message in messages:
        if message.type == "note_on" and message.velocity > 0:
            events.append(("on", message.note))
        elif message.type in ("note_on", "note_off"):
            events.append(("off", message.note))
        elif message.type == "control_change":
            events.append(("cc", message.control))
    return events


def _apply(sounding: set[tuple[int, int]], message: mido.Message) -> set[tuple[int, int]]:
    """The (channel, pitch) set sounding after ``message``."""
    if message.type == "note_on" and message.velocity > 0:
        return sounding | {(message.channel, message.note)}
    if message.type in ("note_on", "note_off"):
        return sounding - {(message.channel, message.note)}
    if message.type == "control_change" and message.control in (ALL_NOTES_OFF, ALL_SOUND_OFF):
        return {(c, n) for c, n in sounding if c != message.channel}
    return sounding


def sounding_notes(messages: Iterable[mido.Message]) -> set[tuple[int, int]]:
    """(channel, pitch) still sounding after ``messages``; All Notes Off/All Sound Off end a channel's notes."""
    sounding: set[tuple[int, int]] = set()
    for message in messages:
        sounding = _apply(sounding, message)
    return sounding


def max_polyphony(messages: Iterable[mido.Message]) -> int:
    """The largest number of notes sounding at once while ``messages`` are played."""
    sounding: set[tuple[int, int]] = set()
    most = 0
    for message in messages:
        sounding = _apply(sounding, message)
        most = max(most, len(sounding))
    return most


def assert_no_stuck_notes(messages: Iterable[mido.Message]) -> None:
    """Fail if any note is still sounding at the end of ``messages``."""
    stuck = sounding_notes(list(messages))
    assert not stuck, f"stuck notes (channel, pitch): {sorted(stuck)}"


class PlayerClock(FakeClock):
    """A fake clock that delivers the player's scheduled (time, message) to ``port`` (set by the test, a port with
    a ``callback``) as time passes them."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = sorted(schedule, key=lambda item: item[0])
        self.port = None

    def sleep_until(self, deadline):
        while self.schedule and self.schedule[0][0] <= deadline:
            time, message = self.schedule.pop(0)
            self._now = max(self._now, time)
            if self.port.callback is not None:  # None once the box has closed its input
                self.port.callback(message)
        super().sleep_until(deadline)
