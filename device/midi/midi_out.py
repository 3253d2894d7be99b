"""Tokens to MIDI messages on a mido output port, surviving an unplugged synth.

``MidiOut`` tracks the one sounding note: it is always ended (note_off) before
the next note starts, on NOTE_OFF, on ``silence()`` and on ``close()``. If the
port fails (the USB synth was unplugged) the box keeps playing into the void:
MidiOut marks itself disconnected, keeps tracking notes, and reconnects as the input
does (device/midi/reconnect.py); a reopened port first gets All Notes Off. These
checks run after a step's messages are sent, so they never delay a note.

Articulation (device/engine/dynamics.py): ``play`` takes each note's velocity; ``end_at`` schedules
the sounding note's note-off on a later pulse of the transport, which the loop reports with
``tick`` on every pulse (the gate). ``recorder`` hears every note-on and note-off the box
plays, stamped with the pulse, connected or not (device/play/capture.py).
"""

from __future__ import annotations

from collections.abc import Callable

import mido
from mido.ports import BaseOutput

from device.core import encoding
from device.core.clock import Clock, MonotonicClock
from device.midi.ports import PORT_ERRORS
from device.midi.reconnect import Reconnecting

ALL_NOTES_OFF = 123  # MIDI CC number
# Backends that buffer (rtmidi's JACK output hands messages to the next audio cycle) drop what
# is still queued when the port closes: wait this long (s) after the final All Notes Off.
FLUSH_SECONDS = 0.05


class MidiOut(Reconnecting):
    """Plays tokens on ``port`` (a mido output, or None to start disconnected and wait for ``reopen``).

    ``channel`` 0..15 (mido numbering), ``velocity`` 1..127 for note-ons.
    ``reopen`` returns a fresh port (raising OSError/rtmidi errors if it cannot);
    ``alive`` (optional) says whether the port still exists, checked at most every
    ``retry_seconds`` on ``clock`` (for backends whose sends succeed into a removed port).
    ``recorder(pulse, pitch, velocity)`` (optional) is called for every note-on, and with velocity 0
    for every note-off. Counters: ``messages_sent``, and the reconnect ones (``reconnects``, ``losses``,
    ``failed_reopens``, ``last_error``).
    """

    def __init__(
        self,
        port: BaseOutput | None,
        channel: int = 0,
        velocity: int = 100,
        reopen: Callable[[], BaseOutput] | None = None,
        clock: Clock | None = None,
        retry_seconds: float = 1.0,
        alive: Callable[[], bool] | None = None,
        recorder: Callable[[int, int, int], None] | None = None,
    ):
        if not 0 <= channel <= 15:
            raise ValueError(f"MIDI channel must be 0..15 (mido numbering), got {channel}")
        if not 1 <= velocity <= 127:
            raise ValueError(f"velocity must be 1..127, got {velocity}")
        self.channel = channel
        self.velocity = velocity
        self._start_reconnecting(clock if clock is not None else MonotonicClock(), reopen, alive, retry_seconds)
        self._port = port
        self.connected = port is not None
        self._sounding: int | None = None
        self.recorder = recorder
        self.pulse = 0  # the transport's last pulse (see tick())
        self._off_at: int | None = None  # the pulse the sounding note ends on (the gate), None: with the next token
        self._closed = False
        self.messages_sent = 0

    @property
    def sounding(self) -> int | None:
        """The pitch that is sounding (or would be, while disconnected), else None."""
        return self._sounding

    @property
    def port(self) -> BaseOutput | None:
        return self._port

    def play(self, token: int, velocity: int | None = None) -> None:
        """Play one step's token: 0..127 starts that note (ending the previous one first) at ``velocity``
        (1..127; None: the configured one), NOTE_OFF ends the sounding note, NO_EVENT sends nothing.
        Never raises for a lost port."""
        token = encoding.check_token(token)
        if self._closed:
            raise ValueError("play() on a closed MidiOut")
        velocity = self.velocity if velocity is None else velocity
        if not 1 <= velocity <= 127:
            raise ValueError(f"velocity must be 1..127, got {velocity}")
        if token != encoding.NO_EVENT:
            self._end_sounding()
            if encoding.is_note_on(token):
                self._send(mido.Message("note_on", channel=self.channel, note=token, velocity=velocity))
                self._sounding = token
                if self.recorder is not None:
                    self.recorder(self.pulse, token, velocity)
        self._check_connection()  # after the note: listing or opening ports must not delay it

    def tick(self, pulse: int) -> None:
        """The transport's pulse ``pulse`` is here (the loop calls this on every tick, first):
        the sounding note ends now if its gate said so, or if the song position went back (SPP, a new Start)."""
        went_back, self.pulse = pulse < self.pulse, pulse
        if self._off_at is not None and (pulse >= self._off_at or went_back) and not self._closed:
            self._end_sounding()

    def end_at(self, pulse: int) -> None:
        """End the sounding note on pulse ``pulse`` (a later one than now), unless a token or
        ``silence`` ends it first. Nothing sounding: nothing to do."""
        if self._sounding is not None and pulse > self.pulse:
            self._off_at = pulse

    def send_transport(self, message: mido.Message) -> bool:
        """Send a clock or transport message (clock, start, stop, continue, songpos) now.

        Never raises for a lost port; returns whether it went out. No port checks here:
        pulses are frequent, and ``play`` checks the port after each note.
        """
        if self._closed:
            return False
        return self._send(message)

    def echo(self, message: mido.Message) -> bool:
        """Send a message from the MIDI input through to this output now, on this output's channel (thru).
        Never raises for a lost port; returns whether it went out. The sounding note is not touched."""
        if self._closed:
            return False
        return self._send(message.copy(channel=self.channel))

    def silence(self) -> None:
        """End the sounding note and send All Notes Off on the channel. No-op once closed."""
        if self._closed:
            return
        self._end_sounding()
        self._send(self._all_notes_off())
        self._check_connection()

    def close(self) -> None:
        """Silence, then close the port. Idempotent.

        If the port is lost by then, one last ``reopen()`` is tried at once (whatever the
        retry interval) so a synth that was plugged back in still gets All Notes Off.
        Waits FLUSH_SECONDS before closing so buffered backends deliver the last messages.
        """
        if self._closed:
            return
        self.silence()
        if not self.connected:
            self._check_connection(now=True)
        if self.connected:
            self.clock.sleep_until(self.clock.now() + FLUSH_SECONDS)
        self._closed = True
        self._drop_port()

    def __enter__(self) -> MidiOut:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _all_notes_off(self) -> mido.Message:
        return mido.Message("control_change", channel=self.channel, control=ALL_NOTES_OFF, value=0)

    def _end_sounding(self) -> None:
        self._off_at = None
        if self._sounding is not None:
            self._send(mido.Message("note_off", channel=self.channel, note=self._sounding, velocity=0))
            if self.recorder is not None:
                self.recorder(self.pulse, self._sounding, 0)
            self._sounding = None

    def _send(self, message: mido.Message) -> bool:
        """Send if connected; on a port error mark the port lost. True if the message went out."""
        if not self.connected:
            return False
        try:
            self._port.send(message)
        except PORT_ERRORS as error:
            self._lose(error)
            return False
        self.messages_sent += 1
        return True

    def _reconnected(self, port: BaseOutput) -> bool:
        """A reopened port first gets All Notes Off (a note may hang there from before the loss)."""
        return self._send(self._all_notes_off())
