"""Rebuild the bundled corpus (training/corpus/folk.npz) from music21's public-domain folk tunes.

    python -m training.corpus.build [--cache build/corpus_midi] [--out training/corpus/folk.npz] [--workers 2]

Steps: split every ABC file of O'Neill's Music of Ireland (``oneills1850``) and Ryan's Mammoth
Collection (``ryansMammoth``) into tunes; parse each tune with music21 (repeats expanded, ties
merged); write its first part as a one-track MIDI file with mido (480 ticks per beat, 120 bpm, its time
signatures, a pickup at the end of a silent first bar, bars cut short filled with silence) into the cache folder;
then run the same pipeline as ``melodybox-train prepare`` over that folder. Everything is sorted and the
settings are fixed, so the arrays are reproducible.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import re
import sys
from fractions import Fraction
from pathlib import Path

import mido
from tqdm import tqdm

from training import prepare
from training.data import convert
from training.data.dataset import MelodySet, save_melodies
from training.data.metre import bar_steps_of
from training.data.midi_melody import Settings

COLLECTIONS = ("oneills1850", "ryansMammoth")
TICKS_PER_BEAT = 480
HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE.parent.parent / "build" / "corpus_midi"
DEFAULT_OUT = HERE / "folk.npz"
STAMP = "cache.json"
CACHE_VERSION = 3  # 2: time signatures and pickups in the MIDI files; 3: a pickup played again completes its bar


def tune_texts(abc_path: Path) -> list[str]:
    """The ABC text of each tune (``X:`` header onwards) in a file, with the file's header lines prepended."""
    text = abc_path.read_text(encoding="latin-1")
    chunks = re.split(r"(?m)^(?=X:)", text)
    header, tunes = (chunks[0], chunks[1:]) if chunks and not chunks[0].startswith("X:") else ("", chunks)
    return [header + tune for tune in tunes if tune.strip()]


def list_jobs(corpus_root: Path) -> list[tuple[str, str]]:
    """(cache-relative MIDI name, ABC text) for every tune, sorted by collection, file and position."""
    jobs = []
    for collection in COLLECTIONS:
        for abc_path in sorted((corpus_root / collection).glob("*.abc")):
            for index, text in enumerate(tune_texts(abc_path)):
                jobs.append((f"{collection}/{abc_path.stem}_{index:03d}.mid", text))
    return jobs


def tune_to_midi_bytes(text: str) -> bytes:
    """Parse one ABC tune with music21 and write its first part as MIDI bytes with mido."""
    # lazy: music21 is the optional "corpus" extra (and takes seconds to import); only rebuilding the corpus needs it
    from music21 import converter, harmony, stream
    from music21.exceptions21 import StreamException  # lazy: as music21
    from music21.repeat import ExpanderException  # lazy: as music21

    score = converter.parse(text, format="abc")
    with contextlib.suppress(ExpanderException, StreamException):  # badly formed repeats or no measures: as written
        score = score.expandRepeats()
    part = score.parts[0] if score.parts else score
    shifts, signatures = _bar_starts(part, stream.Measure)
    events = []  # (tick, order, message kind, pitch); note_off sorts before note_on at the same tick
    for pitch, start, end in _merged_notes(part, harmony.ChordSymbol):
        extra = next((e for tick, e in reversed(shifts) if tick <= start), 0)
        events.append((start + extra, 1, "note_on", pitch))
        events.append((end + extra, 0, "note_off", pitch))
    if not events:
        raise ValueError("no notes")
    events += [(tick, -1, "time_signature", (numerator, denominator)) for tick, numerator, denominator in signatures]
    title = str(score.metadata.title if score.metadata and score.metadata.title else "tune")
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=title.encode("latin-1", "replace").decode("latin-1"))])
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120)))
    now = 0
    for tick, _, kind, value in sorted(events):
        if kind == "time_signature":
            track.append(mido.MetaMessage(kind, numerator=value[0], denominator=value[1], time=tick - now))
        else:
            track.append(mido.Message(kind, note=value, velocity=80 if kind == "note_on" else 0, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi_file = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT, tracks=[track])
    buffer = io.BytesIO()
    midi_file.save(file=buffer)
    return buffer.getvalue()


def _bar_starts(part, measure_class) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]]]:
    """(shifts, signatures) that put the tune's bars on a regular grid of bar lines in the MIDI file.

    ``shifts``: ``(tick, extra)`` pairs, increasing; a note starting at or after ``tick`` (music21's time)
    is written ``extra`` ticks later. A pickup is delayed to the end of a silent first bar. A bar that
    starts off the bar lines (after a bar cut short, typically the last bar before a repeat) is moved
    later: a short one (the pickup played again) so that it ends on the next bar line, where it completes
    the bar cut short; a whole one to the next bar line, the gap filled with silence. So the bars after it
    stay on the grid and a repeat lasts as long as it is played. ``signatures``: a time signature
    ``(tick, numerator, denominator)`` (in the MIDI file's time) at the first bar and at each change; one that
    says nothing about bars (music21 gives 1/4 to bars it misreads) is ignored.
    A part that music21 left without measures keeps its time, with its signatures where they stand.
    """
    measures = list(part.getElementsByClass(measure_class))
    if not measures:
        found = part.flatten().getElementsByClass("TimeSignature")
        return [], [(round(Fraction(ts.offset) * TICKS_PER_BEAT), ts.numerator, ts.denominator) for ts in found
                    if bar_steps_of(ts.numerator, ts.denominator)]
    extra = round(Fraction(measures[0].paddingLeft) * TICKS_PER_BEAT)
    shifts: list[tuple[int, int]] = [(0, extra)]
    signatures: list[tuple[int, int, int]] = []
    anchor = bar = 0
    for measure in measures:
        found = measure.timeSignature
        start = round(Fraction(measure.offset) * TICKS_PER_BEAT)
        if found is not None and bar_steps_of(found.numerator, found.denominator) and (
                not signatures or signatures[-1][1:] != (found.numerator, found.denominator)):
            line = start + extra - (0 if signatures else shifts[0][1])  # the first bar begins before its pickup
            signatures.append((line, found.numerator, found.denominator))
            anchor, bar = line, found.numerator * 4 * TICKS_PER_BEAT // found.denominator
        elif signatures and (start + extra - anchor) % bar:
            length = round(Fraction(measure.duration.quarterLength) * TICKS_PER_BEAT)
            end = start + extra - anchor + (length if length < bar else 0)  # a short bar ends on the line
            extra += -end % bar
            shifts.append((start, extra))
    return shifts, signatures


