"""train.py: models learn, results and checkpoints round-trip, bad flags exit 2 before any work."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import train

PART1 = Path(__file__).resolve().parents[1] / "Part1"
FAST = ["--input_length", "5", "--num_hidden", "32", "--batch_size", "64", "--optimizer", "adam",
        "--learning_rate", "0.01", "--eval_every", "50", "--eval_size", "500", "--quiet"]


@pytest.mark.parametrize("model", ["lstm", "rnn"])
def test_model_learns_short_palindromes(model):
    config = train.parse_args(FAST + ["--model", model, "--train_steps", "400"])
    result, _ = train.train(config, progress=False)
    assert result["final"]["val_accuracy"] >= 0.99
    assert result["history"][0]["val_accuracy"] < 0.9  # it was learned, not there from the start


def test_output_json_holds_config_history_and_final(tmp_path):
    out = tmp_path / "run.json"
    train.main(FAST + ["--train_steps", "120", "--patience", "0", "--output", str(out), "--seed", "3"])
    result = json.loads(out.read_text())
    assert result["config"]["seed"] == 3 and result["config"]["output"] == str(out)  # outside the repository
    assert [h["step"] for h in result["history"]] == [50, 100, 120]
    for h in result["history"]:
        assert {"step", "loss", "train_accuracy", "val_accuracy", "seconds"} <= h.keys()
        assert 0 <= h["train_accuracy"] <= 1 and 0 <= h["val_accuracy"] <= 1
    assert result["final"]["step"] == 120
    assert result["final"]["val_accuracy"] == result["history"][-1]["val_accuracy"]
    assert result["final"]["seconds"] >= result["history"][0]["seconds"] > 0


def test_same_seed_same_run():
    config = train.parse_args(FAST + ["--train_steps", "60", "--patience", "0", "--threads", "1"])
    a, _ = train.train(config, progress=False)
    b, _ = train.train(config, progress=False)
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]


def test_early_stop_once_validation_accuracy_holds():
    config = train.parse_args(FAST + ["--train_steps", "5000", "--target_accuracy", "0.01", "--patience", "2"])
    result, _ = train.train(config, progress=False)
    assert result["final"]["step"] == 100  # two evaluations at >= 1% accuracy, 50 steps apart


def test_checkpoint_round_trip(tmp_path):
    path = tmp_path / "model.pt"
    config = train.parse_args(FAST + ["--train_steps", "20", "--save", str(path), "--input_dim", "10"])
    _, model = train.train(config, progress=False)
    train.save_checkpoint(path, model, config)
    loaded, loaded_config = train.load_checkpoint(path)
    assert loaded_config.input_dim == 10 and loaded_config.model == "lstm"
    x = torch.nn.functional.one_hot(torch.randint(0, 10, (8, 4)), 10).float()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model.eval()(x))
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left


def test_atomic_write_leaves_nothing_when_interrupted(tmp_path):
    path = tmp_path / "result.json"

    def fail(tmp):
        tmp.write_text("half a fi")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train.atomic_write(path, fail)
    assert list(tmp_path.iterdir()) == []


# One case per kind of rule: a type checked by argparse, a choice, a rule across flags, and a path
# that cannot be written (permission bits say root may write in /proc; creating a file says otherwise).
@pytest.mark.parametrize("flags", [["--num_hidden", "0"], ["--learning_rate", "nan"], ["--model", "gru"],
                                   ["--input_length", "1"], ["--save", "/proc/model.pt"]])
def test_bad_flags_exit_2_with_one_line(flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.parse_args(flags)
    assert exit_info.value.code == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert err_lines[0].startswith("usage:")  # argparse's usage, then the error on one line
    assert sum("error:" in line for line in err_lines) == 1 and flags[0] in err_lines[-1]


def test_unavailable_device_is_rejected(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit) as exit_info:
        train.parse_args(["--device", "cuda"])
    assert exit_info.value.code == 2
    assert "--device cuda is not available" in capsys.readouterr().err


def test_cli_error_from_the_shell_writes_nothing(tmp_path):
    out, ckpt = tmp_path / "run.json", tmp_path / "model.pt"
    proc = subprocess.run([sys.executable, str(PART1 / "train.py"), "--num_hidden", "0",
                           "--output", str(out), "--save", str(ckpt)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("train.py: error: argument --num_hidden")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag", ["--output", "--save"])
def test_unwritable_output_fails_before_training(flag, tmp_path):
    """A path in /proc passes a permission check and fails only when written: it must stop the
    run before the first step, not after training has been paid for."""
    proc = subprocess.run([sys.executable, str(PART1 / "train.py"), flag, "/proc/x.pt", "--train_steps", "100000"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(f"train.py: error: cannot write {flag} /proc/x.pt")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("cwd,script", [(PART1.parent, "Part1/train.py"), (PART1, "train.py")])
def test_cli_runs_from_the_root_and_from_part1(tmp_path, cwd, script):
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, script, "--train_steps", "3", "--eval_every", "3", "--eval_size", "10",
                           "--batch_size", "8", "--num_hidden", "8", "--quiet", "--output", str(out)],
                          cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "validation accuracy" in proc.stdout
    assert json.loads(out.read_text())["final"]["step"] == 3


@pytest.mark.slow
def test_defaults_reach_99_percent():
    """The assignment's settings (T=10, digit values, RMSprop 1e-3, batch 128, 128 hidden)."""
    result, _ = train.train(train.parse_args(["--quiet"]), progress=False)
    assert result["final"]["val_accuracy"] >= 0.99
