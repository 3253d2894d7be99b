"""Prepared melody files (.npz): save, load, and the seed course's legacy format.

Format 2 (no pickle; loads with ``np.load(path, allow_pickle=False)``):

    tokens      int16 [total_steps]   every melody's tokens, concatenated
    offsets     int64 [melodies + 1]  melody i is tokens[offsets[i]:offsets[i+1]]
    bar_steps   int16 [melodies]      steps (16ths) in a bar of melody i: 16 for 4/4, 12 for 3/4 or 6/8
    bar_offset  int16 [melodies]      the step of the bar melody i's first token falls on (0: on the bar line)
    sources     str   [melodies]      the file each melody came from (unicode array)
    metadata    str   []              JSON: format and encoding versions, settings, counts

Format 1 files (no bar arrays, no ``format_version``) still load, as 4/4 from a bar line (16 and 0).

The seed course's format is an .npz whose key ``train`` holds an object array
of int16 sequences. Loading it needs pickle, which can run arbitrary code
from a crafted file, so it is read only when asked for explicitly. A file is never unpickled on a guess: one
that is not an .npz (a zip of arrays) at all is refused before numpy reads it.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device.core import encoding
from device.core.timegrid import DEFAULT_BAR_STEPS

FORMAT_VERSION = 2  # 2 added bar_steps and bar_offset
DEFAULT_BAR_OFFSET = 0  # a format-1 file's melodies are read as 4/4 (DEFAULT_BAR_STEPS) from a bar line
ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip: how every .npz starts
NOT_PREPARED = ("this is not a prepared dataset: run prepare on your MIDI files "
                "(`melodybox-train prepare FOLDER -o mine.npz`)")
LEGACY_PICKLE_WARNING = (
    "the seed course's .npz stores melodies as a pickled object array; unpickling "
    "a file can run arbitrary code, so load it only if you trust where it came from"
)


class DatasetError(ValueError):
    """A prepared file that is missing, malformed or of another encoding."""


@dataclass
class MelodySet:
    """Melodies (int16 token arrays), the source file of each, metadata, and each melody's metre.

    ``bar_steps`` and ``bar_offset`` (int16 arrays, one value per melody, see the format above) default to
    16 and 0 for every melody.
    """

    melodies: list[np.ndarray]
    sources: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)
    bar_steps: np.ndarray | None = None
    bar_offset: np.ndarray | None = None

    def __post_init__(self) -> None:
        count = len(self.melodies)
        for name, default in (("bar_steps", DEFAULT_BAR_STEPS), ("bar_offset", DEFAULT_BAR_OFFSET)):
            value = getattr(self, name)
            array = np.full(count, default, np.int16) if value is None else np.asarray(value, dtype=np.int16)
            if array.shape != (count,):
                raise ValueError(f"{name} has {array.size} values for {count} melodies")
            setattr(self, name, array)

    def __len__(self) -> int:
        return len(self.melodies)

    @property
    def steps(self) -> int:
        """Total tokens over all melodies."""
        return int(sum(len(m) for m in self.melodies))


def save_melodies(path: str | Path, melody_set: MelodySet) -> None:
    """Write a MelodySet in the pickle-free format above."""
    melodies = [np.asarray(m, dtype=np.int16) for m in melody_set.melodies]
    if len(melodies) != len(melody_set.sources):
        raise ValueError(f"{len(melodies)} melodies but {len(melody_set.sources)} sources")
    offsets = np.zeros(len(melodies) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(m) for m in melodies])
    tokens = np.concatenate(melodies) if melodies else np.zeros(0, dtype=np.int16)
    metadata = {**melody_set.metadata, "encoding_version": encoding.ENCODING_VERSION, "format_version": FORMAT_VERSION}
    np.savez_compressed(
        path,
        tokens=tokens,
        offsets=offsets,
        bar_steps=melody_set.bar_steps,
        bar_offset=melody_set.bar_offset,
        sources=np.array(melody_set.sources, dtype=str),
        metadata=np.array(json.dumps(metadata, sort_keys=True)),
    )


def is_npz(path: Path) -> bool:
    """True when ``path`` starts as a zip does (every .npz is one); reads 4 bytes, never the arrays."""
    with Path(path).open("rb") as file:
        return file.read(4) in ZIP_STARTS


def npz_keys(path: Path) -> set[str]:
    """The array names in an .npz, read without loading any array (DatasetError when it is no .npz at all)."""
    path = Path(path)
    try:
        if not is_npz(path):
            raise DatasetError(f"{path}: {NOT_PREPARED}")
        with np.load(path, allow_pickle=False) as data:
            return set(data.files)
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise DatasetError(f"{path}: not a readable .npz ({error})") from None


def load_melodies(path: str | Path, allow_legacy_pickle: bool = False) -> MelodySet:
    """Read a prepared .npz; the legacy pickled format only with ``allow_legacy_pickle``.

    Raises DatasetError naming the file and the problem; a file that is not an .npz is never handed to numpy.
    """
    path = Path(path)
    keys = npz_keys(path)
    if {"tokens", "offsets"} <= keys:
        try:
            with np.load(path, allow_pickle=False) as data:
                return _from_arrays(path, data)
        except ValueError as error:  # e.g. an object (pickled) array among them: never loaded here
            raise DatasetError(f"{path}: {error}") from None
    if "train" in keys:
        if not allow_legacy_pickle:
            raise DatasetError(f"{path}: legacy pickled format; {LEGACY_PICKLE_WARNING} (pass the legacy flag)")
        return load_legacy(path)
    raise DatasetError(f"{path}: no 'tokens'/'offsets' arrays (keys: {sorted(keys)}): {NOT_PREPARED}")


def _from_arrays(path: Path, data) -> MelodySet:
    tokens, offsets = data["tokens"], data["offsets"]
    metadata = json.loads(str(data["metadata"])) if "metadata" in data.files else {}
    version = metadata.get("encoding_version", encoding.ENCODING_VERSION)
    if version != encoding.ENCODING_VERSION:
        raise DatasetError(f"{path}: encoding version {version}, this code uses {encoding.ENCODING_VERSION}")
    form = metadata.get("format_version", 1)
    if not isinstance(form, int) or not 1 <= form <= FORMAT_VERSION:
        raise DatasetError(f"{path}: dataset format {form}, this code reads formats 1..{FORMAT_VERSION}")
    if len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(tokens) or np.any(np.diff(offsets) < 0):
        raise DatasetError(f"{path}: offsets do not partition the tokens")
    if len(tokens) and (tokens.min() < 0 or tokens.max() >= encoding.VOCAB_SIZE):
        raise DatasetError(f"{path}: tokens outside 0..{encoding.VOCAB_SIZE - 1}")
    melodies = [tokens[a:b].astype(np.int16) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    sources = [str(s) for s in data["sources"]] if "sources" in data.files else [str(path)] * len(melodies)
    bars = _bar_arrays(path, data, len(melodies)) if form >= 2 else (None, None)
    return MelodySet(melodies, sources, metadata, *bars)


def _bar_arrays(path: Path, data, count: int) -> tuple[np.ndarray, np.ndarray]:
    """bar_steps and bar_offset of a format-2 file, checked: one per melody, 0 <= offset < steps."""
    if not {"bar_steps", "bar_offset"} <= set(data.files):
        raise DatasetError(f"{path}: format 2 without bar_steps/bar_offset arrays")
    steps, offset = data["bar_steps"], data["bar_offset"]
    if steps.shape != (count,) or offset.shape != (count,):
        raise DatasetError(f"{path}: bar_steps/bar_offset need one value per melody ({count})")
    if count and (steps.min() < 1 or offset.min() < 0 or np.any(offset >= steps)):
        raise DatasetError(f"{path}: bar_steps must be >= 1 and 0 <= bar_offset < bar_steps")
    return steps.astype(np.int16), offset.astype(np.int16)


def check_legacy(path: str | Path) -> None:
    """DatasetError unless ``path`` looks like the seed course's format (an .npz with a ``train`` array), found
    without unpickling anything: what to say before the pickle warning."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if not is_npz(path):
        raise DatasetError(f"{path}: not an .npz file, so not the seed course's format (an .npz with a 'train' "
                           "array); nothing was read from it")
    keys = npz_keys(path)
    if "train" not in keys:
        raise DatasetError(f"{path}: an .npz without a 'train' array (keys: {sorted(keys)}), so not the seed "
                           "course's format")


