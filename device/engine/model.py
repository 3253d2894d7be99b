"""The step model: one token in, next-token logits out, recurrent state kept here.

A model whose contract names inputs beyond the token (bar position, lookback:
device/core/features.py) gets them from a FeatureTracker that follows the tokens fed
and the bar position; its history is part of the model's state.

Loads ``NAME.tflite`` with its ``NAME.json`` contract (device.core.contract), checks
that the file really has the signature and tensors the contract names, then
steps it with raw ``set_tensor``/``invoke``/``get_tensor`` on tensor indices
resolved once through the signature runner (faster than calling the runner).

The TFLite runtime is imported lazily: ai-edge-litert first, else tflite-runtime.
This module never imports TensorFlow.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from device.core import encoding
from device.core.contract import Contract, ContractError, TensorSpec, load_contract
from device.core.features import FeatureTracker, check_bar_steps
from device.core.stderr import c_stderr_hidden
from device.core.timegrid import DEFAULT_BAR_STEPS

RUNTIME_MODULES = {
    "ai-edge-litert": "ai_edge_litert.interpreter",
    "tflite-runtime": "tflite_runtime.interpreter",
}
INSTALL_HINT = 'install a TFLite runtime with the "device" extra: pip install -e ".[device]"'


class ModelError(ContractError):
    """A model file cannot be used: unreadable by the runtime, or unlike its contract."""


class MissingRuntimeError(ModelError):
    """No TFLite runtime is installed (or the requested one is not)."""


def load_interpreter_class(runtime: str | None = None) -> tuple[str, type]:
    """Return ``(runtime_name, Interpreter class)``.

    ``runtime`` forces "ai-edge-litert" or "tflite-runtime"; None tries them in that order.
    Raises MissingRuntimeError naming the extra to install.
    """
    if runtime is not None and runtime not in RUNTIME_MODULES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {list(RUNTIME_MODULES)}")
    names = [runtime] if runtime else list(RUNTIME_MODULES)
    problems = []
    for name in names:
        try:
            module = importlib.import_module(RUNTIME_MODULES[name])
        except ImportError as error:
            problems.append(f"{name}: {error}")
            continue
        return name, module.Interpreter
    raise MissingRuntimeError(f"no TFLite runtime ({'; '.join(problems)}); {INSTALL_HINT}")


class StepModel:
    """A loaded step model (batch 1). Not thread-safe: step it from one thread.

    Attributes: ``contract`` (device.core.contract.Contract), ``runtime_name``, ``path``, ``bar_steps``.
    """

    def __init__(self, path: str | Path, runtime: str | None = None, num_threads: int = 1,
                 bar_steps: int = DEFAULT_BAR_STEPS):
        """Load ``path`` (.tflite) and its contract; ``num_threads`` >= 1 for the runtime; ``bar_steps``
        (1..32): steps per bar of the music played, 16 for 4/4 in 16th notes.

        Raises ContractError (contract missing/malformed/not matching the file) or
        ModelError (the runtime cannot load the file, or its tensors differ from the contract).
        """
        self.path = Path(path)
        self.bar_steps = check_bar_steps(bar_steps)
        self.contract: Contract = load_contract(self.path)
        self._tracker = FeatureTracker(self.bar_steps) if self.contract.features else None
        self.runtime_name, interpreter_class = load_interpreter_class(runtime)
        try:
            with c_stderr_hidden():  # the runtime's "INFO: Created ... XNNPACK delegate" line
                self._interpreter = interpreter_class(model_path=str(self.path), num_threads=num_threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"{self.path}: {self.runtime_name} cannot load it as a TFLite model ({error})") from None
        self._resolve_tensors()
        self._state = self._zero_state()

    def _resolve_tensors(self) -> None:
        """Check the signature against the contract and cache the tensor indices."""
        signature = self.contract.signature
        signatures = self._interpreter.get_signature_list()
        if signature not in signatures:
            raise ModelError(f"{self.path}: no signature {signature!r} (the file has {sorted(signatures)})")
        runner = self._interpreter.get_signature_runner(signature)
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
        del runner  # it holds a reference that would block invoke()
        states = self.contract.states
        extra = [TensorSpec(f.name, f.shape, f.dtype) for f in self.contract.features]
        want_in = [self.contract.token, *extra] + [TensorSpec(s.input, s.shape, s.dtype) for s in states]
        want_out = [self.contract.logits] + [TensorSpec(s.output, s.shape, s.dtype) for s in states]
        self._check_names("inputs", inputs, want_in)
        self._check_names("outputs", outputs, want_out)
        for spec in want_in:
            self._check_tensor(inputs[spec.name], spec)
        for spec in want_out:
            self._check_tensor(outputs[spec.name], spec)
        main = {d["index"] for d in self._interpreter.get_input_details()}
        if {d["index"] for d in inputs.values()} != main:
            raise ModelError(f"{self.path}: signature {signature!r} is not the model's main graph")
        self._token_index = inputs[self.contract.token.name]["index"]
        self._feature_index = {f.feature: inputs[f.name]["index"] for f in self.contract.features}
        self._logits_index = outputs[self.contract.logits.name]["index"]
        self._state_in = [inputs[s.input]["index"] for s in states]
        self._state_out = [outputs[s.output]["index"] for s in states]

    def _check_names(self, kind: str, found: dict, wanted: list[TensorSpec]) -> None:
        names, expected = sorted(found), sorted(spec.name for spec in wanted)
        if names != expected:
            raise ModelError(
                f"{self.path}: signature {self.contract.signature!r} {kind} are {names}, its contract names {expected}"
            )

    def _check_tensor(self, detail: dict, spec: TensorSpec) -> None:
        shape = tuple(int(n) for n in detail["shape"])
        dtype = np.dtype(detail["dtype"]).name
        if shape != tuple(spec.shape) or dtype != spec.dtype:
            raise ModelError(
                f"{self.path}: tensor {spec.name!r} is {dtype} {list(shape)}, "
                f"its contract says {spec.dtype} {list(spec.shape)}"
            )

    def _zero_state(self) -> tuple[np.ndarray, ...]:
        return tuple(np.zeros(s.shape, dtype=s.dtype) for s in self.contract.states)

    def step(self, token: int, bar_step: int | None = None) -> np.ndarray:
        """Feed one token (0..129), advance the state; return the next-token logits (float32, shape [130]).

        ``bar_step`` (0..bar_steps-1): where in the bar the step whose token is fed lies; None counts on from
        the last call (0 after reset). The first token after reset is the melody's START_TOKEN, which occupies
        no step: the melody's first token is fed at the same bar step. Only models with bar-position inputs
        use it.
        """
        value = encoding.check_token(token)
        interpreter = self._interpreter
        if interpreter is None:
            raise ValueError(f"{self.path}: step() on a closed model")
        if bar_step is not None and not 0 <= bar_step < self.bar_steps:
            raise ValueError(f"bar_step {bar_step} is outside 0..{self.bar_steps - 1}")
        interpreter.set_tensor(self._token_index, np.array([[value]], dtype=np.int32))
        if self._tracker is not None:
            for feature, array in self._tracker.features(value, bar_step).items():
                interpreter.set_tensor(self._feature_index[feature], array)
        for index, array in zip(self._state_in, self._state, strict=True):
            interpreter.set_tensor(index, array)
        interpreter.invoke()
        self._state = tuple(interpreter.get_tensor(index) for index in self._state_out)
        return interpreter.get_tensor(self._logits_index)[0]

    def reset(self) -> None:
        """Zero the recurrent state and forget the lookback history (the state before a melody's START_TOKEN)."""
        self._state = self._zero_state()
        if self._tracker is not None:
            self._tracker.reset()

    def get_state(self) -> tuple[np.ndarray, ...]:
        """A copy of the state: one array per contract state, in contract order, then (models with
        lookback inputs) the lookback history and the bar counters (device.core.features.FeatureTracker)."""
        tracked = self._tracker.get_state() if self._tracker is not None else ()
        return tuple(array.copy() for array in self._state) + tracked

    def set_state(self, state: Sequence[np.ndarray]) -> None:
        """Restore a state from get_state(). Raises ValueError for the wrong count or shapes."""
        specs = self.contract.states
        tracked = 2 if self._tracker is not None else 0
        if len(state) != len(specs) + tracked:
            raise ValueError(f"state has {len(state)} arrays, the model has {len(specs) + tracked}")
        arrays = []
        for spec, array in zip(specs, state, strict=False):
            array = np.asarray(array, dtype=spec.dtype)
            if array.shape != tuple(spec.shape):
                raise ValueError(f"state {spec.input!r} has shape {list(array.shape)}, expected {list(spec.shape)}")
            arrays.append(array.copy())
        if self._tracker is not None:
            self._tracker.set_state(state[len(specs):])
        self._state = tuple(arrays)

    def close(self) -> None:
        """Release the interpreter. Idempotent."""
        self._interpreter = None

    def __enter__(self) -> StepModel:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
