"""Prepared melody files: pickle-free save/load, the seed course's legacy format, and errors."""

import json
from pathlib import Path

import numpy as np
import pytest

from device.core.encoding import ENCODING_VERSION, NO_EVENT, NOTE_OFF
from training.data.dataset import (
    FORMAT_VERSION,
    LEGACY_PICKLE_WARNING,
    DatasetError,
    MelodySet,
    load_legacy,
    load_many,
    load_melodies,
    save_legacy,
    save_melodies,
)

DATA = Path(__file__).parent / "data"
MELODIES = [np.array([60, NO_EVENT, 62, NOTE_OFF], np.int16), np.array([], np.int16), np.array([72, 74], np.int16)]
SOURCES = ["a.mid", "b.mid", "c.mid"]


def as_lists(melody_set):
    return [m.tolist() for m in melody_set.melodies]


def test_save_then_load_gives_the_same_melodies_sources_and_metadata(tmp_path):
    save_melodies(tmp_path / "s.npz", MelodySet(MELODIES, SOURCES, {"settings": {"min_steps": 16}}))
    loaded = load_melodies(tmp_path / "s.npz")
    assert (as_lists(loaded), loaded.sources, loaded.metadata) == (
        [[60, NO_EVENT, 62, NOTE_OFF], [], [72, 74]], SOURCES,
        {"encoding_version": ENCODING_VERSION, "format_version": FORMAT_VERSION, "settings": {"min_steps": 16}})


def test_a_saved_file_opens_with_allow_pickle_false(tmp_path):
    save_melodies(tmp_path / "s.npz", MelodySet(MELODIES, SOURCES))
    with np.load(tmp_path / "s.npz", allow_pickle=False) as data:
        assert (data["tokens"].dtype, data["offsets"].tolist(), data["sources"].tolist()) == (
            np.int16, [0, 4, 4, 6], SOURCES)
        assert json.loads(str(data["metadata"])) == {"encoding_version": ENCODING_VERSION, "format_version": 2}


def test_each_melody_keeps_its_bar_steps_and_bar_offset(tmp_path):
    save_melodies(tmp_path / "s.npz", MelodySet(MELODIES, SOURCES, bar_steps=[12, 16, 6], bar_offset=[11, 0, 3]))
    loaded = load_melodies(tmp_path / "s.npz")
    assert (loaded.bar_steps.dtype, loaded.bar_steps.tolist(), loaded.bar_offset.tolist()) == (
        np.int16, [12, 16, 6], [11, 0, 3])


def test_the_bar_arrays_are_stored_as_int16_under_their_names(tmp_path):
    save_melodies(tmp_path / "s.npz", MelodySet(MELODIES, SOURCES, bar_steps=[12, 16, 6], bar_offset=[11, 0, 3]))
    with np.load(tmp_path / "s.npz", allow_pickle=False) as data:
        assert (data["bar_steps"].dtype, data["bar_offset"].dtype, data["bar_steps"].tolist()) == (
            np.int16, np.int16, [12, 16, 6])


def test_melodies_without_metre_are_four_four_from_a_bar_line():
    melody_set = MelodySet(MELODIES, SOURCES)
    assert (melody_set.bar_steps.tolist(), melody_set.bar_offset.tolist()) == ([16, 16, 16], [0, 0, 0])


def test_a_bar_array_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="bar_offset has 2 values for 3 melodies"):
        MelodySet(MELODIES, SOURCES, bar_offset=[0, 0])


def test_a_file_written_by_the_format_1_code_loads_as_four_four_from_a_bar_line():
    loaded = load_melodies(DATA / "melodies-format1.npz")
    assert (as_lists(loaded), loaded.sources, loaded.bar_steps.tolist(), loaded.bar_offset.tolist()) == (
        [[60, NO_EVENT, 62, NOTE_OFF], [NO_EVENT] * 4 + [67, NO_EVENT, NO_EVENT, NO_EVENT, 69] + [NO_EVENT] * 3],
        ["a.mid", "b.mid"], [16, 16], [0, 0])


def test_a_format_1_file_saved_again_is_format_2_with_the_same_melodies(tmp_path):
    save_melodies(tmp_path / "again.npz", load_melodies(DATA / "melodies-format1.npz"))
    again = load_melodies(tmp_path / "again.npz")
    assert (again.metadata["format_version"], again.metadata["settings"], again.bar_steps.tolist()) == (
        2, {"min_steps": 4}, [16, 16])


def test_a_file_of_a_later_format_is_refused(tmp_path):
    np.savez(tmp_path / "f3.npz", tokens=np.array([60], np.int16), offsets=np.array([0, 1]),
             metadata=np.array(json.dumps({"encoding_version": ENCODING_VERSION, "format_version": 3})))
    with pytest.raises(DatasetError, match="f3.npz: dataset format 3, this code reads formats 1..2"):
        load_melodies(tmp_path / "f3.npz")


