"""report.md, README.md and Part2/README.md quote the committed results, link only to files that
exist, and stay short enough to read."""

import csv
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORT = (ROOT / "report.md").read_text()
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
# Each number the report quotes appears in one sentence; its wording is collapsed to single spaces.
REPORT_TEXT = " ".join(REPORT.split())


def lines_of(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_json(path):
    return json.loads((ROOT / path).read_text())


def prose_words(text):
    """Words outside fenced code blocks and table rows."""
    words, fenced = 0, False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and not line.lstrip().startswith("|"):
            words += len(line.split())
    return words


def quoted(sentence):
    assert sentence in REPORT_TEXT, f"report.md does not say: {sentence!r}"


@pytest.mark.parametrize("document", ["report.md", "README.md", "Part2/README.md"])
def test_every_link_points_to_a_file_in_the_repository(document):
    path = ROOT / document
    targets = [t for t in LINK.findall(path.read_text()) if not t.startswith(("http://", "https://"))]
    assert targets, f"{document} links to nothing"
    missing = [t for t in targets if not (path.parent / t).exists()]
    assert not missing, f"{document} links to missing files: {missing}"


def test_the_report_is_read_in_twenty_minutes():
    words = prose_words(REPORT)
    assert words <= 4000, f"report.md has {words} words outside tables and code, more than 4,000"


def test_part2_readme_is_a_short_guide():
    words = len((ROOT / "Part2/README.md").read_text().split())
    assert words <= 700, f"Part2/README.md has {words} words, more than 700"


def test_report_quotes_every_part1_table_row_verbatim():
    """Part1/figures/summary.md is written by plots.py from the results files; its rows are the
    report's Part 1 numbers."""
    report = set(lines_of(REPORT))
    summary = [line for line in lines_of((ROOT / "Part1/figures/summary.md").read_text())
               if not line.startswith("#")]
    missing = [line for line in summary if line not in report]
    assert not missing, f"report.md does not quote: {missing}"


def test_report_headline_numbers_match_the_part1_results():
    curriculum = read_json("Part1/results/curriculum.json")
    longest = {run["model"]: run["longest_T"] for run in curriculum["runs"] if not run["optimizer_per_stage"]}
    quoted(f"the LSTM learns palindromes of length {longest['lstm']}")
    quoted(f"the vanilla RNN's longest is {longest['rnn']}")
    lr = read_json("Part1/results/lr_search.json")["best_lr"]
    quoted(f"LSTM {lr['lstm']:g}, RNN {lr['rnn']:g}")


def test_report_quotes_the_gan_ablation_ladder_verbatim():
    """Part2/results/gan_ladder.md is written by gan_report.py from the ladder's logs."""
    report = set(lines_of(REPORT))
    missing = [line for line in lines_of((ROOT / "Part2/results/gan_ladder.md").read_text()) if line not in report]
    assert not missing, f"report.md does not quote: {missing}"


def test_report_names_the_shipped_runs_scores_length_and_cost():
    shipped, template = read_json("Part2/results/gan_shipped.json"), read_json("Part2/results/gan_template.json")
    end = shipped["evaluations"][-1]
    quoted(f"reaches Inception Score {end['inception_score']:.2f} after {end['epoch']:g} epochs "
           f"and {end['train_cpu_seconds'] / 60:.1f} CPU minutes")
    quoted(f"drawing every digit in {end['class_min']:.1%}-{end['class_max']:.1%} of its samples")
    quoted(f"the raw G ends at IS {end['raw']['inception_score']:.2f} and FID {end['raw']['fid']:.2f}, "
           f"its average at {end['inception_score']:.2f} and {end['fid']:.2f}")
    last = template["evaluations"][-1]
    quoted(f"the template {last['inception_score']:.2f} after {last['epoch']:g} epochs")

    def first_reaching(log, score):
        return next(row for row in log["evaluations"] if row["inception_score"] >= score)

    fast, slow = first_reaching(shipped, last["inception_score"]), first_reaching(template, last["inception_score"])
    quoted(f"after {fast['train_cpu_seconds'] / 60:.1f} CPU minutes (epoch {fast['epoch']:g}) where the template "
           f"itself needs {slow['train_cpu_seconds'] / 60:.1f} (epoch {slow['epoch']:g})")


def test_report_quotes_the_gan_baselines_and_seed_spread():
    real = read_json("Part2/results/real_baseline.json")
    quoted(f"IS {real['inception_score']:.2f}, FID {real['fid']:.2f}, {real['confident']:.1%} confident, "
           f"every digit in {real['class_min']:.1%}-{real['class_max']:.1%}")
    accuracy = read_json("Part2/results/mnist_classifier.json")["test_accuracy"]
    quoted(f"reaches {accuracy:.2%} test accuracy")
    spread = read_json("Part2/results/gan_seed_spread.json")["spread"]
    s = {key: (value["min"], value["max"]) for key, value in spread.items()}
    quoted(f"IS moves within {s['inception_score'][0]:.2f}-{s['inception_score'][1]:.2f}, "
           f"its FID within {s['fid'][0]:.2f}-{s['fid'][1]:.2f}, "
           f"its confident share within {s['confident'][0]:.1%}-{s['confident'][1]:.1%} "
           f"and its rarest digit within {s['class_min'][0]:.1%}-{s['class_min'][1]:.1%}")


def test_report_describes_runs_csv_as_it_is():
    with open(ROOT / "Part2/results/runs.csv", newline="") as f:
        runs = {row["run"]: row for row in csv.DictReader(f)}
    quoted(f"Every run made, {len(runs)} in all")
    best = max(float(row["inception_score"]) for row in runs.values())
    assert best - float(runs["shipped"]["inception_score"]) <= 0.01
    quoted("ends more than 0.01 above the shipped run")


def test_report_parameter_counts_match_the_models():
    import my_gan

    def count(model):
        return f"{sum(p.numel() for p in model.parameters()):,}"

    quoted(f"| G | total | | {count(my_gan.Generator())} |")
    quoted(f"| D | total | | {count(my_gan.Discriminator())} ({count(my_gan.Discriminator(mbstd=True))} with `--mbstd`) |")
    quoted(f"{count(my_gan.Generator(arch='dcgan'))} and {count(my_gan.Discriminator('dcgan'))} parameters")
