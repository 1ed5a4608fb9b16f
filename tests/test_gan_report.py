"""The results of Part 2: run labels, collecting runs into results/, the ladder table and the figures."""

import csv
import json
import shutil

import pytest

import gan_report
import my_gan

DEFAULTS = vars(my_gan.parse_args([])[1])


def test_a_label_names_the_flags_that_differ_from_the_defaults():
    assert gan_report.label_of(DEFAULTS) == "template"
    shipped = DEFAULTS | {"mbstd": True, "ema": 0.9999, "lr": 4e-4, "beta1": 0.0, "batch_size": 256,
                          "n_epochs": 250, "threads": 1, "out_dir": "runs/x", "eval_interval": 2}
    assert gan_report.label_of(shipped) == "--mbstd --ema 0.9999 --lr 0.0004 --beta1 0 --batch_size 256"
    older = {"arch": "mlp", "ema": 0.999, "width": 2}  # a log from before some flags existed
    assert gan_report.label_of(older) == "--ema 0.999"
    assert gan_report.label_of(shipped, base=shipped | {"beta1": 0.5}) == "--beta1 0"


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


def test_collect_brings_runs_into_the_repository_and_keeps_one_row_per_run(mnist_root, repository, tmp_path):
    template = tiny_run(mnist_root, tmp_path / "runs" / "template")
    shipped = tiny_run(mnist_root, tmp_path / "runs" / "shipped", "--mbstd", "--ema", 0.99)
    gan_report.collect({"template": template, "shipped": shipped}, "machine A", mnist_root)
    gan_report.collect({"template": template}, "machine B", mnist_root)

    rows = gan_report.read_runs(repository / "results" / "runs.csv")
    assert [(row["run"], row["flags"], row["machine"]) for row in rows] == [
        ("template", "template", "machine B"), ("shipped", "--mbstd --ema 0.99", "machine A")]
    log = json.loads((shipped / "log.json").read_text())
    assert json.loads((repository / "results" / "gan_shipped.json").read_text()) == log
    assert float(rows[1]["inception_score"]) == round(log["evaluations"][-1]["inception_score"], 4)
    assert sorted(p.name for p in (repository / "checkpoints").iterdir()) == [
        "generator_end.pt", "generator_middle.pt", "generator_start.pt"]
    assert (repository / "figures" / "training_grids" / "template_step_0000000.png").is_file()
    spread = json.loads((repository / "results" / "gan_seed_spread.json").read_text())
    assert len(spread["seeds"]) == 5 and spread["spread"]["fid"]["min"] <= spread["spread"]["fid"]["max"]


def test_collect_refuses_a_run_without_scores_before_writing(mnist_root, repository, tmp_path, capsys):
    unscored = tiny_run(mnist_root, tmp_path / "runs" / "unscored", "--eval_interval", 0)
    with pytest.raises(SystemExit) as exit_info:
        gan_report.main(["collect", f"unscored={unscored}"])
    assert exit_info.value.code == 2
    assert "has no scores" in capsys.readouterr().err.strip().splitlines()[-1]
    assert not any(any((repository / folder).iterdir()) for folder in ("results", "figures", "checkpoints"))


def test_the_committed_ladder_table_is_the_one_the_committed_logs_give():
    logs = {name: gan_report.read_json(gan_report.RESULTS / f"gan_{name}.json") for name in gan_report.LADDER}
    runs = {row["run"]: row for row in gan_report.read_runs(gan_report.RESULTS / "runs.csv")}
    table = gan_report.ladder_table(logs, runs, gan_report.read_json(gan_report.RESULTS / "real_baseline.json"))
    assert table == (gan_report.RESULTS / "gan_ladder.md").read_text()
    shipped = next(line for line in table.splitlines() if line.startswith("| shipped |"))
    assert "| --beta1 0 |" in shipped  # the one change over the row above
    mbstd = next(line for line in table.splitlines() if line.startswith("| mbstd |"))
    assert "| --mbstd --ema_warmup |" in mbstd  # an older flag, shown where it changed


def test_every_rung_of_the_ladder_has_its_row_in_the_table_of_all_runs():
    with open(gan_report.RESULTS / "runs.csv", newline="") as f:
        rows = {row["run"]: row for row in csv.DictReader(f)}
    for name in gan_report.LADDER:
        final = gan_report.read_json(gan_report.RESULTS / f"gan_{name}.json")["evaluations"][-1]
        assert float(rows[name]["inception_score"]) == round(final["inception_score"], 4)
        assert float(rows[name]["epochs"]) == round(final["epoch"], 2)


def test_figures_redraw_the_table_and_figures_from_committed_files(tmp_path, monkeypatch):
    shutil.copytree(gan_report.RESULTS, tmp_path / "results")
    monkeypatch.setattr(gan_report, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(gan_report, "FIGURES", tmp_path / "figures")
    (tmp_path / "figures").mkdir()
    assert gan_report.figures() == (tmp_path / "results" / "gan_ladder.md").read_text()
    assert (tmp_path / "results" / "gan_ladder.md").read_text() == (gan_report.HERE / "results" / "gan_ladder.md").read_text()
    names = ("gan_scores.png", "gan_losses.png", "samples_start_middle_end.png", "interpolation.png")
    assert all((tmp_path / "figures" / name).stat().st_size > 10_000 for name in names)
