"""Notebooks are committed clean and run top to bottom in QUICK mode."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs_and_a_parameters_cell(nb):
    cells = json.loads(nb.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in code)
    assert any("QUICK" in "".join(c["source"]) for c in code)
    # nbformat 4.5 cells carry ids; a cell added without one makes papermill warn on stderr
    ids = [c.get("id") for c in cells]
    assert all(ids) and len(set(ids)) == len(ids)


@pytest.mark.slow
@pytest.mark.xdist_group("notebooks")  # one worker, in order: 02 trains the QUICK runs that 03-07 reuse
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_quick_mode(nb, tmp_path, needs_shared):
    """The path `make reproduce QUICK=1` takes, one notebook at a time; an error in any cell fails."""
    pytest.importorskip("papermill")
    from symcere_kit.paths import results_dir
    from symcere_kit.reproduce import run_all

    table2 = results_dir(quick=True) / "tables" / "table2.md"
    before = table2.read_bytes() if table2.is_file() else None
    report = run_all(quick=True, force=True, only=[nb.name], root=nb.parents[1], out_dir=tmp_path)
    if not nb.name.startswith("03") and before is not None:  # 04's ablation grid holds two baselines too
        assert table2.read_bytes() == before, f"{nb.name} rewrote notebook 03's Table 2"
    assert [(r["notebook"], r["status"]) for r in report] == [(nb.name, "ran")]
    assert (tmp_path / nb.name).is_file()
    cells = json.loads((tmp_path / nb.name).read_text())["cells"]
    noisy = [i for i, c in enumerate(cells) if "Loading weights" in output_text(c)]
    assert not noisy, f"transformers' loading bars in the outputs of cells {noisy} of the executed {nb.name}"


def output_text(cell: dict) -> str:
    """A cell's outputs as one line of text: streams, and every text-like representation of displays
    (a notebook tqdm bar is a widget whose plain text and HTML carry its label, with &nbsp; for spaces)."""
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        parts += ["".join(v) if isinstance(v, list) else v for v in out.get("data", {}).values() if isinstance(v, (str, list))]
    return " ".join(" ".join(parts).replace("&nbsp;", " ").split())


def test_output_text_finds_a_loading_bar_in_a_stream_and_in_a_widget_display():
    stream = {"outputs": [{"output_type": "stream", "name": "stderr", "text": ["Loading weights: 100%|##| 3/3\n"]}]}
    widget = {"outputs": [{"output_type": "display_data", "data": {
        "text/plain": "Loading\u00a0weights:   0%|          | 0/103",
        "application/vnd.jupyter.widget-view+json": {"model_id": "45554eb4"}}}]}
    quiet = {"outputs": [{"output_type": "stream", "name": "stdout", "text": "training: 100%\n"}]}
    assert "Loading weights" in output_text(stream) and "Loading weights" in output_text(widget)
    assert "Loading weights" not in output_text(quiet) and output_text({"cell_type": "markdown"}) == ""
