"""The committed Part 1 results: complete, portable, and the figures and tables regenerate from them."""

import json
from pathlib import Path

import plots

PART1 = Path(__file__).resolve().parents[1] / "Part1"
RESULTS, FIGURES = PART1 / "results", PART1 / "figures"


def load(name):
    return json.loads((RESULTS / f"{name}.json").read_text())


def test_committed_figures_and_summary_regenerate_from_results(tmp_path):
    written = {p.name for p in plots.draw_all(RESULTS, tmp_path)}
    assert written == {p.name for p in FIGURES.iterdir()}
    assert (tmp_path / "summary.md").read_text() == (FIGURES / "summary.md").read_text()


def test_comparison_ran_both_models_at_identical_settings_on_every_length_and_seed():
    comparison = load("comparison")
    settings = comparison["settings"]
    assert settings["quick"] is False and {30, 50} <= set(settings["lengths"]) and len(settings["seeds"]) >= 3
    runs = comparison["runs"]
    assert {(r["model"], r["T"], r["seed"]) for r in runs} == {
        (m, T, s) for m in ("lstm", "rnn") for T in settings["lengths"] for s in settings["seeds"]}
    recipe = ("input_dim", "learning_rate", "optimizer", "batch_size", "num_hidden", "max_norm", "train_steps")
    assert {tuple(r["config"][k] for k in recipe) for r in runs} == {(1, 1e-3, "rmsprop", 128, 128, 10.0, settings["steps"])}
    assert all(r["history"][-1]["step"] == settings["steps"] for r in runs)


def test_curriculum_has_every_variant_on_every_seed():
    curriculum = load("curriculum")
    seeds = curriculum["settings"]["seeds"]
    assert len(seeds) >= 3
    assert {(r["model"], r["optimizer_per_stage"], r["seed"]) for r in curriculum["runs"]} == {
        (m, per_stage, s) for m, per_stage in (("lstm", False), ("rnn", False), ("lstm", True)) for s in seeds}


def test_results_hold_no_path_of_the_machine_that_made_them():
    for path in RESULTS.glob("*.json"):
        text = path.read_text()
        assert "/work/" not in text and "/home/" not in text and "/tmp/" not in text, path.name
