"""Lead: MIDI clock and transport messages on the box's output, so a drum machine or DAW follows the box.

The loop calls ``ClockOut.tick`` on every tick of its transport, BEFORE the step's note:
each pulse (0xF8) leaves on the tick's absolute deadline, and every 6th pulse coincides
with a step's note. Start (0xFA) goes out before the first pulse; Stop (0xFC) when the box
pauses, the transport stops, or the box exits. On resume, the box waits for the next step
boundary and sends Song Position Pointer (that step, in 16ths) and Continue (0xFB) before
its pulse, so a follower plays that step with the box. Pulses keep going while paused
(followers keep the tempo), as the MIDI spec allows. After the output port comes back
(a replugged interface, a drum machine switched off and on), the next step boundary sends
Song Position Pointer and Continue again.
"""

from __future__ import annotations

import mido

from device.midi.midi_out import MidiOut
from device.transport.base import Tick

MAX_SONG_POSITION = 16383  # SPP is 14 bits, in 16ths


class ClockOut:
    """Sends clock and transport messages through ``midi_out``. ``playing``: the follower was told to play.

    Counters: ``pulses`` sent (or tried: a lost port drops them like notes).
    """

    def __init__(self, midi_out: MidiOut):
        self.midi_out = midi_out
        self.playing = False
        self.started = False
        self.pulses = 0
        self._reconnects = midi_out.reconnects

    def tick(self, tick: Tick, paused: bool = False) -> None:
        """One transport tick (call before the step's note): transport messages if the state changed, then the pulse."""
        playing = tick.running and not paused
        if self.midi_out.reconnects != self._reconnects:  # the port came back: tell the follower where we are
            self._reconnects = self.midi_out.reconnects
            self.playing = False
        if self.playing and not playing:
            self.stop()
        if playing and not self.playing and tick.on_step:
            if not self.started and tick.pulse == 0:
                self._send(mido.Message("start"))
            else:
                self._send(mido.Message("songpos", pos=min(tick.step, MAX_SONG_POSITION)))
                self._send(mido.Message("continue"))
            self.playing = self.started = True
        self._send(mido.Message("clock"))
        self.pulses += 1

    def stop(self) -> None:
        """Tell the follower to stop (pause, transport stopped, exit). No-op if it is not playing."""
        if self.playing:
            self._send(mido.Message("stop"))
            self.playing = False

    def _send(self, message: mido.Message) -> None:
        self.midi_out.send_transport(message)
