"""Write (and re-read) the device.core.contract.Contract for an exported .tflite."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from device.core.contract import Contract, InputSpec, StateSpec, TensorSpec, contract_path_for, load_contract, sha256_of
from training.fit.runs import Run, read_json, shown_path

REPO = Path(__file__).parents[2]


def code_version() -> str:
    """``git describe``-like: the commit, with ``-dirty`` if training/ or device/ has uncommitted changes."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO)

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--", "training", "device").stdout.strip()
    return head.stdout.strip() + ("-dirty" if dirty else "")


def training_data(run: Run) -> dict:
    """Files (with SHA-256), melody and token counts, and the split sizes."""
    split = read_json(run.path / "split.json")
    side = {name: run.side(name) for name in ("train", "validation")}
    files = [{**f, "file": shown_path(f["file"]) if Path(f["file"]).is_absolute() else f["file"]}
             for f in split["data"]["files"]]  # split.json's are shown already (a relative one: the repository's)
    return {
        **split["data"],
        "files": files,
        "split": {name: {"melodies": len(m), "tokens": int(sum(len(x) for x in m))} for name, m in side.items()},
        "split_seed": split["seed"],
        "validation_fraction": split["validation_fraction"],
    }


def widened(pitches: tuple[int, int], semitones: int) -> tuple[int, int]:
    """A pitch range widened by the training transposition, kept within 0..127."""
    return max(0, pitches[0] - semitones), min(127, pitches[1] + semitones)


def write_contract(model_path: Path, run: Run, tensors: dict, precision: str, runtimes: list[str], parity: dict,
                   metrics: dict, pitches: tuple[int, int], command: str, notes: str) -> Contract:
    """Build the contract for ``model_path``, save it beside the model, and check it loads."""
    config_json = read_json(run.path / "config.json")
    seen = widened(pitches, run.train.max_transpose)
    contract = Contract(
        token=TensorSpec(tensors["token"]["name"], tuple(tensors["token"]["shape"]), tensors["token"]["dtype"]),
        logits=TensorSpec(tensors["logits"]["name"], tuple(tensors["logits"]["shape"]), tensors["logits"]["dtype"]),
        states=tuple(StateSpec(s["input"], s["output"], tuple(s["shape"]), s["dtype"]) for s in tensors["states"]),
        features=tuple(InputSpec(f["name"], tuple(f["shape"]), f["dtype"], f["feature"])
                       for f in tensors.get("features", [])),
        precision=precision,
        pitch_range=seen,
        tflite_sha256=sha256_of(model_path),
        tflite_file=model_path.name,
        tflite_bytes=model_path.stat().st_size,
        runtimes=tuple(runtimes),
        training_data={**training_data(run), "pitch_range_in_files": list(pitches),
                       "pitch_range_note": f"pitch_range is the training split's range widened by the random "
                                           f"transposition of +-{run.train.max_transpose} semitones"},
        config={"model": config_json["model"],
                "train": {**config_json["train"], "data": [shown_path(p) for p in config_json["train"]["data"]]},
                **({"base": config_json["base"]} if config_json.get("base") else {})},
        metrics=metrics,
        parity=parity,
        provenance={"command": command, "train_command": config_json.get("command", ""),
                    "resumed_with": config_json.get("resumed", []),
                    "code_version": code_version(), "created": datetime.now(UTC).isoformat(timespec="seconds"),
                    "run": str(run.path)},
        notes=notes,
    )
    contract.save(contract_path_for(model_path))
    return load_contract(model_path)
