"""`melodybox bench --only net` runs: the box with its network, the reference beside it, and the load answered as it
should be. Its timing figures are measured by the benchmark (BENCHMARKS.md), never asserted here."""

from device.bench import net
from tests.recording import shipped_model_path


def test_the_network_benchmark_loads_the_api_and_measures_the_box_and_the_reference():
    row = net.timing(shipped_model_path(), seconds=2.0, loaded=True, bpm=240.0)
    assert row["load"] == "200 requests/s"
    assert sum(row["requests"].values()) == 400  # 200 a second for 2 s
    assert row["requests"]["401"] == 80  # one in five carries no token: refused
    assert set(row["requests"]) <= {"200", "401", "503"}  # 503: the state asked for before the first step
    assert row["reference_late_ms_n"] == 32  # every step of 2 s at 240 bpm
    assert row["box_late_ms_n"] > 0
