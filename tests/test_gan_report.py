"""Part 2's results: collecting runs into results/, the ablation table and the figures."""

import json
import shutil

import pytest

import gan_report
import my_gan


def test_changes_name_the_flags_of_the_recipe_that_differ():
    base = {"arch": "mlp", "mbstd": False, "ema": 0.0, "lr": 2e-4, "batch_size": 64, "out_dir": "a", "seed": 0}
    config = base | {"mbstd": True, "ema": 0.9999, "batch_size": 256, "out_dir": "b", "seed": 3}
    assert gan_report.changes(config, base) == "--mbstd --ema 0.9999 --batch_size 256"
    assert gan_report.changes(base | {"lr": 4e-4}, base) == "--lr 0.0004"
    assert gan_report.changes(base, base) == ""


def log_of(scores, minutes):
    """A log whose evaluations at epochs 0, 1, 2, ... have these Inception Scores and CPU minutes."""
    return {"config": {}, "evaluations": [
        {"epoch": epoch, "inception_score": score, "train_cpu_seconds": 60 * minute}
        for epoch, (score, minute) in enumerate(zip(scores, minutes))]}


def test_evaluation_at_takes_the_last_one_within_the_epoch_or_the_cpu_budget():
    log = log_of([1.0, 5.0, 7.0, 8.0], [0, 2, 4, 6])
    assert gan_report.evaluation_at(log, epoch=2)["inception_score"] == 7.0
    assert gan_report.evaluation_at(log, epoch=2.5)["inception_score"] == 7.0
    assert gan_report.evaluation_at(log, cpu_minutes=5)["inception_score"] == 7.0
    assert gan_report.evaluation_at(log, cpu_minutes=1.9)["inception_score"] == 1.0
    assert gan_report.cpu_budget({"a": log, "b": log_of([1.0, 2.0], [0, 3])}) == 3


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """results/, figures/ and checkpoints/ of a repository in a temporary folder."""
    for name in ("RESULTS", "FIGURES", "CHECKPOINTS"):
        (tmp_path / name.lower()).mkdir()
        monkeypatch.setattr(gan_report, name, tmp_path / name.lower())
    monkeypatch.setattr(my_gan, "EVAL_SAMPLES", 40)
    return tmp_path


def tiny_run(mnist_root, out_dir, *flags):
    my_gan.main(["--batch_size", "64", "--n_epochs", "2", "--threads", "1", "--data_root", str(mnist_root),
                 "--out_dir", str(out_dir), *map(str, flags)])
    return out_dir


def test_collect_brings_runs_in_and_keeps_every_run_made(mnist_root, repository, tmp_path):
    template = tiny_run(mnist_root, tmp_path / "runs" / "template")
    final = tiny_run(mnist_root, tmp_path / "runs" / "final", "--mbstd", "--ema", 0.99)
    gan_report.collect({"template": template, "final": final}, "machine A", mnist_root)
    gan_report.collect({"template": template}, "machine B", mnist_root)
    gan_report.collect({"template": template}, "machine B", mnist_root)  # made again: replaces its row

    rows = gan_report.read_runs(repository / "results" / "runs.csv")
    assert [(row["run"], row["flags"], row["machine"]) for row in rows] == [
        ("template", "template", "machine A"), ("final", "--mbstd --ema 0.99", "machine A"),
        ("template", "template", "machine B")]
    log = json.loads((final / "log.json").read_text())
    assert json.loads((repository / "results" / "gan_final.json").read_text()) == log
    assert float(rows[1]["inception_score"]) == round(log["evaluations"][-1]["inception_score"], 4)
    assert sorted(p.name for p in (repository / "checkpoints").iterdir()) == [
        "generator_end.pt", "generator_middle.pt", "generator_start.pt"]
    assert (repository / "figures" / "training_grids" / "template_step_0000000.png").is_file()
    assert len(json.loads((repository / "results" / "gan_seed_spread.json").read_text())["seeds"]) == 5


@pytest.mark.parametrize("flags", [["--eval_interval", 0], ["--n_epochs", 1]])
def test_collect_refuses_an_unscored_or_stopped_run_before_writing(mnist_root, repository, tmp_path, flags):
    run = tiny_run(mnist_root, tmp_path / "runs" / "run", *flags)
    if flags[0] == "--n_epochs":  # a run stopped early: its log says it was meant to go on
        log = json.loads((run / "log.json").read_text())
        log["config"]["n_epochs"] = 2
        (run / "log.json").write_text(json.dumps(log))
    with pytest.raises(SystemExit) as exit_info:
        gan_report.main(["collect", f"run={run}"])
    assert exit_info.value.code == 2
    assert not any(any((repository / folder).iterdir()) for folder in ("results", "figures", "checkpoints"))


def test_the_committed_ablation_is_one_machine_full_length_and_its_table_regenerates(tmp_path, monkeypatch):
    logs, final = gan_report.read_logs()
    rows = gan_report.read_runs(gan_report.RESULTS / "runs.csv")
    machines, lengths = set(), set()
    for name, log in logs.items():
        config, last = log["config"], log["evaluations"][-1]
        assert last["step"] == config["n_epochs"] * log["steps_per_epoch"]  # ended where it was meant to
        if name in gan_report.ABLATION:
            lengths.add(config["n_epochs"])
        row = [row for row in rows if row["run"] == name][-1]  # the newest row of that name
        assert float(row["inception_score"]) == round(last["inception_score"], 4)
        machines.add(row["machine"])
    assert len(machines) == 1 and lengths == {gan_report.COMPARE_AT_EPOCHS[-1]}
    assert final["evaluations"][-1]["step"] == final["config"]["n_epochs"] * final["steps_per_epoch"]

    shutil.copytree(gan_report.RESULTS, tmp_path / "results")
    monkeypatch.setattr(gan_report, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(gan_report, "FIGURES", tmp_path / "figures")
    shutil.copytree(gan_report.HERE / "figures" / "training_grids", tmp_path / "figures" / "training_grids")
    assert gan_report.figures() == (gan_report.HERE / "results" / "gan_ablation.md").read_text()
    names = ("gan_scores.png", "gan_losses.png", "training_grids.png", "samples_start_middle_end.png",
             "interpolation.png")
    assert all((tmp_path / "figures" / name).stat().st_size > 10_000 for name in names)
