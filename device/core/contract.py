"""The JSON contract that ships beside every .tflite model.

The exporter (training/export.py) builds a ``Contract`` and writes it with
``save``; the device reads it with ``load_contract`` and refuses a model whose
contract does not match ``device.core.encoding``. Nothing is ever guessed from
tensor shapes: the contract names every tensor the device touches.

Format (``format_version`` 2; version 1, without "inputs", is a token-only model and still
loads), all keys required unless marked optional::

    {
      "format": "melodybox-model", "format_version": 2,
      "encoding": {"version": 1, "vocab_size": 130, "note_off": 128, "no_event": 129,
                   "steps_per_quarter": 4, "pitch_range": [lo, hi]},
      "signature": "step",                       # TFLite signature key
      "tensors": {
        "token":  {"name": "token",  "shape": [1, 1],   "dtype": "int32"},
        "inputs": [{"name": "token", "shape": [1, 1], "dtype": "int32", "feature": "token"},
                   {"name": "lookback", "shape": [1, 4], "dtype": "int32", "feature": "lookback"}, ...],
        "logits": {"name": "logits", "shape": [1, 130], "dtype": "float32"},
        "states": [{"input": "h1", "output": "h1_out", "shape": [1, 256], "dtype": "float32"}, ...]
      },
      "precision": "float32" | "float16" | "int8",
      "runtimes": ["ai-edge-litert", "tflite-runtime"],   # runtimes it was checked on
      "tflite": {"file": "default.tflite", "sha256": "...", "bytes": 123},
      "training_data": {...}, "config": {...}, "metrics": {...}, "parity": {...},
      "provenance": {"command": "...", "code_version": "...", "created": "ISO-8601"},
      "notes": "free text (optional)"
    }
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from device.core import encoding, features, timegrid

# The models shipped with the box, found from any folder: models/ beside the device package (a checkout or an
# editable install). The Pi install copies the default elsewhere and says so in its box.toml.
MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED_MODEL = MODELS / "default.tflite"


def model_file(name: str, suffix: str = ".tflite", models: Path = MODELS) -> Path:
    """The model a command line names. A bare name (no folder, no suffix, and no such file here), such as
    ``mine``, is the model of that name in ``models``: ``models/mine.tflite`` (``suffix``), the file
    ``melodybox-train export --name mine`` writes; anything else is the path as given."""
    path = Path(name)
    if path.suffix or len(path.parts) != 1 or path.exists():
        return path
    return models / f"{name}{suffix}"

FORMAT = "melodybox-model"
FORMAT_VERSION = 2  # written when a model has inputs beyond the token; a token-only model is written as 1
READ_VERSIONS = (1, 2)
PRECISIONS = ("float32", "float16", "int8")
RUNTIMES = ("ai-edge-litert", "tflite-runtime")


class ContractError(ValueError):
    """A model or its contract is missing, malformed, or does not match this device."""


@dataclass(frozen=True)
class TensorSpec:
    """A named tensor of the step signature."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class InputSpec:
    """A model input beyond the token: tensor ``name`` holds ``feature`` (a name in device.core.features.INPUTS)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    feature: str


@dataclass(frozen=True)
class StateSpec:
    """One recurrent state: fed in as ``input``, read back as ``output`` after each step."""

    input: str
    output: str
    shape: tuple[int, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class Contract:
    """Everything the device needs to know about a model, and where it came from."""

    token: TensorSpec
    logits: TensorSpec
    states: tuple[StateSpec, ...]
    precision: str
    pitch_range: tuple[int, int]
    tflite_sha256: str
    tflite_file: str
    tflite_bytes: int
    signature: str = "step"
    runtimes: tuple[str, ...] = RUNTIMES
    training_data: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    features: tuple[InputSpec, ...] = ()

    @property
    def inputs(self) -> tuple[InputSpec, ...]:
        """Every input but the states, the token first, each with the feature it holds."""
        return (InputSpec(self.token.name, self.token.shape, self.token.dtype, "token"), *self.features)

    def to_json(self) -> dict[str, Any]:
        """The contract as the JSON object described in this module's docstring."""
        tensors = {
            "token": _plain(asdict(self.token)),
            "logits": _plain(asdict(self.logits)),
            "states": [_plain(asdict(s)) for s in self.states],
        }
        if self.features:
            tensors["inputs"] = [_plain(asdict(spec)) for spec in self.inputs]
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION if self.features else 1,
            "encoding": {
                "version": encoding.ENCODING_VERSION,
                "vocab_size": encoding.VOCAB_SIZE,
                "note_off": encoding.NOTE_OFF,
                "no_event": encoding.NO_EVENT,
                "steps_per_quarter": timegrid.STEPS_PER_QUARTER,
                "pitch_range": list(self.pitch_range),
            },
            "signature": self.signature,
            "tensors": tensors,
            "precision": self.precision,
            "runtimes": list(self.runtimes),
            "tflite": {"file": self.tflite_file, "sha256": self.tflite_sha256, "bytes": self.tflite_bytes},
            "training_data": self.training_data,
            "config": self.config,
            "metrics": self.metrics,
            "parity": self.parity,
            "provenance": self.provenance,
            "notes": self.notes,
        }

    def save(self, path: str | Path) -> None:
        """Write the contract as indented JSON."""
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively, so JSON round-trips compare equal."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def contract_path_for(model_path: str | Path) -> Path:
    """The contract that belongs to a model: same name, ``.json``."""
    return Path(model_path).with_suffix(".json")


