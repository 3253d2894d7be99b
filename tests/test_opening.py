"""The first bar is heard: after power-on, a reset or a Start, the box's first step is a note, unless a primer
says how the melody opens."""

import dataclasses

import numpy as np

from device.assembly import Parts, assemble
from device.core import encoding
from device.core.clock import FakeClock
from device.engine.controlstate import ControlState, FixedControls
from device.engine.generator import Generator
from device.engine.model import StepModel
from device.engine.sampling import Sampler
from device.settings import Config
from device.transport.follow import FollowTransport
from tests.recording import RecordingOutput, shipped_model_path
from tests.test_box import offline_tokens
from tests.test_follow import PULSE, ScriptedSource, msg, pulses

SEEDS = range(40)  # before the opening note, 23 of these 40 seeds opened with a rest (seed 0 among them)


PLAIN = ControlState(1.0)


def box_generator(model, seed, primer=()):
    """The live box's generator: a melody without a primer opens on a note."""
    return Generator(model, Sampler(seed=seed, pitch_range=model.contract.pitch_range), primer, open_on_a_note=True)


def first_tokens(generator, controls=PLAIN, resets=3):
    """The first token after construction and after each of ``resets`` resets, 8 steps apart."""
    firsts = []
    for _ in range(resets + 1):
        firsts.append(generator.next_token(controls))
        for _ in range(7):
            generator.next_token(controls)
        generator.reset()
    return firsts


def test_without_a_primer_every_melody_opens_with_a_note_at_power_on_and_after_each_reset():
    with StepModel(shipped_model_path()) as model:
        for seed in SEEDS:
            firsts = first_tokens(box_generator(model, seed))
            assert all(encoding.is_note_on(t) for t in firsts), (seed, firsts)


def test_the_opening_note_keeps_the_scale_lock_and_the_register():
    controls = ControlState(1.0, scale="major", scale_root=2, register_centre=74, register_width=6)
    with StepModel(shipped_model_path()) as model:
        for seed in range(10):
            generator = box_generator(model, seed)
            for token in first_tokens(generator, controls, resets=1):
                assert token in (71, 73, 74, 76, 77), (seed, token)  # D major within 74 +- 3


def test_greedy_opens_with_the_likeliest_note():
    with StepModel(shipped_model_path()) as model:
        generator = box_generator(model, 0)
        logits = generator.logits
        low, high = model.contract.pitch_range
        assert generator.next_token(ControlState(0.0)) == low + int(np.argmax(logits[low: high + 1]))


def test_a_primer_says_how_the_melody_opens():
    primer = [67, encoding.NO_EVENT, encoding.NO_EVENT, encoding.NOTE_OFF, encoding.NO_EVENT]  # a rest under way
    with StepModel(shipped_model_path()) as model:
        opened = {box_generator(model, seed, primer)
                  .next_token(ControlState(1.0)) for seed in SEEDS}
    assert encoding.NO_EVENT in opened or encoding.NOTE_OFF in opened  # the model may go on resting


def test_the_box_plays_a_note_on_its_first_step():
    config = dataclasses.replace(Config(), model=dataclasses.replace(Config().model, path=str(shipped_model_path())))
    clock, reports = FakeClock(), []
    port = RecordingOutput(clock=clock)
    parts = Parts(clock=clock, output=port, controls=FixedControls(1.0))
    with assemble(config, 0, parts, on_step=reports.append) as box:
        box.run(4)
    assert encoding.is_note_on(reports[0].token)
    assert (port.messages[0].type, port.messages[0].note, port.times[0]) == ("note_on", reports[0].token, 0.0)


def test_a_start_after_a_stop_opens_with_a_note_where_the_melody_had_a_rest():
    tokens = offline_tokens([1.0] * 64, seed=0)
    rest = next(i for i in range(1, 64) if not encoding.is_note_on(tokens[i]))  # the step the Stop comes before
    start, stop = 0.5, 0.5 + (rest * 6 + 0.5) * PULSE
    again = stop + 0.3
    events = ([(start, msg("start"))] + pulses(start + PULSE / 2, rest * 6) + [(stop, msg("stop"))]
              + [(again, msg("start"))] + pulses(again + PULSE / 2, 12))
    clock = FakeClock()
    port = RecordingOutput(clock=clock)
    transport = FollowTransport(ScriptedSource(clock, events), clock)
    config = dataclasses.replace(Config(), model=dataclasses.replace(Config().model, path=str(shipped_model_path())))
    with assemble(config, 0, Parts(clock=clock, output=port, controls=FixedControls(1.0), transport=transport)) as box:
        while clock.now() < again + 13 * PULSE:
            box.loop.tick(transport.next_tick())
    before = [m.note for m, t in zip(port.messages, port.times, strict=True) if m.type == "note_on" and t < stop]
    assert before == [t for t in tokens[:rest] if encoding.is_note_on(t)]  # the melody up to the Stop, as seeded
    first_after = next(t for m, t in zip(port.messages, port.times, strict=True) if m.type == "note_on" and t > again)
    assert first_after == clock_time_of_first_pulse(again)


def clock_time_of_first_pulse(start_time):
    return start_time + PULSE / 2


def test_deja_vu_at_1_repeats_the_opening_note_too():
    controls = ControlState(1.0, deja_vu=1.0, loop_bars=1)
    with StepModel(shipped_model_path()) as model:
        for seed in range(10):
            generator = box_generator(model, seed)
            tokens = [generator.next_token(controls) for _ in range(48)]
            assert tokens[16:32] == tokens[32:48] == tokens[:16], seed


def test_a_file_keeps_the_models_own_opening_its_pickup_included(tmp_path):
    from device.cli import main
    from tests.test_dynamics import file_notes

    path = tmp_path / "tune.mid"
    assert main(["generate", "--seed", "0", "--bars", "2", "-o", str(path)]) == 0
    with StepModel(shipped_model_path()) as model:
        own = Generator(model, Sampler(seed=0, pitch_range=model.contract.pitch_range))
        tokens = [own.next_token(PLAIN) for _ in range(32)]
    assert not encoding.is_note_on(tokens[0])  # seed 0 opens with a rest: in a file that is a pickup
    assert [start for start, _, _, _ in file_notes(path)] == [n.start for n in encoding.tokens_to_notes(tokens)]
