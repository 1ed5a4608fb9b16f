"""The committed Part 1 results: figures and tables regenerate from them, the notebook runs."""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import plots

PART1 = Path(__file__).resolve().parents[1] / "Part1"
RESULTS, FIGURES = PART1 / "results", PART1 / "figures"


def test_committed_figures_and_summary_regenerate_from_results(tmp_path):
    written = {p.name for p in plots.draw_all(RESULTS, tmp_path)}
    assert written == {p.name for p in FIGURES.iterdir()}
    assert (tmp_path / "summary.md").read_text() == (FIGURES / "summary.md").read_text()


def test_sweep_covers_both_models_every_length_and_seed():
    sweep = json.loads((RESULTS / "sweep.json").read_text())
    settings = sweep["settings"]
    expected = {(m, T, s) for m in ("lstm", "rnn") for T in settings["lengths"] for s in settings["seeds"]}
    assert {(r["model"], r["T"], r["seed"]) for r in sweep["runs"]} == expected
    assert settings["quick"] is False
    for run in sweep["runs"]:
        assert run["history"][-1]["step"] == settings["steps"]


def test_defaults_experiment_ran_the_assignments_settings():
    """Every model, length and seed at train.py's own defaults (digits as values, RMSprop 1e-3,
    batch 128, 128 hidden units, clipping 10), not the other experiments' one-hot input."""
    defaults = json.loads((RESULTS / "defaults.json").read_text())
    settings = defaults["settings"]
    expected = {(m, T, s) for m in ("lstm", "rnn") for T in settings["defaults_lengths"] for s in settings["seeds"]}
    assert {(r["model"], r["T"], r["seed"]) for r in defaults["runs"]} == expected
    assert settings["quick"] is False
    for run in defaults["runs"]:
        config = run["config"]
        assert (config["input_dim"], config["learning_rate"], config["optimizer"], config["batch_size"],
                config["num_hidden"], config["max_norm"]) == (1, 1e-3, "rmsprop", 128, 128, 10.0)


@pytest.mark.slow
def test_results_notebook_runs_top_to_bottom():
    notebook = nbformat.read(PART1 / "results.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(PART1)}}).execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors


def test_results_hold_no_path_of_the_machine_that_made_them():
    for path in RESULTS.glob("*.json"):
        config = json.loads(path.read_text()).get("settings") or json.loads(path.read_text())["config"]
        paths = [value for value in config.values() if isinstance(value, str) and "/" in value]
        assert not [p for p in paths if Path(p).is_absolute()], path.name
