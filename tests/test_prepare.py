"""`melodybox-train prepare`: input discovery, parallel conversion, summary, report, CLI end to end."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from device.core.encoding import NO_EVENT as N
from device.core.encoding import NOTE_OFF as OFF
from tests.test_midi_melody import midi_bytes, steps, track
from training import prepare
from training.data import convert
from training.data.dataset import LEGACY_PICKLE_WARNING, MelodySet, load_legacy, load_melodies, save_legacy
from training.data.midi_melody import FileResult, Settings, convert_file

ROOT = Path(__file__).resolve().parent.parent


def tune(*pitches, length=4):
    """MIDI bytes of one melody: each pitch held ``length`` steps."""
    return midi_bytes(track(steps(*[(p, i * length, (i + 1) * length) for i, p in enumerate(pitches)])))


@pytest.fixture
def folder(tmp_path):
    """Good and broken files, in sub-folders, with mixed-case suffixes."""
    root = tmp_path / "midi"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.mid").write_bytes(tune(60, 62, 64, 65, 67))
    (root / "sub" / "B.MID").write_bytes(tune(72, 71, 69, 67, 65, 64))
    (root / "sub" / "deeper" / "c.Kar").write_bytes(tune(55, 57, 59, 60, 62))
    (root / "sub" / "html.midi").write_text("<html><body>Not Found</body></html>")
    (root / "sub" / "cut.mid").write_bytes(tune(60, 62, 64, 65, 67)[:-7])
    (root / "empty.mid").write_bytes(b"")
    (root / "notes.txt").write_text("not a MIDI suffix: ignored")
    return root


def test_find_inputs_searches_folders_recursively_for_midi_suffixes_in_any_case(folder):
    names = [p.relative_to(folder).as_posix() for p in convert.find_inputs([folder])]
    assert names == ["a.mid", "empty.mid", "sub/B.MID", "sub/cut.mid", "sub/deeper/c.Kar", "sub/html.midi"]


def test_find_inputs_takes_a_named_file_whatever_its_suffix_and_drops_duplicates(folder):
    found = convert.find_inputs([folder / "notes.txt", folder / "a.mid", folder])
    assert found.count(folder / "a.mid") == 1 and folder / "notes.txt" in found


def test_find_inputs_names_a_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        convert.find_inputs([tmp_path / "nope"])


def many_files(root: Path, count: int) -> list[Path]:
    root.mkdir()
    paths = []
    for i in range(count):
        path = root / f"f{i:03d}.mid"
        path.write_bytes(b"garbage" if i % 7 == 3 else tune(*[50 + (i * 5 + k * 3) % 30 for k in range(4 + i % 9)]))
        paths.append(path)
    return paths


def test_one_and_two_workers_give_byte_identical_tokens_sources_and_reports(tmp_path):
    files = many_files(tmp_path / "many", 40)
    one = convert.convert_all(files, Settings(), workers=1)
    two = convert.convert_all(files, Settings(), workers=2)
    assert np.concatenate([m for r in one for m in r.melodies]).tobytes() == np.concatenate(
        [m for r in two for m in r.melodies]).tobytes()
    assert [r.report() for r in one] == [r.report() for r in two]


def hang_on_stuck(path, settings):
    """A converter whose worker never answers for files named stuck*: what a hung parser looks like."""
    if path.name.startswith("stuck"):
        time.sleep(600)
    return convert_file(path, settings)


def test_a_worker_that_never_answers_costs_one_timeout_and_the_rest_is_converted(tmp_path):
    files = many_files(tmp_path / "many", 12)
    stuck = tmp_path / "many" / "stuck.mid"
    stuck.write_bytes(tune(60, 62, 64, 65))
    files.insert(5, stuck)
    results = convert.convert_all(files, Settings(max_seconds=0.5), workers=2, convert=hang_on_stuck)
    assert [r.reason for r in results].count("timeout") == 1 and results[5].reason == "timeout"
    assert [r.report() for r in results[:5] + results[6:]] == [convert_file(f, Settings()).report() for f in files
                                                               if f != stuck]


def test_summary_counts_files_by_reason_melodies_steps_pitches_and_token_shares():
    results = [
        FileResult("a", "kept", [np.array([60, N, 128, 64], np.int16), np.array([70, N], np.int16)], [12, 16], [0, 4],
                   metres=["6/8", "4/4"]),
        FileResult("e", "kept", [np.array([72], np.int16)], [12], [0], metres=["6/8"]),
        FileResult("b", "skipped", reason="corrupt"),
        FileResult("c", "skipped", reason="corrupt"),
        FileResult("d", "skipped", reason="not_midi"),
    ]
    assert prepare.summarize(results) == {
        "files": 5, "kept": 2, "skipped": {"not_midi": 1, "corrupt": 2}, "melodies": 3, "steps": 7,
        "pitch_range": [60, 72], "shares": {"note_on": 0.5714, "note_off": 0.1429, "no_event": 0.2857},
        "bar_steps": {"12": 2, "16": 1}, "off_bar_line": 1, "metres": {"6/8": 2, "4/4": 1}, "moved": 0, "left_out": 0,
    }


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "training", "prepare", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": ""})


def test_cli_writes_melodies_a_report_line_per_file_and_a_summary(folder, tmp_path):
    out, report = tmp_path / "out.npz", tmp_path / "report.jsonl"
    done = run_cli(folder, "-o", out, "--report", report, "--workers", "2", "--min-steps", "16", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(Path(x["file"]).name, x["status"], x.get("reason"), x["melodies"]) for x in lines] == [
        ("a.mid", "kept", None, 1), ("empty.mid", "skipped", "not_midi", 0), ("B.MID", "kept", None, 1),
        ("cut.mid", "skipped", "corrupt", 0), ("c.Kar", "kept", None, 1), ("html.midi", "skipped", "not_midi", 0),
    ]
    assert done.stdout.splitlines() == [
        "files     6: kept 3, skipped 3 (not_midi 2, corrupt 1)",
        "melodies  3, steps 64, pitch range 55..72",
        "tokens    note-on 25.0%, NOTE_OFF 0.0%, NO_EVENT 75.0%",
        "bars      16 steps 3 (melodies); 0 start off a bar line",
        "metres    4/4 (none given) 3 (files)",
        f"wrote 3 melodies (64 steps) to {out}",
    ]
    prepared = load_melodies(out)
    assert [m.tolist()[:5] for m in prepared.melodies] == [[60, N, N, N, 62], [72, N, N, N, 71], [55, N, N, N, 57]]
    assert prepared.metadata["settings"]["min_steps"] == 16 and prepared.metadata["encoding_version"] == 1
    assert (prepared.bar_steps.tolist(), prepared.bar_offset.tolist()) == ([16, 16, 16], [0, 0, 0])


def test_cli_exits_1_with_a_message_when_no_melody_was_found(tmp_path):
    (tmp_path / "bad.mid").write_text("<html></html>")
    done = run_cli(tmp_path / "bad.mid", "-o", tmp_path / "out.npz", cwd=tmp_path)
    assert (done.returncode, done.stderr.strip().splitlines()[-1]) == (
        1, "melodybox-train: error: no melodies found in 1 file(s); nothing written (see --report)")
    assert not (tmp_path / "out.npz").exists()


def test_cli_exits_2_naming_a_missing_input(tmp_path):
    done = run_cli(tmp_path / "missing", "-o", tmp_path / "out.npz", cwd=tmp_path)
    assert (done.returncode, done.stderr.strip()) == (
        2, f"melodybox-train: error: no such file or folder: {tmp_path / 'missing'}")


def test_cli_writes_the_legacy_format_on_request(folder, tmp_path):
    legacy = tmp_path / "legacy.npz"
    done = run_cli(folder / "a.mid", "-o", tmp_path / "out.npz", "--legacy-out", legacy, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [m.tolist() for m in load_legacy(legacy).melodies] == [
        m.tolist() for m in load_melodies(tmp_path / "out.npz").melodies]


def test_cli_imports_a_legacy_file_with_the_pickle_warning(tmp_path):
    legacy = tmp_path / "course.npz"
    save_legacy(legacy, MelodySet([np.array([60, N, 62], np.int16), np.array([64, 128], np.int16)], ["x", "y"]))
    done = run_cli("--import-legacy", legacy, "-o", tmp_path / "out.npz", "--min-steps", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert LEGACY_PICKLE_WARNING in done.stderr
    with np.load(tmp_path / "out.npz", allow_pickle=False) as data:
        assert data["tokens"].tolist() == [60, N, 62, 64]


def legacy_set(*melodies):
    return MelodySet([np.array(m, np.int16) for m in melodies], [f"course.npz#{i}" for i in range(len(melodies))])


def test_legacy_melodies_without_notes_are_dropped():
    result, sources = prepare.clean_legacy(Path("course.npz"), legacy_set([N] * 20, [60] + [N] * 15, [128, N]),
                                           Settings())
    assert ([m.tolist() for m in result.melodies], sources) == ([[60] + [N] * 15], ["course.npz#1"])


def test_legacy_silence_before_the_bar_of_the_first_note_and_after_the_last_is_stripped():
    melody = [N] * 36 + [62] + [N] * 15 + [128] + [N] * 40
    result, _ = prepare.clean_legacy(Path("course.npz"), legacy_set(melody), Settings())
    assert [m.tolist() for m in result.melodies] == [[N] * 4 + [62] + [N] * 15]


def test_legacy_melodies_are_split_at_long_silences_and_cut_to_max_steps():
    melody = [60] + [N] * 15 + [128] + [N] * 40 + [62] + [N] * 22 + [64] + [N] * 15  # 62 at step 57, 64 at 80
    result, sources = prepare.clean_legacy(Path("course.npz"), legacy_set(melody), Settings(max_steps=32))
    assert [m.tolist() for m in result.melodies] == [[60] + [N] * 15, [N] * 9 + [62] + [N] * 22, [64] + [N] * 15]
    assert (sources, result.bar_steps, result.bar_offset) == (["course.npz#0"] * 3, [16] * 3, [0] * 3)


def test_legacy_import_summary_counts_the_file_and_the_melodies_it_gave(tmp_path):
    legacy = tmp_path / "course.npz"
    save_legacy(legacy, legacy_set([N] * 20, [60] + [N] * 15, [64] + [N] * 19))
    done = run_cli("--import-legacy", legacy, "-o", tmp_path / "out.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"legacy    {legacy}: 3 legacy melodies, 1 without notes, 2 kept after cleaning",
        "files     1: kept 1, skipped 0 (none)",
        "melodies  2, steps 36, pitch range 60..64",
        "tokens    note-on 5.6%, NOTE_OFF 0.0%, NO_EVENT 94.4%",
        "bars      16 steps 2 (melodies); 0 start off a bar line",
        "metres    4/4 (seed course's format) 1 (files)",
        f"wrote 2 melodies (36 steps) to {tmp_path / 'out.npz'}",
    ]


def test_prepare_does_not_import_tensorflow(folder, tmp_path):
    code = ("import sys; from training import cli; "
            f"cli.main(['prepare', {str(folder / 'a.mid')!r}, '-o', {str(tmp_path / 'o.npz')!r}]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'music21')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "[]"


# --- the corpus builder (training/corpus/build.py): ABC -> MIDI with music21 and mido ---

ABC_HEAD = "X:1\nT:Test\nM:2/4\nL:1/8\nK:C\n"


def abc_result(body, head=ABC_HEAD):
    pytest.importorskip("music21")
    from training.corpus.build import tune_to_midi_bytes
    from training.data.midi_melody import convert_bytes

    return convert_bytes(tune_to_midi_bytes(head + body), "tune.mid", Settings(min_steps=1))


def abc_tokens(body, head=ABC_HEAD):
    return [m.tolist() for m in abc_result(body, head).melodies]


SIX_EIGHT = "X:1\nT:Test\nM:6/8\nL:1/8\nK:C\n"


def test_a_tune_is_written_with_its_time_signature():
    pytest.importorskip("music21")
    import io

    import mido

    from training.corpus.build import tune_to_midi_bytes

    midi_file = mido.MidiFile(file=io.BytesIO(tune_to_midi_bytes(SIX_EIGHT + "GAB c2B|A3 G3|\n")))
    assert [(m.numerator, m.denominator) for m in midi_file.tracks[0] if m.type == "time_signature"] == [(6, 8)]


def test_a_pickup_ends_a_silent_first_bar_so_the_melody_starts_on_its_bar_line():
    result = abc_result("D|GAB c2B|A3 G3|\n", SIX_EIGHT)
    assert ([m.tolist() for m in result.melodies], result.bar_steps, result.bar_offset) == (
        [[N] * 10 + [62, N, 67, N, 69, N, 71, N, 72, N, N, N, 71, N, 69, N, N, N, N, N, 67, N, N, N, N, N]],
        [12], [0])


def test_a_bar_cut_short_before_a_repeat_is_filled_with_silence_so_the_repeat_stays_on_the_bar_lines():
    # the last bar of the repeat has 5 eighths of 6: one eighth of silence (NOTE_OFF, N) before the repeat
    once = [67, N, 69, N, 71, N, 72, N, N, N, 71, N, 69, N, N, N, N, N, 67, N, N, N, OFF, N]
    assert abc_tokens("D|:GAB c2B|A3 G2:|c6|\n", SIX_EIGHT) == [[N] * 10 + [62, N] + once + once + [72] + [N] * 11]


def test_a_pickup_played_again_after_a_bar_cut_short_completes_that_bar():
    # the repeat holds the pickup D: the bar cut short (5 eighths) and the D make one bar, not two
    once = [67, N, 69, N, 71, N, 72, N, N, N, 71, N, 69, N, N, N, N, N, 67, N, N, N]
    assert abc_tokens("|:D|GAB c2B|A3 G2:|c6|\n", SIX_EIGHT) == [
        [N] * 10 + [62, N] + once + [62, N] + once + [OFF, N, 72] + [N] * 11]


def test_a_short_bar_that_starts_off_the_bar_lines_ends_on_the_next_one():
    # after the first ending's short bar, the B part's pickup d ends that bar, on the beat before c3
    tokens = abc_tokens("|:D|GAB c2B|A3 G2:||:d|c3 B3|A3 G2:|\n", SIX_EIGHT)[0]
    bar_of_c3 = tokens.index(72, 24 + 12 + 12)
    assert (bar_of_c3 % 12, tokens[bar_of_c3 - 2]) == (0, 74)


def test_a_tune_is_written_with_repeats_expanded_and_same_pitch_ties_merged():
    once = [60, N, N, N, N, N, N, N, 62, N, 64, N, 65, N, N, N]  # C2-C2 merged; D-E (a slur) stays two notes
    assert abc_tokens("|:C2-C2|D-E F2:|G2 A2|c4|]\n") == [once + once + [67, N, N, N, 69, N, N, N, 72] + [N] * 7]


def test_a_tune_whose_repeats_music21_cannot_expand_is_written_as_it_stands():
    assert abc_tokens("|:C2 C2|D E F2:|\n") == [[60, N, N, N, 60, N, N, N, 62, N, 64, N, 65, N, N, N]]


def test_an_abc_file_is_split_into_tunes_with_its_header(tmp_path):
    from training.corpus.build import tune_texts

    path = tmp_path / "book.abc"
    path.write_text("%abc-2.1\nZ:someone\n\nX:1\nT:One\nK:C\nCDEF|\n\nX:2\nT:Two\nK:G\nGABc|\n")
    assert tune_texts(path) == ["%abc-2.1\nZ:someone\n\nX:1\nT:One\nK:C\nCDEF|\n\n",
                                "%abc-2.1\nZ:someone\n\nX:2\nT:Two\nK:G\nGABc|\n"]


# --- --import-legacy never unpickles a file on a guess (issue 20, point 2) ---

def test_import_legacy_of_a_file_that_is_no_npz_says_so_in_one_line(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my tunes: G A B c d e\n")
    done = run_cli("--import-legacy", notes, "-o", tmp_path / "out.npz", cwd=tmp_path)
    assert (done.returncode, done.stderr.splitlines(), done.stdout) == (2, [
        f"melodybox-train: error: {notes}: not an .npz file, so not the seed course's format "
        "(an .npz with a 'train' array); "
        "nothing was read from it"], "")
    assert not (tmp_path / "out.npz").exists()


class Planted:
    """Unpickling this object creates the file ``marker``: proof that a file was unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_import_legacy_never_unpickles_a_pickle_that_is_no_npz(tmp_path):
    import pickle

    marker = tmp_path / "unpickled"
    crafted = tmp_path / "course.npz"  # a raw pickle under an .npz name: np.load(allow_pickle=True) would run it
    crafted.write_bytes(pickle.dumps(Planted(marker)))
    done = run_cli("--import-legacy", crafted, "-o", tmp_path / "out.npz", cwd=tmp_path)
    assert (done.returncode, len(done.stderr.splitlines())) == (2, 1)
    assert "not an .npz file" in done.stderr
    assert not marker.exists()


