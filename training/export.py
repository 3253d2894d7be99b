"""`melodybox-train export`: a run's best weights -> NAME.tflite + NAME.json (the contract).

Recipe: keras.export.ExportArchive with a fixed-shape
endpoint "step" (token int32 [1, 1], the feature inputs of a lookback model
[1, ...] as device.core.features.INPUTS names them, h/c float32 [1, units] per layer), then
TFLiteConverter.from_saved_model(..., signature_keys=["step"]) with builtin
ops only. The result is checked before anything is written: no Flex/custom op
and no variable op (VAR_HANDLE & co mean unfrozen weights: NaN outputs), the
signature names every tensor the contract names, and the .tflite stepped token
by token reproduces the Keras sequence model on validation melodies. Then it is
stepped again in each TFLite runtime in its own process (training/evaluation/runtime_check.py).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter  # not tf.lite.Interpreter: deprecated, it warns on every use

from device.core import features
from training.data.windows import metres
from training.evaluation.measure import record_measurements
from training.evaluation.parity import ParityError, keras_reference, parity_check, runtime_pythons
from training.fit.contract_writer import write_contract
from training.fit.finetune import weights_path_for
from training.fit.model import LOGITS_NAME, TOKEN_NAME, ModelShape, build_models, state_names
from training.fit.runs import RunError, load_run, pitch_range, read_json

PRECISIONS = ("float32", "float16", "int8")
FORBIDDEN_OPS = ("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE", "CUSTOM", "DELEGATE")
DEFAULT_PRECISION = "float32"
PRECISION_NOTES = {
    "float32": "float32: parity with Keras within max |dlogit| < 1e-4 in every runtime; a step takes far less "
               "than the 125 ms of a 16th note at 120 bpm, so the smaller float16/int8 files buy nothing audible "
               "(their speed and agreement: BENCHMARKS.md, 'Model step latency').",
    "float16": "float16 weights: half the file size; dequantised to float32 at load, so speed equals float32.",
    "int8": "dynamic-range int8 weights, per-tensor for dense layers (tflite-runtime 2.14 rejects per-channel): "
            "a quarter of the size; top-1 agreement and KL against float32 are in 'parity'.",
}


class ExportError(RuntimeError):
    """The conversion produced a model that must not ship."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, type=Path, help="run folder written by `melodybox-train train`")
    parser.add_argument("--name", required=True, help="model name: writes NAME.tflite and NAME.json")
    parser.add_argument("--out", type=Path, default=Path("models"), help="output folder (default %(default)s)")
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_PRECISION,
                        help="weights: float32, float16, or dynamic-range int8 (default %(default)s)")
    parser.add_argument("--parity-steps", type=int, default=2000,
                        help="validation tokens stepped through the .tflite for parity (default %(default)s)")
    parser.add_argument("--min-agreement", type=float, default=0.99,
                        help="least top-1 agreement with Keras a quantised model needs (default %(default)s)")


def saved_model(step_model, shape: ModelShape, folder: Path) -> None:
    """Write the step model as a SavedModel with one fixed-shape endpoint "step"."""
    import keras  # lazy: TensorFlow and Keras take over a second to import; --help never needs them
    import tensorflow as tf  # lazy: as keras

    specs = [tf.TensorSpec([1, 1], tf.int32, name=TOKEN_NAME)]
    for name in shape.feature_names:
        per_step, dtype, _ = features.INPUTS[name]
        specs.append(tf.TensorSpec([1, *per_step], tf.as_dtype(dtype), name=name))
    for layer in range(1, shape.layers + 1):
        h_name, c_name, _, _ = state_names(layer)
        specs += [tf.TensorSpec([1, shape.units], tf.float32, name=h_name),
                  tf.TensorSpec([1, shape.units], tf.float32, name=c_name)]
    names = [spec.name for spec in specs]
    archive = keras.export.ExportArchive()
    archive.track(step_model)
    archive.add_endpoint("step", lambda *args: step_model(dict(zip(names, args, strict=True))), input_signature=specs)
    archive.write_out(str(folder), verbose=False)