def load_contract(model_path: str | Path, check_file: bool = True) -> Contract:
    """Read and check the contract beside ``model_path``.

    Checks the format, the encoding against ``device.core.encoding``, the tensor
    specs, and (``check_file``) that the .tflite exists with the recorded size
    and SHA-256. Raises ContractError naming the file and what is wrong.
    """
    model_path = Path(model_path)
    path = contract_path_for(model_path)
    if check_file and not model_path.is_file():
        raise ContractError(f"{model_path}: model file not found")
    if not path.is_file():
        raise ContractError(f"{path}: contract not found (every .tflite needs its .json beside it)")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ContractError(f"{path}: not readable JSON ({error})") from error
    try:
        contract = _from_json(data)
    except ContractError as error:
        raise ContractError(f"{path}: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise ContractError(f"{path}: malformed contract ({type(error).__name__}: {error})") from None
    if check_file:
        _check_file(model_path, contract)
    return contract


def _from_json(data: Any) -> Contract:
    if not isinstance(data, dict):
        raise ContractError("the contract is not a JSON object")
    if data.get("format") != FORMAT:
        raise ContractError(f"'format' is {data.get('format')!r}, expected {FORMAT!r}")
    if data.get("format_version") not in READ_VERSIONS:
        raise ContractError(f"'format_version' is {data.get('format_version')!r}, this device reads "
                            f"{' or '.join(map(str, READ_VERSIONS))}")
    enc = data["encoding"]
    expected = {
        "version": encoding.ENCODING_VERSION,
        "vocab_size": encoding.VOCAB_SIZE,
        "note_off": encoding.NOTE_OFF,
        "no_event": encoding.NO_EVENT,
        "steps_per_quarter": timegrid.STEPS_PER_QUARTER,
    }
    for key, value in expected.items():
        if enc.get(key) != value:
            raise ContractError(f"'encoding.{key}' is {enc.get(key)!r}, this device's encoding has {value!r}")
    low, high = (int(v) for v in enc["pitch_range"])
    if not 0 <= low <= high <= 127:
        raise ContractError(f"'encoding.pitch_range' {[low, high]} is not within 0..127")
    tensors = data["tensors"]
    token = TensorSpec(tensors["token"]["name"], tuple(tensors["token"]["shape"]), tensors["token"]["dtype"])
    logits = TensorSpec(tensors["logits"]["name"], tuple(tensors["logits"]["shape"]), tensors["logits"]["dtype"])
    if token.shape != (1, 1):
        raise ContractError(f"'tensors.token.shape' is {list(token.shape)}, expected [1, 1]")
    if logits.shape != (1, encoding.VOCAB_SIZE):
        raise ContractError(f"'tensors.logits.shape' is {list(logits.shape)}, expected [1, {encoding.VOCAB_SIZE}]")
    states = tuple(
        StateSpec(s["input"], s["output"], tuple(s["shape"]), s.get("dtype", "float32")) for s in tensors["states"]
    )
    if not states:
        raise ContractError("'tensors.states' is empty: a step model needs its recurrent state")
    extra = _features(tensors.get("inputs", []), token)
    precision = data["precision"]
    if precision not in PRECISIONS:
        raise ContractError(f"'precision' is {precision!r}, expected one of {list(PRECISIONS)}")
    tflite = data["tflite"]
    return Contract(
        token=token,
        logits=logits,
        states=states,
        precision=precision,
        pitch_range=(low, high),
        tflite_sha256=tflite["sha256"],
        tflite_file=tflite["file"],
        tflite_bytes=int(tflite["bytes"]),
        signature=data.get("signature", "step"),
        runtimes=tuple(data.get("runtimes", RUNTIMES)),
        training_data=data.get("training_data", {}),
        config=data.get("config", {}),
        metrics=data.get("metrics", {}),
        parity=data.get("parity", {}),
        provenance=data.get("provenance", {}),
        notes=data.get("notes", ""),
        features=extra,
    )


def _features(inputs: list, token: TensorSpec) -> tuple[InputSpec, ...]:
    """The inputs beyond the token; ContractError for one this device cannot feed."""
    specs = tuple(InputSpec(i["name"], tuple(i["shape"]), i["dtype"], i["feature"]) for i in inputs)
    if not specs:
        return ()
    if specs[0] != InputSpec(token.name, token.shape, token.dtype, "token"):
        raise ContractError(f"'tensors.inputs' must begin with the token {token.name!r} (feature 'token')")
    for spec in specs[1:]:
        if spec.feature not in features.FEATURES:
            raise ContractError(f"input {spec.name!r} holds feature {spec.feature!r}, which this box cannot compute "
                                f"(it can feed {list(features.FEATURES)})")
        shape, dtype, holds = features.INPUTS[spec.feature]
        if spec.shape != (1, *shape) or spec.dtype != dtype:
            raise ContractError(f"input {spec.name!r} ({spec.feature}) is {spec.dtype} {list(spec.shape)}, this box "
                                f"feeds {dtype} {[1, *shape]} ({holds}); retrain the model with this version")
    names = [spec.feature for spec in specs[1:]]
    if len(set(names)) != len(names):
        raise ContractError(f"'tensors.inputs' names a feature twice: {names}")
    return specs[1:]


def _check_file(model_path: Path, contract: Contract) -> None:
    if not model_path.is_file():
        raise ContractError(f"{model_path}: model file not found")
    size = model_path.stat().st_size
    if size != contract.tflite_bytes:
        raise ContractError(
            f"{model_path}: {size} bytes, but its contract records {contract.tflite_bytes} "
            "(truncated, or a different model than the contract describes)"
        )
    digest = sha256_of(model_path)
    if digest != contract.tflite_sha256:
        raise ContractError(
            f"{model_path}: SHA-256 {digest[:12]}… does not match its contract's {contract.tflite_sha256[:12]}…"
        )
