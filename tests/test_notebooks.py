"""The notebooks: committed executed, every figure they promise drawn as an image in its own cell,
and they run top to bottom on the committed results and checkpoints, showing what is committed."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
# Each notebook's promised figures: the tag of the cell that must show each as an image.
PROMISED = {
    "Part1/results.ipynb": ["defaults-curves", "comparison-final", "curriculum", "gradients"],
    "Part2/samples.ipynb": ["task2-samples", "training-grids", "losses", "ablation-scores"],
    "Part2/interpolation.ipynb": ["task3-interpolation", "task3-spherical", "task3-given-digits"],
}
NUMBER = re.compile(r"-?\d+\.\d+")
BARE_FIGURE = re.compile(r"^<(matplotlib\.figure\.)?Figure( size [^>]*)?>$")


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def text_of(cell):
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def images_in(cell):
    return sum("image/png" in output.get("data", {}) for output in cell.outputs)


def check_figures_shown(notebook, name):
    """Each promised figure is an image in its tagged cell; no cell shows a figure as bare text."""
    tagged = {tag: cell for cell in code_cells(notebook) for tag in cell.metadata.get("tags", [])}
    for tag in PROMISED[name]:
        assert tag in tagged, f"{name}: no cell tagged {tag}"
        assert images_in(tagged[tag]) >= 1, f"{name}: the cell tagged {tag} shows no image"
    for cell in code_cells(notebook):
        for output in cell.outputs:
            data = output.get("data", {})
            if "text/plain" in data and "image/png" not in data:
                assert not BARE_FIGURE.match(data["text/plain"].strip()), f"{name}: a figure left as text"


@pytest.mark.parametrize("name", PROMISED)
def test_notebook_is_committed_executed_with_its_figures(name):
    notebook = nbformat.read(ROOT / name, as_version=4)
    cells = code_cells(notebook)
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1))
    assert not any(output.output_type == "error" for cell in cells for output in cell.outputs)
    check_figures_shown(notebook, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", PROMISED)
def test_notebook_runs_and_shows_what_is_committed(name, tmp_path):
    if name.startswith("Part2"):
        from mnist_data import DEFAULT_ROOT, prepare_mnist

        prepare_mnist(DEFAULT_ROOT)  # the samples notebook re-scores against the test set
    committed = nbformat.read(ROOT / name, as_version=4)
    fresh = nbformat.read(ROOT / name, as_version=4)
    NotebookClient(fresh, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str((ROOT / name).parent)}}).execute()
    nbformat.write(fresh, tmp_path / Path(name).name)  # the temp copy: the committed file is left alone

    check_figures_shown(fresh, name)
    for old, new in zip(code_cells(committed), code_cells(fresh)):
        assert images_in(new) == images_in(old)
        old_text, new_text = text_of(old), text_of(new)
        # Same words, same numbers up to floating-point noise across machines.
        assert NUMBER.sub("#", new_text) == NUMBER.sub("#", old_text)
        for a, b in zip(NUMBER.findall(old_text), NUMBER.findall(new_text)):
            assert float(b) == pytest.approx(float(a), rel=1e-2, abs=1e-2), (a, b)