def _merged_notes(part, chord_symbol) -> list[tuple[int, int, int]]:
    """(pitch, start tick, end tick) of every sounding note; a tie merges notes of the same pitch only.

    (music21's stripTies also merges ABC ties written between different pitches, which are slurs.)
    """
    notes: list[list[int]] = []
    last_at: dict[int, int] = {}  # pitch -> index of its latest note in ``notes``
    for element in part.flatten().notes:
        if isinstance(element, chord_symbol) or element.duration.quarterLength <= 0:
            continue
        start = round(Fraction(element.offset) * TICKS_PER_BEAT)
        end = round(Fraction(element.offset + element.duration.quarterLength) * TICKS_PER_BEAT)
        tied = element.tie is not None and element.tie.type in ("stop", "continue")
        for pitch in (p.midi for p in element.pitches):
            previous = last_at.get(pitch)
            if tied and previous is not None and notes[previous][2] == start:
                notes[previous][2] = end
            else:
                last_at[pitch] = len(notes)
                notes.append([pitch, start, end])
    return [tuple(n) for n in notes]


def _job(job: tuple[str, str]) -> tuple[str, bytes | None, str | None]:
    name, text = job
    try:
        return name, tune_to_midi_bytes(text), None
    except Exception as error:  # noqa: BLE001 - a tune music21 cannot read is counted and left out
        return name, None, f"{type(error).__name__}: {error}"


def write_cache(cache: Path, workers: int = 2, fresh: bool = False) -> dict:
    """Write one MIDI file per tune into ``cache`` (skipped when a complete cache exists). Returns the stamp."""
    import music21  # lazy: the optional "corpus" extra, only needed to rebuild the corpus
    from music21.corpus import manager  # lazy: as music21

    stamp_path = cache / STAMP
    if stamp_path.exists() and not fresh:
        stamp = json.loads(stamp_path.read_text())
        if stamp.get("cache_version") == CACHE_VERSION:
            return stamp
    corpus_root = Path(manager.__file__).parent
    jobs = list_jobs(corpus_root)
    for collection in COLLECTIONS:
        for old in (cache / collection).glob("*.mid"):
            old.unlink()
        (cache / collection).mkdir(parents=True, exist_ok=True)
    failures = {}
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.imap(_job, jobs, chunksize=8)
        for name, data, error in tqdm(results, total=len(jobs), desc="music21 -> MIDI", unit="tune", file=sys.stderr):
            if data is None:
                failures[name] = error
            else:
                (cache / name).write_bytes(data)
    stamp = {"cache_version": CACHE_VERSION, "music21": music21.__version__, "tunes": len(jobs),
             "written": len(jobs) - len(failures), "failures": failures}
    stamp_path.write_text(json.dumps(stamp, indent=1, sort_keys=True))
    return stamp


def build(cache: Path, out: Path, workers: int = 2, fresh: bool = False) -> dict:
    """Write the cache, prepare it into ``out`` and return summary figures."""
    stamp = write_cache(cache, workers, fresh)
    settings = Settings()
    files = convert.find_inputs([cache])
    results = convert.convert_all(files, settings, workers)
    melodies, sources, bar_steps, bar_offset = [], [], [], []
    for result in results:
        name = Path(result.file).relative_to(cache).as_posix()
        melodies += result.melodies
        sources += [name] * len(result.melodies)
        bar_steps += result.bar_steps
        bar_offset += result.bar_offset
    summary = prepare.summarize(results)
    metadata = {
        "settings": prepare.settings_dict(settings),
        "source": "music21 corpus: " + ", ".join(COLLECTIONS),
        "music21": stamp["music21"],
        "tunes": stamp["tunes"],
        "tunes_written": stamp["written"],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_melodies(out, MelodySet(melodies, sources, metadata, bar_steps, bar_offset))
    return {**summary, "tunes": stamp["tunes"], "tunes_written": stamp["written"], "out": str(out)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.corpus.build", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="folder for the per-tune MIDI files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the prepared corpus (.npz)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--fresh", action="store_true", help="rewrite the MIDI cache even if it is complete")
    args = parser.parse_args(argv)
    summary = build(args.cache, args.out, args.workers, args.fresh)
    print(json.dumps(summary, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
