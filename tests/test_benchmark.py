"""benchmark.py times each model alone in its own process, every pair at every length and thread
count, and its ratios are medians over pairs of processes."""

import json
import pytest
import torch

import benchmark


def test_benchmark_writes_ratios_for_every_pair_length_and_thread_count(tmp_path, capsys):
    out = tmp_path / "bench.json"
    benchmark.main(["--lengths", "3", "5", "--threads", "1", "2", "--batch_size", "4", "--num_hidden", "8",
                    "--pairs", "1", "--steps", "2", "--warmup", "1", "--peak_memory_T", "20", "--json", str(out)])
    data = json.loads(out.read_text())
    assert {"config", "torch_version", "results", "peak_memory"} <= data.keys()
    assert sorted((r["pair"], r["T"], r["threads"]) for r in data["results"]) == sorted(
        (pair, T, n) for pair in ("lstm", "lstm_reference", "rnn") for T in (3, 5) for n in (1, 2))
    for r in data["results"]:
        assert r["ours_ms"] > 0 and r["reference_ms"] > 0 and r["steps"] == 2
        assert r["ratio"] == pytest.approx(r["ours_ms"] / r["reference_ms"])  # one pair: its own ratio
        assert r["ratio_range"] == pytest.approx([r["ratio"], r["ratio"]])
        assert r["mm_gflops"] > 0 and r["floor_ms"] == pytest.approx(r["flops"] / r["mm_gflops"] / 1e6)
        assert r["ours_floor_ratio"] == pytest.approx(r["ours_ms"] / r["floor_ms"])
    assert data["peak_memory"]["T"] == 20 and data["peak_memory"]["ours_peak_mb"] > 0
    assert "plain autograd loop / our LSTM" in capsys.readouterr().out


def test_ratio_is_the_median_over_pairs_of_each_pairs_ratio():
    row = benchmark.compare("lstm", 10, 1, [2.0, 3.0, 4.0, 10.0], [1.0, 2.0, 2.0, 4.0])
    # Pair ratios 2, 1.5, 2, 2.5: their median is 2, where the ratio of the medians would be 3.5 / 2.
    assert row["ratio"] == pytest.approx(2.0)
    assert row["ratio_range"] == pytest.approx([1.5, 2.5])
    assert row["ours_ms"] == pytest.approx(3.5) and row["reference_ms"] == pytest.approx(2.0)
    with pytest.raises(ValueError):  # every process of ours has its reference's process beside it
        benchmark.compare("lstm", 10, 1, [1.0, 2.0], [1.0])


def test_flops_count_the_matrix_products_of_forward_and_backward():
    B, H, D, C = 3, 5, 2, 10
    head = 3 * 2 * B * H * C  # p = h W_ph, and backward's dL/dW_ph and dL/dh_T
    # T = 1: x_1 W_x forward and its weight's gradient backward; h_0 = 0 needs no product.
    assert benchmark.training_flops("lstm", 1, B, H, D, C) == 2 * (2 * B * D * 4 * H) + head
    # Each further step: h_{t-1} W_h, its weight's gradient and δh_{t-1}, besides x_t's two products.
    step = 2 * (2 * B * D * 4 * H) + 3 * (2 * B * H * 4 * H)
    assert benchmark.training_flops("lstm", 3, B, H, D, C) == benchmark.training_flops("lstm", 1, B, H, D, C) + 2 * step
    assert benchmark.training_flops("rnn", 3, B, H, D, C) - head == (benchmark.training_flops("lstm", 3, B, H, D, C) - head) / 4


def test_floor_is_the_flops_at_the_median_rate():
    row = benchmark.add_floor({"ours_ms": 3.0, "reference_ms": 6.0}, 2e9, [100.0, 400.0, 200.0])
    assert row["mm_gflops"] == 200.0 and row["floor_ms"] == pytest.approx(10.0)
    assert row["ours_floor_ratio"] == pytest.approx(0.3) and row["reference_floor_ratio"] == pytest.approx(0.6)


def test_each_model_is_timed_in_a_process_of_its_own_at_the_thread_count():
    args = benchmark.parse_args(["--batch_size", "4", "--num_hidden", "8", "--warmup", "0"])
    timing = benchmark.run_alone("lstm", 3, 2, args, steps=1)
    assert timing["threads"] == 2 and timing["ms"] > 0
    assert torch.get_num_threads() == 1  # as conftest set it: the two threads were another process's


@pytest.mark.parametrize("flags", [["--pairs", "0"], ["--warmup", "-1"], ["--long_steps", "0"],
                                   ["--json", "/proc/bench.json"]], ids=["not positive", "negative", "not positive at long lengths", "unwritable"])
def test_benchmark_rejects_bad_flags_before_timing(flags):
    with pytest.raises(SystemExit) as exit_info:
        benchmark.parse_args(flags)
    assert exit_info.value.code == 2