def load_legacy(path: str | Path) -> MelodySet:
    """Read the seed course's pickled format (key ``train``). Trust the file first."""
    path = Path(path)
    check_legacy(path)
    with np.load(path, allow_pickle=True) as data:  # an .npz: only its 'train' array is unpickled, as asked
        sequences = data["train"]
    melodies = [np.asarray(s, dtype=np.int16) for s in sequences]
    for index, melody in enumerate(melodies):
        if len(melody) and (melody.min() < 0 or melody.max() >= encoding.VOCAB_SIZE):
            raise DatasetError(f"{path}: melody {index} has tokens outside 0..{encoding.VOCAB_SIZE - 1}")
    return MelodySet(melodies, [f"{path.name}#{i}" for i in range(len(melodies))], {"imported_from": "legacy"})


def save_legacy(path: str | Path, melody_set: MelodySet) -> None:
    """Write the seed course's format (key ``train``: object array of int16 sequences)."""
    train = np.empty(len(melody_set.melodies), dtype=object)
    for index, melody in enumerate(melody_set.melodies):
        train[index] = np.asarray(melody, dtype=np.int16)
    np.savez_compressed(path, train=train)


def load_many(paths: list[str | Path], allow_legacy_pickle: bool = False) -> MelodySet:
    """Load and concatenate several prepared files; metadata records each file."""
    parts = [load_melodies(path, allow_legacy_pickle) for path in paths]
    files = [{"file": str(path), "melodies": len(part), "steps": part.steps} for path, part in zip(paths, parts,
                                                                                                  strict=True)]
    return MelodySet([m for p in parts for m in p.melodies], [s for p in parts for s in p.sources], {"files": files},
                     _joined([p.bar_steps for p in parts]), _joined([p.bar_offset for p in parts]))


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays).astype(np.int16) if arrays else np.zeros(0, np.int16)