def convert(folder: Path, precision: str) -> bytes:
    """SavedModel -> .tflite bytes with builtin ops only, at ``precision``."""
    import tensorflow as tf  # lazy: TensorFlow takes over a second to import; --help never needs it
    from tensorflow.lite.python.convert_phase import ConverterError  # lazy: part of TensorFlow

    converter = tf.lite.TFLiteConverter.from_saved_model(str(folder), signature_keys=["step"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    try:
        return converter.convert()
    except ConverterError as error:  # e.g. an op that would need Flex (Select TF ops): not allowed on the box
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExportError(f"TFLite conversion with builtin ops only failed: {first}") from None


def model_ops(content: bytes) -> list[str]:
    """The op names in a .tflite flatbuffer, as the interpreter lists them."""
    interpreter = Interpreter(model_content=content)
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})


def check_ops(ops: list[str]) -> None:
    """Raise ExportError for Flex (Select TF), custom or variable ops."""
    bad = [op for op in ops if op.startswith("Flex") or op in FORBIDDEN_OPS]
    if bad:
        raise ExportError(f"the converted model has ops the box cannot run or unfrozen weights: {bad}")


def signature_tensors(content: bytes, shape: ModelShape) -> dict:
    """Token, feature input, logits and state specs as the "step" signature runner names them; checks them
    against ``shape``."""
    runner = Interpreter(model_content=content).get_signature_runner("step")
    inputs, outputs = runner.get_input_details(), runner.get_output_details()

    def spec(details, name):
        if name not in details:
            raise ExportError(f"the 'step' signature has no tensor {name!r} (has {sorted(details)})")
        return {"name": name, "shape": [int(d) for d in details[name]["shape"]],
                "dtype": np.dtype(details[name]["dtype"]).name}

    states = []
    for layer in range(1, shape.layers + 1):
        for state_in, state_out in zip(state_names(layer)[:2], state_names(layer)[2:], strict=True):
            tensor = spec(inputs, state_in)
            spec(outputs, state_out)
            states.append({"input": state_in, "output": state_out, "shape": tensor["shape"], "dtype": tensor["dtype"]})
    extra = [{**spec(inputs, name), "feature": name} for name in shape.feature_names]
    return {"token": spec(inputs, TOKEN_NAME), "features": extra, "logits": spec(outputs, LOGITS_NAME),
            "states": states}


def export(run_path: Path, name: str, out: Path, precision: str, parity_steps: int = 2000,
           min_agreement: float = 0.99, command: str = "") -> Path:
    """Export a run; returns the .tflite path. Raises ExportError if a check fails (nothing is written then)."""
    run = load_run(run_path)
    if not run.best_weights.is_file():
        raise RunError(f"{run.best_weights}: no checkpoint (did training finish an epoch?)")
    models = build_models(run.model)
    models.sequence.load_weights(run.best_weights)
    with tempfile.TemporaryDirectory() as folder:
        saved_model(models.step, run.model, Path(folder) / "saved")
        content = convert(Path(folder) / "saved", precision)
    ops = model_ops(content)
    check_ops(ops)
    tensors = signature_tensors(content, run.model)
    validation, validation_metres = run.side("validation"), metres(run.melodies, run.split.validation)
    reference = keras_reference(models.sequence, validation, parity_steps, validation_metres, run.model.feature_names)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / f"{name}.tflite"
    model_path.write_bytes(content)
    pythons = runtime_pythons()
    evaluation = read_json(run.path / "evaluation.json") if (run.path / "evaluation.json").is_file() else None
    write_contract(model_path, run, tensors, precision, sorted(pythons), {"ops": ops}, {},
                   pitch_range(run.side("train")), command, PRECISION_NOTES[precision])
    # metrics and parity of this very file, stepped by the box's StepModel in each runtime (removes both on failure)
    record_measurements(model_path, validation, pythons, evaluation, validation_metres, reference,
                        parity_check(precision, min_agreement))
    if precision == "float32":  # its Keras weights too (not the optimizer's), for `train --from NAME`
        models.sequence.save_weights(weights_path_for(model_path))
    return model_path


def run(args: argparse.Namespace) -> int:
    command = shlex.join(["melodybox-train", *sys.argv[1:]])
    try:
        path = export(args.run, args.name, args.out, args.precision, args.parity_steps, args.min_agreement, command)
    except (RunError, ExportError, ParityError, ValueError) as error:
        print(f"melodybox-train: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} and {path.with_suffix('.json')}")
    return 0
