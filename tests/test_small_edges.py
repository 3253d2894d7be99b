"""Small edges a newcomer met: doctor names the real cause of no sound, the first line says where the tempo
comes from, a clock back after a loss says what to press, no note after a Stop, and news printed above the
status line, never onto it."""

import dataclasses
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from device.assembly import Parts, assemble, tempo_text
from device.core.clock import FakeClock
from device.doctor import check_sound
from device.engine.controlstate import FixedControls
from device.midi.midi_out import MidiOut
from device.play.loop import Loop
from device.settings import Config
from device.transport.follow import FollowTransport
from tests.jack_server import JackServer, JackUnavailable
from tests.recording import ROOT, RecordingOutput, shipped_model_path
from tests.test_cli import MODEL
from tests.test_follow import PULSE, ScriptedSource, follower, msg, pulses
from tests.test_jack_clock import Lines

# --- doctor: no sound card is not a missing PortAudio ------------------------------------------------------------

def test_doctor_says_the_sound_card_is_missing_not_portaudio_when_portaudio_is_installed():
    try:
        import sounddevice  # noqa: F401 - loading it loads PortAudio
    except (ImportError, OSError) as error:
        pytest.skip(f"PortAudio or sounddevice is not installed here ({error}): apt install libportaudio2")
    check = check_sound("no such sound card")  # PortAudio itself is asked, and has no such device
    assert check.status == "warn"
    assert "libportaudio2" not in check.fix
    assert check.fix.startswith("only needed without a MIDI synth: PortAudio is installed, and there is no audio "
                                "output it can open: plug in a sound card or headphones")
    assert "raspi-config" not in check.fix and "raspi-config" in check_sound("no such sound card", on_pi=True).fix


# --- the first line: the tempo's source ----------------------------------------------------------------------------

def test_the_first_line_says_where_the_tempo_comes_from():
    follow, link = (dataclasses.replace(Config(), clock=dataclasses.replace(Config().clock, mode=mode))
                    for mode in ("follow", "link"))
    assert tempo_text(follow) == "tempo from the MIDI clock it follows"
    assert tempo_text(link) == "tempo from the Link session (120 bpm if it is empty)"
    assert tempo_text(Config()) == "120 bpm"


def test_on_its_own_clock_the_first_line_says_its_tempo():
    said = []
    parts = Parts(clock=FakeClock(), output=RecordingOutput(), controls=FixedControls(1.0))
    config = dataclasses.replace(Config(), model=dataclasses.replace(Config().model, path=str(shipped_model_path())))
    with assemble(config, 0, parts, say=said.append):
        pass
    assert said[0] == f"model {shipped_model_path()} on ai-edge-litert, 120 bpm"


@pytest.fixture(scope="module")
def jack():
    try:
        with JackServer(name=f"melodybox-edges-{os.getpid()}") as server:
            yield {**os.environ, **server.env}
    except JackUnavailable as error:
        pytest.skip(str(error))


