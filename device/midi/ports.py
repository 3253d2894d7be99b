"""Opening MIDI ports: outputs and inputs by name fragment, virtual ones, or a MIDI file that records.

Real ports go through mido's current backend (python-rtmidi: ALSA on a Pi; JACK
with ``MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK``).
"""

from __future__ import annotations

import atexit
import io
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mido
from mido.ports import BaseInput, BaseOutput

from device.core import timegrid
from device.core.clock import Clock
from device.core.files import write_new
from device.core.stderr import c_stderr_hidden
from device.core.timegrid import DEFAULT_BAR_STEPS, step_seconds, time_signature
from device.midi.polled_input import open_polled_input

try:  # rtmidi's errors: SystemError/NoDevicesError are OSErrors, InvalidPortError is a ValueError
    from rtmidi import RtMidiError
except ImportError:  # another mido backend; its port errors are OSErrors
    RtMidiError = OSError

# What a send/open/close on a real port raises when the device or MIDI system is gone.
PORT_ERRORS: tuple[type[BaseException], ...] = (OSError, RtMidiError)


class PortError(OSError):
    """A port cannot be found or opened; the message lists what is available."""


def list_names(kind: str) -> list[str]:
    """Names of the MIDI ``kind`` ("output" or "input") ports the current mido backend sees.

    Raises PortError if there is no MIDI system.
    """
    try:
        with c_stderr_hidden():  # ALSA prints "cannot open /dev/snd/seq" from C where there is none
            names = rtmidi_port_names(kind)
            return list(getattr(mido, f"get_{kind}_names")()) if names is None else names
    except PORT_ERRORS as error:
        raise PortError(f"no MIDI system available ({error})") from None


def rtmidi_api() -> int | None:
    """The python-rtmidi API number of mido's current backend, or None if that backend is not rtmidi."""
    backend = mido.backend
    if backend.name != "mido.backends.rtmidi":
        return None
    import rtmidi  # lazy: loaded only where a port opens (generate and the trainer need no MIDI system)

    return getattr(rtmidi, f"API_{backend.api}") if backend.api else rtmidi.API_UNSPECIFIED


_listers: dict[tuple, object] = {}  # (kind, rtmidi API, JACK server) -> an rtmidi client kept open for listing
_listers_lock = threading.Lock()


def rtmidi_port_names(kind: str) -> list[str] | None:
    """The ``kind`` port names from one rtmidi client kept open, or None if mido's backend is not rtmidi.

    The box checks every second that its ports are still listed. mido lists by opening and closing a
    new MIDI client each time; on JACK that stalled the server's MIDI, and a box following a drum
    machine's clock lost most of the pulses of those moments (measured: docs/playing-with-others.md,
    "Under the hood"). Listing through one client kept open loses none. A client that lists nothing is
    dropped, so a restarted MIDI system is seen by a new one.
    """
    api = rtmidi_api()
    if api is None:
        return None
    import rtmidi  # lazy: loaded only where a port opens (generate and the trainer need no MIDI system)

    key = (kind, api, os.environ.get("JACK_DEFAULT_SERVER"))
    with _listers_lock:
        lister = _listers.get(key)
        if lister is None:
            lister = _listers[key] = (rtmidi.MidiIn if kind == "input" else rtmidi.MidiOut)(api, "melodybox-ports")
        try:
            names = list(lister.get_ports())
        except PORT_ERRORS:
            _listers.pop(key).delete()
            raise
        if not names:
            _listers.pop(key).delete()  # closed now: one dropped unclosed holds JACK at exit (close_listers)
        return names


@atexit.register
def close_listers() -> None:
    """Close the listing clients at exit (a JACK server holds its other clients 5 s after one vanishes open)."""
    with _listers_lock:
        while _listers:
            _listers.popitem()[1].delete()


def find_name(name_fragment: str, names: list[str], kind: str) -> str:
    """The one name in ``names`` containing ``name_fragment``; ``kind`` ("output"/"input") names it in errors."""
    wanted = name_fragment.lower()
    exact = [n for n in names if n.lower() == wanted]
    matches = exact or [n for n in names if wanted in n.lower()]
    if len(matches) == 1:
        return matches[0]
    available = ", ".join(repr(n) for n in names) or "none"
    if not matches:
        raise PortError(f"no MIDI {kind} matches {name_fragment!r}; available: {available}")
    raise PortError(f"MIDI {kind} {name_fragment!r} is ambiguous: {', '.join(repr(n) for n in matches)}")