# --- every file's metre, and long bars cut into bars the model knows (issue 20, point 3) ---

def test_the_report_gives_each_files_metre_and_how_long_bars_were_cut(tmp_path):
    from tests.training_helpers import write_tune

    write_tune(tmp_path / "midi" / "hornpipe.mid", 4, 2, bars=4, seed=1)
    write_tune(tmp_path / "midi" / "jig.mid", 6, 8, bars=4, seed=2)
    write_tune(tmp_path / "midi" / "long.mid", 4, 1, bars=2, seed=3)
    report = tmp_path / "report.jsonl"
    done = run_cli(tmp_path / "midi", "-o", tmp_path / "out.npz", "--report", report, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [(Path(line["file"]).name, line["metres"]) for line in map(json.loads, report.read_text().splitlines())] == [
        ("hornpipe.mid", ["4/2 (cut into 2 bars of 16 steps)"]), ("jig.mid", ["6/8"]),
        ("long.mid", ["4/1 (cut into 4 bars of 16 steps)"])]
    prepared = load_melodies(tmp_path / "out.npz")
    assert prepared.bar_steps.tolist() == [16, 12, 16]


# --- --transpose-into: melodies moved by whole octaves into the range a model knows (issue 20, point 5) ---

def test_transpose_into_moves_melodies_by_octaves_and_the_report_says_which(tmp_path):
    from tests.training_helpers import write_tune

    write_tune(tmp_path / "midi" / "low.mid", 3, 4, bars=4, low=36, seed=11)  # notes 36..47
    write_tune(tmp_path / "midi" / "middle.mid", 4, 4, bars=4, low=60, seed=5)
    report = tmp_path / "report.jsonl"
    done = run_cli(tmp_path / "midi", "-o", tmp_path / "out.npz", "--report", report, "--transpose-into", "G3..A6",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(Path(line["file"]).name, line.get("transposed")) for line in lines] == [
        ("low.mid", ["melody 1 up 2 octaves"]), ("middle.mid", None)]
    assert "octaves   1 moved, 0 left out (melodies; see --report)" in done.stdout.splitlines()
    assert f"octaves   {tmp_path / 'midi' / 'low.mid'}: melody 1 up 2 octaves" in done.stdout.splitlines()
    low, middle = load_melodies(tmp_path / "out.npz").melodies
    assert (low[low < OFF].min(), low[low < OFF].max()) == (36 + 24, 47 + 24)
    assert middle.tolist() == load_melodies_of(tmp_path / "midi" / "middle.mid")


def load_melodies_of(path):
    return [m.tolist() for m in convert_file(path, Settings()).melodies][0]


def test_transpose_into_a_range_that_is_no_range_is_a_usage_error(tmp_path):
    done = run_cli(tmp_path, "-o", tmp_path / "out.npz", "--transpose-into", "55-93", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith(
        "argument --transpose-into: '55-93': give the range as LOW..HIGH, e.g. 55..93 or G3..A6")