@pytest.mark.jack
def test_the_box_following_a_clock_never_claims_120_bpm(jack):
    box = subprocess.Popen([sys.executable, "-m", "device", "run", "--model", MODEL, "--sim", "--clock", "follow",
                            "--virtual", f"out-{os.getpid()}"], cwd=ROOT, env=jack, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = Lines(box.stderr)
    try:
        assert lines.wait_for("following MIDI clock"), lines.lines
    finally:
        box.terminate()
        box.wait(timeout=20)
    assert lines.lines[0].endswith("tempo from the MIDI clock it follows")
    assert not any("bpm" in line for line in lines.lines)


# --- a lost clock that comes back without Continue -------------------------------------------------------------------

def test_a_clock_back_after_a_loss_without_continue_says_why_the_box_is_silent_and_what_to_press():
    events = [(0.0, msg("start"))] + pulses(0.001, 12) + pulses(1.5, 48)  # lost after 12 pulses, back at 1.5 s
    transport, clock, said = follower(events)
    while clock.now() < 2.6:
        transport.next_tick()
    assert said == ["MIDI clock lost (nothing for 0.5 s): stopped; waiting for Start or Continue",
                    "MIDI clock is back, but the box stopped when it was lost: press Continue (or Start) on the drum "
                    "machine or DAW to play on"]


def test_after_continue_a_second_loss_and_return_is_said_again():
    events = ([(0.0, msg("start"))] + pulses(0.001, 12) + pulses(1.5, 6) + [(1.5 + 5.5 * PULSE, msg("continue"))]
              + pulses(1.5 + 6 * PULSE, 6) + pulses(3.0, 6))
    transport, clock, said = follower(events)
    while clock.now() < 3.5:
        transport.next_tick()
    assert [line.split(":")[0] for line in said] == ["MIDI clock lost (nothing for 0.5 s)", "MIDI clock is back, but "
                                                     "the box stopped when it was lost",
                                                     "MIDI clock lost (nothing for 0.5 s)", "MIDI clock is back, but "
                                                     "the box stopped when it was lost"]


# --- a Stop right after a pulse: no note after the Stop -----------------------------------------------------------

STOP_AFTER = 1.0 + 48 * PULSE  # two beats of steady clock, then step 8's pulse arrives 3 ms early


def early_pulse_then_stop():
    """Steady pulses for two beats; step 8's pulse 3 ms early (it waits for its dejittered time), a Stop 1 ms after
    it arrived: a drum machine stopped right after a pulse."""
    early = STOP_AFTER - 0.003
    return [(0.9, msg("start"))] + pulses(1.0, 48) + [(early, msg("clock")), (early + 0.001, msg("stop"))]


def test_a_stop_that_arrives_while_a_pulse_waits_for_its_time_stops_before_the_pulse_plays():
    transport, clock, _ = follower(early_pulse_then_stop(), dejitter=True)
    ticks = []
    while clock.now() < STOP_AFTER:
        ticks.append(transport.next_tick())
    started = next(i for i, t in enumerate(ticks) if t.running)
    assert [(t.pulse, t.running) for t in ticks[started:]] == [(p, True) for p in range(48)] + [(49, False)]
    assert transport.position == 49  # the pulse was the drum machine's: Continue goes on after it


class EveryStep:
    """A melody with a new note on every 16th (60, 61, ...): whichever pulse a step falls on, it has a note."""

    opening = False

    def __init__(self):
        self.count = 0

    def next_token(self, state, step=None):
        self.count += 1
        return 60 + self.count % 12

    def reset(self):
        pass


def test_the_loop_plays_no_note_after_a_stop():
    clock = FakeClock()
    port = RecordingOutput(clock=clock)
    transport = FollowTransport(ScriptedSource(clock, early_pulse_then_stop()), clock)
    loop = Loop(EveryStep(), MidiOut(port, clock=clock), FixedControls(1.0), transport)
    while clock.now() < STOP_AFTER + 0.5:
        loop.tick(transport.next_tick())
    stop_arrived = STOP_AFTER - 0.002
    ons = [t for m, t in zip(port.messages, port.times, strict=True) if m.type == "note_on" and m.velocity > 0]
    assert len(ons) == 8 and max(ons) < stop_arrived  # steps 0..7; step 8's pulse came just before the Stop


# --- news above the status line ------------------------------------------------------------------------------------

def screen(output: str) -> list[str]:
    """What a terminal shows after ``output``: carriage returns go back to the line's start, characters overwrite."""
    rows, row, column = [[]], 0, 0
    for char in output:
        if char == "\r":
            column = 0
        elif char == "\n":
            rows.append([])
            row, column = row + 1, 0
        else:
            line = rows[row]
            line.extend(" " * (column + 1 - len(line)))
            line[column] = char
            column += 1
    return ["".join(line).rstrip() for line in rows]


def test_a_capture_message_is_printed_above_the_status_line_never_onto_it(tmp_path):
    main, child = pty.openpty()
    box = subprocess.Popen([sys.executable, "-m", "device", "run", "--model", MODEL, "--sim", "--bpm", "400",
                            "--steps", "96", "--midi-file", str(tmp_path / "run.mid")], cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=child, stdout=child, stderr=child)
    os.close(child)
    output, asked = b"", False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the box ended: the terminal is gone
                break
            output += chunk
        if not asked and re.search(rb"\r\s+\d+ ", output):  # the status line is on screen: press c (capture)
            os.write(main, b"c")
            asked = True
        if box.poll() is not None and not ready:
            break
    box.wait(timeout=20)
    os.close(main)
    lines = screen(output.decode(errors="replace"))
    assert box.returncode == 0, lines
    [captured] = [line for line in lines if "captured the last" in line]
    assert re.fullmatch(r"melodybox: captured the last 4 bars to captures/capture-\d{8}-\d{6}\.mid", captured), lines
