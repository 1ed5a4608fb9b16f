"""benchmark.py times every pair at every length and thread count and writes the table as JSON."""

import json

import pytest

import benchmark
import plots


def test_benchmark_writes_ratios_for_every_pair_length_and_thread_count(tmp_path, capsys):
    out = tmp_path / "bench.json"
    benchmark.main(["--lengths", "3", "6", "--threads", "1", "2", "--batch_size", "4", "--num_hidden", "8",
                    "--blocks", "3", "--repeats", "2", "--warmup", "1", "--peak_memory_T", "20", "--json", str(out)])
    data = json.loads(out.read_text())
    assert {(r["pair"], r["T"], r["threads"]) for r in data["results"]} == {
        (pair, T, n) for pair in ("lstm", "lstm_reference", "rnn") for T in (3, 6) for n in (1, 2)}
    for r in data["results"]:
        assert r["ours_ms"] > 0 and r["reference_ms"] > 0
        low, high = r["ratio_range"]
        assert low <= r["ratio"] <= high  # the median block's ratio lies within the blocks' range
    assert data["peak_memory"]["T"] == 20 and data["peak_memory"]["ours_peak_mb"] > 0
    assert "plain autograd loop / our LSTM" in capsys.readouterr().out
    table = plots.benchmark_markdown(data)
    assert "| our LSTM / torch.nn.LSTM | 3 |" in table and "2 threads: ms | ratio" in table


def test_ratio_is_the_median_of_the_blocks_ratios():
    row = benchmark.compare("lstm", 10, 1, [1.0, 2.0, 9.0], [2.0, 2.0, 3.0])
    assert row["ratio"] == pytest.approx(1.0)  # block ratios 0.5, 1.0, 3.0
    assert row["ratio_range"] == pytest.approx([0.5, 3.0])
    assert row["ours_ms"] == 2.0 and row["reference_ms"] == 2.0


@pytest.mark.parametrize("flags", [["--repeats", "0"], ["--threads", "0"], ["--json", "/proc/bench.json"]])
def test_benchmark_rejects_bad_flags_before_timing(flags):
    with pytest.raises(SystemExit) as exit_info:
        benchmark.parse_args(flags)
    assert exit_info.value.code == 2
