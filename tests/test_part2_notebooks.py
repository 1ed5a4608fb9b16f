"""Part 2's notebooks: committed executed, and they run top to bottom on the committed checkpoints."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

PART2 = Path(__file__).resolve().parents[1] / "Part2"
NOTEBOOKS = ["samples.ipynb", "interpolation.ipynb"]
NUMBER = re.compile(r"-?\d+\.\d+")


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def text_of(cell):
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def images_in(cell):
    return sum("image/png" in output.get("data", {}) for output in cell.outputs)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_executed(name):
    notebook = nbformat.read(PART2 / name, as_version=4)
    cells = code_cells(notebook)
    assert all(cell.execution_count is not None for cell in cells)
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1))
    assert not any(output.output_type == "error" for cell in cells for output in cell.outputs)
    assert sum(images_in(cell) for cell in cells) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_shows_what_is_committed(name, tmp_path):
    from mnist_data import DEFAULT_ROOT, prepare_mnist

    prepare_mnist(DEFAULT_ROOT)  # the samples notebook re-scores against the test set
    committed = nbformat.read(PART2 / name, as_version=4)
    fresh = nbformat.read(PART2 / name, as_version=4)
    NotebookClient(fresh, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(PART2)}}).execute()
    nbformat.write(fresh, tmp_path / name)  # the temp copy: the committed file is left alone

    for old, new in zip(code_cells(committed), code_cells(fresh)):
        assert images_in(new) == images_in(old)
        old_text, new_text = text_of(old), text_of(new)
        # Same words, same numbers up to floating-point noise across machines.
        assert NUMBER.sub("#", new_text) == NUMBER.sub("#", old_text)
        for a, b in zip(NUMBER.findall(old_text), NUMBER.findall(new_text)):
            assert float(b) == pytest.approx(float(a), rel=1e-2, abs=1e-2), (a, b)
