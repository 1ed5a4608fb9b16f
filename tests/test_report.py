"""The documents: short enough to read, every link resolving, and every number they quote the one
its results file holds (tables copied whole from the generated tables, facts in prose recomputed)."""

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["report.md", "README.md", "Part1/README.md", "Part2/README.md"]
BUDGETS = {"report.md": 2500, "Part1/README.md": 800, "Part2/README.md": 800}  # words of prose
GENERATED = ["Part1/figures/summary.md", "Part2/results/gan_ablation.md"]  # written by plots.py, gan_report.py
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def read(path):
    return (ROOT / path).read_text()


def read_json(path):
    return json.loads(read(path))


def prose_words(text):
    """Words outside fenced code blocks and table rows."""
    words, fenced = 0, False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and not line.lstrip().startswith("|"):
            words += len(line.split())
    return words


def table_rows(text):
    return [line.strip() for line in text.splitlines() if line.strip().startswith("|")]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_link_points_to_a_file_in_the_repository(document):
    path = ROOT / document
    targets = [t for t in LINK.findall(path.read_text()) if not t.startswith(("http://", "https://"))]
    assert targets, f"{document} links to nothing"
    missing = [t for t in targets if not (path.parent / t).exists()]
    assert not missing, f"{document} links to missing files: {missing}"


@pytest.mark.parametrize("document", BUDGETS)
def test_documents_stay_within_their_word_budget(document):
    words = prose_words(read(document))
    assert words <= BUDGETS[document], f"{document} has {words} words of prose, more than {BUDGETS[document]}"


@pytest.mark.parametrize("document", ["report.md", "Part1/README.md"])
def test_every_table_of_results_is_copied_whole_from_a_generated_table(document):
    """A row holding a number is a row of a table that plots.py or gan_report.py wrote from the
    results files (the GAN's layer table, checked against the models below, apart)."""
    generated = {row for path in GENERATED for row in table_rows(read(path))}
    rows = [row for row in table_rows(read(document))
            if re.search(r"\d", row) and not row.startswith(("| G |", "| D |"))]
    assert rows, f"{document} quotes no table of results"
    missing = [row for row in rows if row not in generated]
    assert not missing, f"{document} has rows no generated table holds: {missing}"


@pytest.mark.parametrize("document", ["report.md", "Part1/README.md"])
def test_a_generated_table_is_quoted_whole(document):
    """A table a document starts quoting is quoted to its last row, not picked from."""
    report = set(table_rows(read(document)))
    for path in GENERATED:
        text = read(path)
        for table in re.split(r"\n(?=###)", text):
            rows = table_rows(table)
            if any(row in report for row in rows[2:]):
                assert all(row in report for row in rows), f"{document} quotes part of a table of {path}"


def test_the_gan_layer_table_counts_the_models_parameters():
    import my_gan

    def count(model):
        return f"{sum(p.numel() for p in model.parameters()):,}"

    rows = table_rows(read("report.md"))
    assert f"| G | total | | {count(my_gan.Generator())} |" in rows
    assert (f"| D | total | | {count(my_gan.Discriminator())} ({count(my_gan.Discriminator(mbstd=True))} "
            "with `--mbstd`) |") in rows
    dcgan = f"{count(my_gan.Generator(arch='dcgan'))} and {count(my_gan.Discriminator('dcgan'))} parameters"
    assert dcgan in " ".join(read("report.md").split())


def numbers_in_report():
    return set(re.findall(r"\d[\d,]*(?:\.\d+)?%?", " ".join(read("report.md").split())))


def quoted(*numbers):
    present = numbers_in_report()
    missing = [n for n in numbers if n not in present]
    assert not missing, f"report.md does not quote {missing}"


def test_the_report_quotes_the_baselines_and_the_committed_generator():
    real = read_json("Part2/results/real_baseline.json")
    quoted(f"{real['inception_score']:.2f}", f"{real['fid']:.2f}", f"{real['confident']:.1%}",
           f"{real['class_min']:.1%}", f"{real['class_max']:.1%}")
    quoted(f"{read_json('Part2/results/mnist_classifier.json')['test_accuracy']:.2%}")
    end = read_json("Part2/results/gan_final.json")["evaluations"][-1]
    quoted(f"{end['inception_score']:.2f}", f"{end['fid']:.2f}", f"{end['epoch']:g}")


def test_the_report_quotes_the_interpolations_norms_as_the_notebook_prints_them():
    notebook = nbformat.read(ROOT / "Part2/interpolation.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    ends = re.search(r"\|z_a\| = ([\d.]+), \|z_b\| = ([\d.]+)", text).groups()
    line = re.search(r"norm along the line:\s+([\d. ]+)", text).group(1).split()
    quoted(*ends, min(line, key=float))


def test_the_report_quotes_the_curriculum_as_it_ran():
    runs = read_json("Part1/results/curriculum.json")["runs"]
    for model, per_stage in (("lstm", False), ("rnn", False), ("lstm", True)):
        longest = sorted(r["longest_T"] or 0 for r in runs if (r["model"], r["optimizer_per_stage"]) == (model, per_stage))
        quoted(*(str(T) for T in longest))


def test_the_report_quotes_the_lstms_speed_ratios_as_the_benchmark_measured_them():
    results = read_json("Part1/results/benchmark.json")["results"]
    quoted(*(f"{r['ratio']:.2f}" for r in results if r["pair"] == "lstm"))


def test_every_figure_drawn_is_shown_in_the_report():
    figures = sorted(ROOT.glob("Part*/figures/*.png"))
    assert figures
    uncited = [str(f.relative_to(ROOT)) for f in figures if f"]({f.relative_to(ROOT)})" not in read("report.md")]
    assert not uncited, f"figures report.md does not show: {uncited}"