def open_named(kind: str, name_fragment: str, own: tuple[str, ...] = ()):
    """Open the ``kind`` port whose name contains ``name_fragment``. Raises PortError listing the ports.
    ``own``: the names of the box's own virtual ports, never opened nor listed (the box would hear itself).

    With rtmidi, an input is a device.midi.polled_input.PolledInput (read by polling, never by rtmidi's callback)."""
    name = find_name(name_fragment, [n for n in list_names(kind) if port_name(n) not in own], kind)
    api = rtmidi_api() if kind == "input" else None
    try:
        with c_stderr_hidden():
            if api is not None:
                return open_polled_input(api, name)
            return getattr(mido, f"open_{kind}")(name)
    except (*PORT_ERRORS, ValueError) as error:  # ValueError: the port went between listing and opening
        raise PortError(f"cannot open MIDI {kind} {name!r} ({error})") from None


def present(kind: str, name: str) -> bool:
    """True if a ``kind`` port called exactly ``name`` is listed now (False if there is no MIDI system)."""
    try:
        return name in list_names(kind)
    except PortError:
        return False


def port_name(listed: str) -> str:
    """The port's own name in a listed one: ``RtMidiOut Client:Melody Box 128:0`` (ALSA) or ``RtMidiOut
    Client:Melody Box`` (JACK) -> ``Melody Box``; a name without a client is itself."""
    _, colon, port = listed.partition(":")
    return re.sub(r" \d+:\d+$", "", port if colon else listed)


def virtual_taken(kind: str, name: str) -> bool:
    """True if a virtual ``kind`` port called ``name`` is open already (another box's): other programs list a
    virtual output among their inputs, and a virtual input among their outputs. False without a MIDI system."""
    try:
        return any(port_name(listed) == name for listed in list_names("input" if kind == "output" else "output"))
    except PortError:
        return False


def free_virtual_name(kind: str, name: str) -> str:
    """``name``, or ``name 2``, ``name 3``... : the first that no open virtual ``kind`` port has."""
    free, number = name, 1
    while virtual_taken(kind, free):
        number += 1
        free = f"{name} {number}"
    return free


def virtual_name(kind: str, asked: str, default: str, say: Callable[[str], None]) -> str:
    """The name of a new virtual ``kind`` port: ``asked`` (the config's, or ""), else ``default``. Two ports of one
    name (two boxes) cannot be told apart in a synth's or DAW's list: a name asked for and taken is refused
    (PortError: the musician connects to it by that name), and a taken default becomes ``Melody Box 2``, ... (said)."""
    if asked:
        if virtual_taken(kind, asked):
            raise PortError(f"a virtual MIDI {kind} called {asked!r} is open already (another Melody Box?): "
                            f"give this one another name, e.g. --virtual{'-input' * (kind == 'input')} "
                            f"{free_virtual_name(kind, asked)!r}")
        return asked
    name = free_virtual_name(kind, default)
    if name != default:
        say(f"a virtual MIDI {kind} called {default!r} is open already (another Melody Box?): this one is {name!r}")
    return name


def open_virtual_port(kind: str, name: str):
    """Open a virtual ``kind`` port called ``name`` that other programs can connect to (its ``virtual_name`` is
    ``name``). Raises PortError."""
    api = rtmidi_api() if kind == "input" else None
    try:
        with c_stderr_hidden():
            if api is not None:
                port = open_polled_input(api, name, virtual=True)
            else:
                port = getattr(mido, f"open_{kind}")(name, virtual=True)
        port.virtual_name = name  # the box leaves its own virtual ports out of what it lists and opens
        return port
    except PORT_ERRORS as error:
        raise PortError(
            f"cannot open virtual MIDI {kind} {name!r} ({error}); virtual ports need ALSA, "
            "or a JACK server and MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK"
        ) from None


def list_output_names() -> list[str]:
    return list_names("output")


def find_output_name(name_fragment: str, names: list[str]) -> str:
    return find_name(name_fragment, names, "output")


def open_output(name_fragment: str) -> BaseOutput:
    return open_named("output", name_fragment)


def output_present(name: str) -> bool:
    return present("output", name)


def open_virtual(name: str) -> BaseOutput:
    return open_virtual_port("output", name)


def list_input_names() -> list[str]:
    return list_names("input")


def open_input(name_fragment: str, own: tuple[str, ...] = ()) -> BaseInput:
    return open_named("input", name_fragment, own)


def input_present(name: str) -> bool:
    return present("input", name)


def open_virtual_input(name: str) -> BaseInput:
    """A virtual input that other programs (a drum machine, a DAW) can play into."""
    return open_virtual_port("input", name)


def virtual_ports_supported() -> bool:
    """True if the current mido backend can open a virtual output (tries one and closes it)."""
    try:
        open_virtual("melodybox-probe").close()
    except PortError:
        return False
    return True


