"""benchmark.py times both pairs and writes the table as JSON."""

import json

import pytest

import benchmark


def test_benchmark_writes_ratios_for_every_length(tmp_path, capsys):
    out = tmp_path / "bench.json"
    benchmark.main(["--lengths", "3", "6", "--batch_size", "4", "--num_hidden", "8", "--repeats", "2",
                    "--warmup", "1", "--peak_memory_T", "20", "--json", str(out)])
    data = json.loads(out.read_text())
    assert [(r["model"], r["T"]) for r in data["results"]] == [("lstm", 3), ("lstm", 6), ("rnn", 3), ("rnn", 6)]
    for r in data["results"]:
        assert r["ours_ms"] > 0 and r["torch_ms"] > 0
        assert r["ratio"] == pytest.approx(r["ours_ms"] / r["torch_ms"])
    assert data["peak_memory"]["T"] == 20 and data["peak_memory"]["ours_peak_mb"] > 0
    assert "ours/torch" in capsys.readouterr().out


@pytest.mark.parametrize("flags", [["--repeats", "0"], ["--json", "/proc/bench.json"]])
def test_benchmark_rejects_bad_flags_before_timing(flags):
    with pytest.raises(SystemExit) as exit_info:
        benchmark.parse_args(flags)
    assert exit_info.value.code == 2
