"""The main job runner (`symcere reproduce`): notebook parameters from the command line, resume, clear errors."""
import json

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


@pytest.mark.slow
def test_a_hanging_cell_fails_within_its_limit_naming_notebook_cell_and_copy(tmp_path, capsys):
    """The cell sleeps far past its 3 s limit: one retry with a fresh kernel, then a clear failure."""
    pytest.importorskip("papermill")
    root = _project(tmp_path, extra="\nimport time\ntime.sleep(600)")
    copy = root / "build" / "notebooks" / "01_demo.ipynb"
    with pytest.raises(reproduce.NotebookFailed) as failed:
        reproduce.run_all(root=root, cell_timeout_s=3, progress=False)
    message = str(failed.value)
    # cell 3 of the executed copy: papermill injects the given parameters as a cell after the parameters cell
    assert message.startswith("01_demo.ipynb: cell 3 of 3 ") and "'import json, pathlib'" in message
    assert "ran past its 3 s limit, 2 time(s)" in message and str(copy) in message and "--cell-timeout" in message
    assert json.loads((root / "out.json").read_text())["runs"] == 2  # the first try and the retry
    assert "retry 1 of 1" in capsys.readouterr().err
    assert not (root / "build" / "notebooks" / "done.json").exists()


@pytest.mark.slow
def test_a_cell_that_hangs_once_passes_on_the_retry_and_kernels_run_headless(tmp_path):
    pytest.importorskip("papermill")
    root = _project(tmp_path, extra="\nimport os, time\nassert os.environ.get('SYMCERE_HEADLESS') == '1'\n"
                                    "if runs == 0:\n    time.sleep(600)")
    report = reproduce.run_all(root=root, cell_timeout_s=3, progress=False)
    assert report[0]["status"] == "ran" and report[0]["retries"] == 1
    assert json.loads((root / "out.json").read_text())["runs"] == 2
    assert "SYMCERE_HEADLESS" not in __import__("os").environ  # set for the kernels only


def test_the_cell_limit_is_stated_and_overridable_from_the_command_line(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"default {reproduce.CELL_TIMEOUT['quick']} with --quick, {reproduce.CELL_TIMEOUT['full']} otherwise" in text
