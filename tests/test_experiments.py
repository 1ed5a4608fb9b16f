"""experiments.py --quick runs every experiment end to end and draws every figure."""

import json

import pytest
import torch

import experiments
import plots
from lstm import LSTM
from vanilla_rnn import VanillaRNN


@pytest.mark.slow
def test_quick_pipeline_writes_results_and_figures(tmp_path):
    results, figures = tmp_path / "results", tmp_path / "figures"
    experiments.main(["--quick", "--out_dir", str(results), "--figures_dir", str(figures)])
    data = {name: json.loads((results / f"{name}.json").read_text()) for name in experiments.EXPERIMENTS}
    assert all(d["experiment"] == name and d["settings"]["quick"] is True for name, d in data.items())
    runs = data["comparison"]["runs"]
    assert {(r["model"], r["T"], r["seed"]) for r in runs} == {
        (m, T, s) for m in ("lstm", "rnn") for T in (4, 6) for s in (0, 1)}
    for run in runs:  # the assignment's settings for both models, the whole budget
        config = run["config"]
        assert (config["input_dim"], config["learning_rate"], config["optimizer"], config["max_norm"],
                config["batch_size"]) == (1, 1e-3, "rmsprop", 10.0, 128)
        assert run["history"][-1]["step"] == 40
    curriculum = data["curriculum"]["runs"]
    assert {(r["model"], r["optimizer_per_stage"], r["seed"]) for r in curriculum} == {
        (m, per_stage, s) for m, per_stage in (("lstm", False), ("rnn", False), ("lstm", True)) for s in (0, 1)}
    assert all(r["stages"][0]["T"] == 4 for r in curriculum)
    assert all(len(r["at_init"]) == 8 - 1 for r in data["gradients"]["runs"])  # one per input digit: T - 1
    assert data["comparison"]["settings"]["out_dir"] == str(results)  # outside the repository: as given
    names = sorted(p.name for p in figures.iterdir())
    assert names == ["comparison_curves.png", "comparison_final.png", "curriculum.png", "gradients.png", "summary.md"]
    # Figures are drawn from the files alone: again, without training.
    for p in figures.iterdir():
        p.unlink()
    assert len(plots.draw_all(results, figures)) == 5


def test_hidden_state_gradients_have_one_norm_per_step():
    torch.manual_seed(0)
    x, y = torch.randn(4, 12, 1), torch.randint(0, 10, (4,))
    for model in (LSTM(12, 1, 8, 10), VanillaRNN(12, 1, 8, 10)):
        norms = experiments.hidden_state_gradients(model, x, y)
        assert len(norms) == 12 and all(n > 0 for n in norms)
        # dL/dh_T is the head's gradient alone: W_ph (softmax - onehot), per palindrome.
        states = model.hidden_states(x)
        probs = torch.softmax(model.head(states[-1]), 1) - torch.nn.functional.one_hot(y, 10)
        expected = (probs @ model.W_ph.t()).norm(dim=1).mean().item()
        assert norms[-1] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("flags", [["--workers", "0"], ["--lengths", "1"], ["--out_dir", "/proc/results"]])
def test_bad_flags_exit_2(flags, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        experiments.parse_args(["--out_dir", str(tmp_path), "--figures_dir", str(tmp_path), *flags])
    assert exit_info.value.code == 2


def test_quick_refuses_to_overwrite_the_committed_results(tmp_path):
    for flags in (["--quick"], ["--quick", "--out_dir", str(tmp_path)]):
        with pytest.raises(SystemExit) as exit_info:
            experiments.parse_args(flags)
        assert exit_info.value.code == 2


def test_gradients_through_time_reach_the_first_step_of_a_long_rnn():
    """At T = 100 an untrained RNN's gradient at the first steps is below the smallest float32;
    measured in float64 it is a number, not 0, and the model itself stays float32."""
    from dataset import random_batch

    torch.manual_seed(0)
    model = VanillaRNN(100, 1, 128, 10)
    inputs, labels = random_batch(256, 100, False, torch.Generator().manual_seed(1234))
    grads = experiments.hidden_state_gradients(model, inputs, labels)
    assert len(grads) == 99 and 0 < grads[0] < 1e-20 < grads[-1]
    assert model.W_hh.dtype == torch.float32