def test_a_format_2_file_with_an_offset_outside_its_bar_is_refused(tmp_path):
    np.savez(tmp_path / "bad.npz", tokens=np.array([60], np.int16), offsets=np.array([0, 1]),
             bar_steps=np.array([12], np.int16), bar_offset=np.array([12], np.int16),
             metadata=np.array(json.dumps({"format_version": 2})))
    with pytest.raises(DatasetError, match="bad.npz: bar_steps must be >= 1 and 0 <= bar_offset < bar_steps"):
        load_melodies(tmp_path / "bad.npz")


def test_the_legacy_format_is_refused_without_the_flag(tmp_path):
    save_legacy(tmp_path / "old.npz", MelodySet(MELODIES, SOURCES))
    with pytest.raises(DatasetError, match="legacy pickled format") as raised:
        load_melodies(tmp_path / "old.npz")
    assert LEGACY_PICKLE_WARNING in str(raised.value)


def test_the_legacy_format_loads_with_the_flag(tmp_path):
    save_legacy(tmp_path / "old.npz", MelodySet(MELODIES, SOURCES))
    loaded = load_melodies(tmp_path / "old.npz", allow_legacy_pickle=True)
    assert (as_lists(loaded), loaded.sources) == (as_lists(MelodySet(MELODIES, SOURCES)),
                                                  ["old.npz#0", "old.npz#1", "old.npz#2"])


def test_legacy_write_stores_an_object_array_under_train(tmp_path):
    save_legacy(tmp_path / "old.npz", MelodySet(MELODIES, SOURCES))
    with np.load(tmp_path / "old.npz", allow_pickle=True) as data:
        assert data.files == ["train"] and data["train"].dtype == object
        assert [s.tolist() for s in data["train"]] == as_lists(MelodySet(MELODIES, SOURCES))


def test_legacy_tokens_outside_the_vocabulary_are_rejected(tmp_path):
    save_legacy(tmp_path / "old.npz", MelodySet([np.array([60, 130], np.int16)], ["x"]))
    with pytest.raises(DatasetError, match="melody 0 has tokens outside 0..129"):
        load_legacy(tmp_path / "old.npz")


def test_load_many_concatenates_and_records_each_file(tmp_path):
    save_melodies(tmp_path / "1.npz", MelodySet(MELODIES[:1], SOURCES[:1], bar_steps=[12], bar_offset=[3]))
    save_melodies(tmp_path / "2.npz", MelodySet(MELODIES[2:], SOURCES[2:]))
    both = load_many([tmp_path / "1.npz", tmp_path / "2.npz"])
    assert (as_lists(both), both.sources, [f["steps"] for f in both.metadata["files"]]) == (
        [[60, NO_EVENT, 62, NOTE_OFF], [72, 74]], ["a.mid", "c.mid"], [4, 2])
    assert (both.bar_steps.tolist(), both.bar_offset.tolist()) == ([12, 16], [3, 0])


def test_a_file_of_another_encoding_version_is_refused(tmp_path):
    np.savez(tmp_path / "v9.npz", tokens=np.array([60], np.int16), offsets=np.array([0, 1]),
             metadata=np.array(json.dumps({"encoding_version": 9})))
    with pytest.raises(DatasetError, match="encoding version 9"):
        load_melodies(tmp_path / "v9.npz")


def test_offsets_that_do_not_partition_the_tokens_are_refused(tmp_path):
    np.savez(tmp_path / "bad.npz", tokens=np.array([60, 62], np.int16), offsets=np.array([0, 3]))
    with pytest.raises(DatasetError, match="offsets do not partition"):
        load_melodies(tmp_path / "bad.npz")


def test_tokens_outside_the_vocabulary_are_refused(tmp_path):
    np.savez(tmp_path / "bad.npz", tokens=np.array([60, 200], np.int16), offsets=np.array([0, 2]))
    with pytest.raises(DatasetError, match="tokens outside 0..129"):
        load_melodies(tmp_path / "bad.npz")


def test_a_file_that_is_not_an_npz_is_refused_with_its_name(tmp_path):
    (tmp_path / "x.npz").write_text("hello")
    with pytest.raises(DatasetError, match="x.npz"):
        load_melodies(tmp_path / "x.npz")


def test_an_npz_without_melody_arrays_is_refused_naming_its_keys(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(DatasetError, match=r"no 'tokens'/'offsets' arrays \(keys: \['weights'\]\)"):
        load_melodies(tmp_path / "other.npz")


def test_the_bundled_corpus_loads_without_pickle_keeps_its_settings_and_starts_on_bar_lines():
    from training.corpus import build

    corpus = load_melodies(build.DEFAULT_OUT)
    low, high = corpus.metadata["settings"]["min_steps"], corpus.metadata["settings"]["max_steps"]
    assert len(corpus) > 0 and len(corpus) == len(corpus.sources)
    assert all(low <= len(m) <= high for m in corpus.melodies)
    first_notes = [next(i for i, token in enumerate(m.tolist()) if token < NOTE_OFF) for m in corpus.melodies]
    assert all(first < bar for first, bar in zip(first_notes, corpus.bar_steps, strict=True))
    assert set(corpus.bar_offset.tolist()) == {0}
