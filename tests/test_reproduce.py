"""The main job runner (`symcere reproduce`): notebook parameters from the command line, resume, clear errors."""
import json
import subprocess
import sys

import nbformat
import pytest

from symcere_kit import reproduce
from symcere_kit.cli import main


def _project(tmp_path, extra: str = ""):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("SEEDS = [0]\nTEXT_MODEL = None\nQUICK = False")
    params.metadata["tags"] = ["parameters"]
    body = nbformat.v4.new_code_cell(
        "import json, pathlib\n"
        "out = pathlib.Path('out.json')\n"
        "runs = json.loads(out.read_text())['runs'] if out.exists() else 0\n"
        "out.write_text(json.dumps({'seeds': SEEDS, 'model': TEXT_MODEL, 'quick': QUICK, 'runs': runs + 1}))" + extra)
    nb.cells = [params, body]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "01_demo.ipynb")
    return tmp_path


@pytest.mark.slow
def test_parameters_reach_the_notebook_and_unchanged_runs_are_skipped(tmp_path):
    pytest.importorskip("papermill")
    root = _project(tmp_path)
    out = root / "out.json"
    first = reproduce.run_all(params=["SEEDS=[1,2]", "TEXT_MODEL=org/model"], root=root)
    assert first[0]["status"] == "ran"
    assert json.loads(out.read_text()) == {"seeds": [1, 2], "model": "org/model", "quick": False, "runs": 1}
    again = reproduce.run_all(params=["SEEDS=[1,2]", "TEXT_MODEL=org/model"], root=root)
    assert again[0]["status"] == "up to date" and json.loads(out.read_text())["runs"] == 1
    reproduce.run_all(quick=True, params=["SEEDS=[1,2]", "TEXT_MODEL=org/model"], root=root)
    assert json.loads(out.read_text()) == {"seeds": [1, 2], "model": "org/model", "quick": True, "runs": 2}
    assert (root / "build" / "notebooks" / "01_demo.ipynb").is_file()  # the full run's executed copy ...
    assert (root / "build" / "notebooks" / "quick" / "01_demo.ipynb").is_file()  # ... and QUICK's beside it


@pytest.mark.parametrize("pair, message", [("SEED=[1]", "'SEED' is not declared"), ("SEEDS", "expected NAME=VALUE")])
def test_bad_parameter_is_a_clear_error_and_runs_nothing(tmp_path, pair, message):
    pytest.importorskip("papermill")
    root = _project(tmp_path)
    with pytest.raises(reproduce.ParameterError, match=message):
        reproduce.run_all(params=[pair], root=root)
    assert not (root / "out.json").exists() and not (root / "build").exists()


def test_cli_reports_a_bad_parameter_with_exit_code_2(capsys):
    pytest.importorskip("papermill")
    assert main(["--quiet", "reproduce", "--param", "NOT_A_PARAMETER=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symcere: error: ") and "NOT_A_PARAMETER" in err and "DATASETS" in err


@pytest.mark.slow
def test_the_older_module_spelling_is_the_same_command():
    """`python -m symcere_kit.reproduce ARGS` is `symcere reproduce ARGS`."""
    pytest.importorskip("papermill")
    proc = subprocess.run([sys.executable, "-m", "symcere_kit.reproduce", "--param", "NOT_A_PARAMETER=1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("symcere: error: ") and "NOT_A_PARAMETER" in proc.stderr


@pytest.mark.slow
def test_cli_runs_then_resumes_and_prints_where_the_outputs_are(tmp_path, monkeypatch, capsys):
    pytest.importorskip("papermill")
    root = _project(tmp_path)
    monkeypatch.setattr(reproduce, "project_root", lambda: root)
    assert main(["--quiet", "reproduce", "--quick", "--only", "01", "-p", "SEEDS=[4]"]) == 0
    out = capsys.readouterr().out
    assert "01_demo.ipynb" in out and " ran " in out and "executed notebooks: " in out
    assert json.loads((root / "out.json").read_text())["seeds"] == [4]
    assert main(["--quiet", "reproduce", "--quick", "-p", "SEEDS=[4]"]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_reports_a_failing_notebook_with_exit_code_1(tmp_path, monkeypatch, capsys):
    pytest.importorskip("papermill")
    root = _project(tmp_path, extra="\nraise KeyError('no such column')")
    monkeypatch.setattr(reproduce, "project_root", lambda: root)
    assert main(["--quiet", "reproduce"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("symcere: error: 01_demo.ipynb failed in cell") and "no such column" in err


@pytest.mark.slow
def test_a_failing_cell_names_the_notebook_and_is_not_marked_done(tmp_path):
    pytest.importorskip("papermill")
    root = _project(tmp_path, extra="\nraise KeyError('no such column')")
    with pytest.raises(reproduce.NotebookFailed, match=r"01_demo.ipynb failed in cell \d+: KeyError: .*no such column"):
        reproduce.run_all(root=root)
    assert (root / "out.json").exists()  # it ran up to the error ...
    state = root / "build" / "notebooks" / "done.json"
    assert not state.exists() or "01_demo.ipynb" not in json.loads(state.read_text())  # ... and will run again
