"""`make bench`: every benchmark, each runtime in its own process; figures for BENCHMARKS.md.

    python -m tests.bench.run_all [--seconds 60] [--skip-prepare]

Prints each part as it finishes and writes all results to bench-out/results.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.jack_server import JackServer, JackUnavailable

ROOT = Path(__file__).resolve().parents[2]
TFLITE_RUNTIME_PYTHON = ROOT / ".venv-tflite-runtime" / "bin" / "python"
OUT = ROOT / "bench-out"


def device_bench(python: Path | str, *args: str) -> dict:
    """Run device/bench/run.py with ``python`` in its own process; its JSON results, or the error it printed."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        done = subprocess.run([str(python), "-m", "device.bench.run", *args, "--json", str(out)], cwd=ROOT,
                              capture_output=True, text=True)
        print(done.stdout, end="", flush=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            return {"error": last}
        return json.loads(out.read_text())


def latency(models: list[Path]) -> list[dict]:
    """Step latency of every shipped model in each installed runtime, and Keras for the ratio."""
    rows = []
    runtimes = [("ai-edge-litert", sys.executable)]
    if TFLITE_RUNTIME_PYTHON.exists():
        runtimes.append(("tflite-runtime", TFLITE_RUNTIME_PYTHON))
    for runtime, python in runtimes:
        for model in models:
            result = device_bench(python, "--only", "latency", "--runtime", runtime, "--model", str(model))
            if "error" in result:
                print(f"step  {model.name:<24} {runtime}: cannot run ({result['error']})")
                rows.append({"model": model.name, "runtime": runtime, "error": result["error"]})
            else:
                rows += result["latency"]
    keras = subprocess.run([sys.executable, "-m", "tests.bench.bench_keras_step", str(models[0])], cwd=ROOT,
                           capture_output=True, text=True)
    if keras.returncode == 0:
        row = json.loads(keras.stdout.strip().splitlines()[-1])
        row["model"] = models[0].name
        litert = next(r for r in rows if r.get("runtime") == "ai-edge-litert" and r["model"] == models[0].name)
        row["ratio_to_litert_p50"] = row["step_us_p50"] / litert["step_us_p50"]
        print(f"step  {models[0].name:<24} keras per-step p50 {row['step_us_p50']:.0f} us  p99 "
              f"{row['step_us_p99']:.0f} us: {row['ratio_to_litert_p50']:.0f}x ai-edge-litert ({row['weights']})")
        rows.append(row)
    else:
        print(f"keras step benchmark failed: {(keras.stderr.strip().splitlines() or ['?'])[-1]}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each timing run (600: 10-minute drift)")
    parser.add_argument("--skip-prepare", action="store_true", help="skip the dataset generator benchmark")
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    results: dict = {}
    if not args.skip_prepare:
        from tests.bench import bench_prepare

        print("== dataset generator (prepare) ==", flush=True)
        results["prepare"] = bench_prepare.main([])
    print("== step latency ==", flush=True)
    models = sorted((ROOT / "models").glob("*.tflite"), key=lambda p: (p.name != "default.tflite", p.name))
    results["latency"] = latency(models)
    print(f"== timing ({args.seconds:g} s at 120 bpm, idle and loaded) and start-up ==", flush=True)
    timing_args = ["--only", "timing", "--only", "startup", "--seconds", str(args.seconds)]
    try:
        with JackServer(period=64, sync=False):  # JACK's default mode, as a musician's JACK runs
            results["device"] = device_bench(sys.executable, *timing_args)
            print("== MIDI clock: follow (notes on a drum machine's pulses) and lead (pulse jitter) ==", flush=True)
            results["clock"] = device_bench(sys.executable, "--only", "follow", "--only", "lead", "--seconds", "30")
    except JackUnavailable as error:
        print(f"(start-up needs virtual MIDI ports: {error}; timing only)")
        results["device"] = device_bench(sys.executable, "--only", "timing", "--seconds", str(args.seconds))
    print("== call and response: where each answer starts (real clock, no MIDI ports needed) ==", flush=True)
    results["answer"] = device_bench(sys.executable, "--only", "answer")
    print("== call and response: reset-state against current-state priming ==", flush=True)
    from tests.bench import bench_answer_priming

    results["answer_priming"] = bench_answer_priming.main([])
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"all results in {(OUT / 'results.json').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
