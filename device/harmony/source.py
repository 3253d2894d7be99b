"""The harmony source a box's configuration asks for: a progression, the chords heard on the input, or none."""

from __future__ import annotations

from collections.abc import Callable

from device.core.chords import parse_progression
from device.harmony.listener import ChordListener
from device.harmony.progression import ProgressionHarmony


def open_harmony(config, amount: float, midi_in,
                 say: Callable[[str], None]) -> ProgressionHarmony | ChordListener | None:
    """From ``config`` ([harmony] and music.bar_steps): a ProgressionHarmony for harmony.chords, a ChordListener on
    ``midi_in`` (a reader of the MIDI input) for harmony.follow, else None. ``amount``: the harmony control at
    start, for the line said."""
    harmony, bar_steps = config.harmony, config.music.bar_steps
    if harmony.chords:
        progression = parse_progression(harmony.chords)
        say(f"chords {progression.text} ({progression.key.name}), one per bar, cycled; harmony {amount:g}")
        return ProgressionHarmony(progression, bar_steps)
    if not harmony.follow or midi_in is None:
        return None
    channel = f"channel {harmony.channel}" if harmony.channel else "every channel"
    say(f"following the chords you hold on {midi_in.name!r} ({channel}); harmony {amount:g}")
    return ChordListener(midi_in, bar_steps, harmony.channel - 1 if harmony.channel else None)
