"""experiments.py --quick runs every experiment end to end and draws every figure."""

import json

import pytest

import experiments
import plots


@pytest.mark.slow
def test_quick_pipeline_writes_results_and_figures(tmp_path):
    results, figures = tmp_path / "results", tmp_path / "figures"
    experiments.main(["--quick", "--out_dir", str(results), "--figures_dir", str(figures)])
    for name in experiments.EXPERIMENTS:
        data = json.loads((results / f"{name}.json").read_text())
        assert data["experiment"] == name and data["settings"]["quick"] is True
    lr_search = json.loads((results / "lr_search.json").read_text())
    sweep = json.loads((results / "sweep.json").read_text())
    assert set(lr_search["best_lr"]) == {"lstm", "rnn"}
    assert sweep["learning_rate"] == lr_search["best_lr"]
    assert {(r["model"], r["T"]) for r in sweep["runs"]} == {(m, T) for m in ("lstm", "rnn") for T in (4, 6)}
    defaults = json.loads((results / "defaults.json").read_text())
    assert {(r["model"], r["T"]) for r in defaults["runs"]} == {(m, T) for m in ("lstm", "rnn") for T in (4, 6)}
    for run in defaults["runs"]:  # the assignment's settings, not the other experiments' one-hot and searched rates
        config = run["config"]
        assert (config["input_dim"], config["learning_rate"], config["optimizer"], config["max_norm"]) == (
            1, 1e-3, "rmsprop", 10.0)
    assert "### The assignment's defaults" in (figures / "summary.md").read_text()
    curriculum = json.loads((results / "curriculum.json").read_text())
    assert {(r["model"], r["optimizer_per_stage"]) for r in curriculum["runs"]} == {
        ("lstm", False), ("rnn", False), ("lstm", True)}
    for run in curriculum["runs"]:
        assert run["stages"][0]["T"] == 4 and run["stages"][0]["peak_memory_mb"] > 0
    gradients = json.loads((results / "gradients.json").read_text())
    assert all(len(r["at_init"]) == 8 - 1 for r in gradients["runs"])  # one per input digit: T - 1
    names = sorted(p.name for p in figures.iterdir())
    assert names == sorted(["sweep_accuracy.png", "sweep_loss.png", "sweep_final.png", "lr_search.png",
                            "init.png", "curriculum.png", "gradients.png", "summary.md"])
    # Figures are drawn from the files alone: again, without training.
    for p in figures.iterdir():
        p.unlink()
    assert len(plots.draw_all(results, figures)) == 8  # seven figures and summary.md


def test_sweep_needs_the_learning_rate_search_first(tmp_path):
    with pytest.raises(SystemExit, match="run --only lr_search first"):
        experiments.main(["--quick", "--only", "sweep", "--out_dir", str(tmp_path), "--figures_dir", str(tmp_path)])


def test_hidden_state_gradients_have_one_norm_per_step():
    import torch

    from lstm import LSTM
    from vanilla_rnn import VanillaRNN

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


@pytest.mark.parametrize("flags", [["--workers", "0"], ["--lengths", "1"], ["--lr_grid", "0"]])
def test_bad_flags_exit_2(flags, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        experiments.parse_args(flags + ["--out_dir", str(tmp_path)])
    assert exit_info.value.code == 2


def test_quick_refuses_to_overwrite_the_committed_results(tmp_path):
    for flags in (["--quick"], ["--quick", "--out_dir", str(tmp_path)]):
        with pytest.raises(SystemExit) as exit_info:
            experiments.parse_args(flags)
        assert exit_info.value.code == 2