class MidiFileOutput(BaseOutput):
    """An output port that records what it receives into a type-0 MIDI file, saved on close.

    Message times come from ``clock`` (seconds, e.g. the loop's clock). With
    ``quantize=True`` (for a loop playing at ``bpm``) each message lands a whole number
    of 16th steps after the previous one: the time since the previous message is
    rounded to steps, and the first message is placed from ``start`` (default:
    ``clock.now()`` when the port opens). Rounding between neighbours, not against a
    fixed origin, keeps notes on their steps whatever the loop's phase, its jitter
    (< 1/2 step) or a re-anchoring after a stall. ``quantize=False`` keeps every time
    to the nearest tick from ``start``. ``ticks_per_beat`` must be a multiple of 4. The file has the tempo
    and the time signature of a bar of ``bar_steps`` 16ths. ``new`` records under a name no file has.
    """

    def __init__(
        self,
        path: str | Path,
        bpm: float,
        clock: Clock,
        start: float | None = None,
        ticks_per_beat: int = 480,
        quantize: bool = True,
        bar_steps: int = DEFAULT_BAR_STEPS,
    ):
        # Set up in _open: if it raises, mido's __del__ finds a closed port and writes nothing.
        super().__init__(
            name=f"file:{path}",
            path=path,
            bpm=bpm,
            clock=clock,
            start=start,
            ticks_per_beat=ticks_per_beat,
            quantize=quantize,
            bar_steps=bar_steps,
        )

    @classmethod
    def new(cls, folder: str | Path, stem: str, bpm: float, clock: Clock, bar_steps: int = DEFAULT_BAR_STEPS,
            wall_time: float | None = None) -> MidiFileOutput:
        """A recording under a new name in ``folder``, ``STEM-YYYYmmdd-HHMMSS.mid`` (``-2``, ``-3``... within one
        second, device.core.files): the name is taken at once, atomically, by an empty MIDI file of this tempo
        and metre, so another box started in the same second takes another; the notes replace it on close."""
        empty = io.BytesIO()
        midi_file = mido.MidiFile(type=0)
        midi_file.tracks.append(mido.MidiTrack(heading(bpm, bar_steps) + [mido.MetaMessage("end_of_track")]))
        midi_file.save(file=empty)
        path = write_new(folder, stem, empty.getvalue(), time.time() if wall_time is None else wall_time)
        return cls(path, bpm, clock, bar_steps=bar_steps)

    def _open(self, path, bpm, clock, start, ticks_per_beat, quantize, bar_steps) -> None:
        if ticks_per_beat % timegrid.STEPS_PER_QUARTER:
            raise ValueError(f"ticks_per_beat {ticks_per_beat} is not a multiple of {timegrid.STEPS_PER_QUARTER}")
        self.path = Path(path)
        self.bpm = float(bpm)
        self.clock = clock
        self.start = clock.now() if start is None else float(start)
        self.ticks_per_beat = ticks_per_beat
        self.quantize = quantize
        self._step_seconds = step_seconds(bpm)
        self._track = mido.MidiTrack(heading(self.bpm, bar_steps))
        self._last_tick = 0
        self._last_time: float | None = None  # clock time of the previous message (seconds)

    def _tick_now(self, now: float) -> int:
        """The tick for a message sent at clock time ``now`` (seconds)."""
        ticks_per_step = self.ticks_per_beat // timegrid.STEPS_PER_QUARTER
        if not self.quantize:
            return round(max(0.0, now - self.start) / self._step_seconds * ticks_per_step)
        since = now - (self.start if self._last_time is None else self._last_time)
        return self._last_tick + max(0, round(since / self._step_seconds)) * ticks_per_step

    def _send(self, message: mido.Message) -> None:
        now = self.clock.now()
        tick = max(self._last_tick, self._tick_now(now))  # never negative deltas
        self._track.append(message.copy(time=tick - self._last_tick))
        self._last_tick, self._last_time = tick, now

    def _close(self) -> None:
        self._track.append(mido.MetaMessage("end_of_track", time=0))
        midi_file = mido.MidiFile(type=0, ticks_per_beat=self.ticks_per_beat)
        midi_file.tracks.append(self._track)
        save_atomically(midi_file, Path(self.path))


def heading(bpm: float, bar_steps: int) -> list[mido.MetaMessage]:
    """A recording's first messages: its tempo and its time signature (a bar of ``bar_steps`` 16ths)."""
    numerator, denominator = time_signature(bar_steps)
    return [mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0),
            mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0)]


def save_atomically(midi_file: mido.MidiFile, path: Path) -> None:
    """Write ``path`` whole or not at all: a power cut leaves the old file (or none), never half a new one."""
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as file:
            midi_file.save(file=file)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
