"""Prepared melody files (.npz): save, load, and the seed course's legacy format.

Format (no pickle; loads with ``np.load(path, allow_pickle=False)``):

    tokens    int16 [total_steps]     every melody's tokens, concatenated
    offsets   int64 [melodies + 1]    melody i is tokens[offsets[i]:offsets[i+1]]
    sources   str   [melodies]        the file each melody came from (unicode array)
    metadata  str   []                JSON: encoding version, settings, counts

The seed course's format is an .npz whose key ``train`` holds an object array
of int16 sequences. Loading it needs pickle, which can run arbitrary code
from a crafted file, so it is read only when asked for explicitly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device import encoding

LEGACY_PICKLE_WARNING = (
    "the seed course's .npz stores melodies as a pickled object array; unpickling "
    "a file can run arbitrary code, so load it only if you trust where it came from"
)


class DatasetError(ValueError):
    """A prepared file that is missing, malformed or of another encoding."""


@dataclass
class MelodySet:
    """Melodies (int16 token arrays), the source file of each, and metadata."""

    melodies: list[np.ndarray]
    sources: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)

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
    metadata = {"encoding_version": encoding.ENCODING_VERSION, **melody_set.metadata}
    np.savez_compressed(
        path,
        tokens=tokens,
        offsets=offsets,
        sources=np.array(melody_set.sources, dtype=str),
        metadata=np.array(json.dumps(metadata, sort_keys=True)),
    )


def load_melodies(path: str | Path, allow_legacy_pickle: bool = False) -> MelodySet:
    """Read a prepared .npz; the legacy pickled format only with ``allow_legacy_pickle``.

    Raises DatasetError naming the file and the problem.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            if {"tokens", "offsets"} <= keys:
                return _from_arrays(path, data)
    except ValueError as error:
        if "pickle" not in str(error).lower():
            raise DatasetError(f"{path}: {error}") from None
        keys = {"train"}
    except (OSError, EOFError) as error:
        raise DatasetError(f"{path}: not a readable .npz ({error})") from None
    if "train" in keys:
        if not allow_legacy_pickle:
            raise DatasetError(f"{path}: legacy pickled format; {LEGACY_PICKLE_WARNING} (pass the legacy flag)")
        return load_legacy(path)
    raise DatasetError(f"{path}: no 'tokens'/'offsets' arrays (keys: {sorted(keys)})")


def _from_arrays(path: Path, data) -> MelodySet:
    tokens, offsets = data["tokens"], data["offsets"]
    metadata = json.loads(str(data["metadata"])) if "metadata" in data.files else {}
    version = metadata.get("encoding_version", encoding.ENCODING_VERSION)
    if version != encoding.ENCODING_VERSION:
        raise DatasetError(f"{path}: encoding version {version}, this code uses {encoding.ENCODING_VERSION}")
    if len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(tokens) or np.any(np.diff(offsets) < 0):
        raise DatasetError(f"{path}: offsets do not partition the tokens")
    if len(tokens) and (tokens.min() < 0 or tokens.max() >= encoding.VOCAB_SIZE):
        raise DatasetError(f"{path}: tokens outside 0..{encoding.VOCAB_SIZE - 1}")
    melodies = [tokens[a:b].astype(np.int16) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    sources = [str(s) for s in data["sources"]] if "sources" in data.files else [str(path)] * len(melodies)
    return MelodySet(melodies, sources, metadata)


def load_legacy(path: str | Path) -> MelodySet:
    """Read the seed course's pickled format (key ``train``). Trust the file first."""
    path = Path(path)
    with np.load(path, allow_pickle=True) as data:
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
    melodies: list[np.ndarray] = []
    sources: list[str] = []
    files = []
    for path in paths:
        part = load_melodies(path, allow_legacy_pickle)
        melodies += part.melodies
        sources += part.sources
        files.append({"file": str(path), "melodies": len(part), "steps": part.steps})
    return MelodySet(melodies, sources, {"files": files})
