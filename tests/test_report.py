"""report.md and README.md quote the committed results and link only to files that exist."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORT = (ROOT / "report.md").read_text()
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def lines_of(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("document", ["report.md", "README.md"])
def test_every_link_points_to_a_file_in_the_repository(document):
    path = ROOT / document
    targets = [t for t in LINK.findall(path.read_text()) if not t.startswith(("http://", "https://"))]
    assert targets, f"{document} links to nothing"
    missing = [t for t in targets if not (path.parent / t).exists()]
    assert not missing, f"{document} links to missing files: {missing}"


def test_report_quotes_every_part1_table_row_verbatim():
    """Part1/figures/summary.md is written by plots.py from the results files; its rows are the
    report's Part 1 numbers."""
    report = set(lines_of(REPORT))
    summary = [line for line in lines_of((ROOT / "Part1/figures/summary.md").read_text())
               if not line.startswith("#")]
    missing = [line for line in summary if line not in report]
    assert not missing, f"report.md does not quote: {missing}"


@pytest.mark.parametrize("document", ["report.md", "Part2/README.md"])
def test_the_gan_comparison_table_is_quoted_verbatim(document):
    quoted = set(lines_of((ROOT / document).read_text()))
    table = lines_of((ROOT / "Part2/results/gan_comparison.txt").read_text())
    missing = [line for line in table if line not in quoted]
    assert not missing, f"{document} does not quote: {missing}"


def test_the_chosen_generator_is_the_one_the_documents_name():
    comparison = json.loads((ROOT / "Part2/results/gan_comparison.json").read_text())
    chosen, summary = comparison["chosen"], comparison["runs"][comparison["chosen"]]
    part2 = (ROOT / "Part2/README.md").read_text()
    assert f"--chosen {chosen}" in part2 and f"--out_dir Part2/runs/{chosen}" in part2
    assert f"Inception Score {summary['final']['inception_score']:.2f}" in REPORT
    assert f"{summary['epochs']:.0f} epochs and {summary['train_cpu_minutes']:.1f} CPU minutes" in REPORT


def test_report_headline_numbers_match_the_results():
    curriculum = json.loads((ROOT / "Part1/results/curriculum.json").read_text())
    longest = {run["model"]: run["longest_T"] for run in curriculum["runs"] if not run["optimizer_per_stage"]}
    assert f"the LSTM learns palindromes of length {longest['lstm']}" in REPORT
    assert f"the vanilla RNN's longest is {longest['rnn']}" in REPORT
    lr = json.loads((ROOT / "Part1/results/lr_search.json").read_text())["best_lr"]
    assert f"LSTM {lr['lstm']:g}, RNN {lr['rnn']:g}" in REPORT
