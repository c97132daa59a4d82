"""mlfn init never loses the user's work, writes a project around the user's own model, and exits
non-zero when it could not produce a servable model. Driven through the real CLI."""

import pytest
from typer.testing import CliRunner

from mlfn.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def users_folder(tmp_path):
    """A folder holding the user's own trained model and training script, no mlfn.yaml yet."""
    root = tmp_path / "mine"
    (root / "model").mkdir(parents=True)
    (root / "model" / "model.joblib").write_bytes(b"the user's model")
    (root / "train.py").write_text("# the user's own training script\n")
    return root


def test_init_in_a_folder_with_the_users_work_refuses_and_changes_nothing(users_folder):
    r = run("init", users_folder)
    assert r.exit_code == 1
    assert r.stderr.startswith(f"error: {users_folder} is not empty (model/, train.py): mlfn init writes")
    assert f"mlfn init {users_folder} --from-model model/model.joblib" in r.stderr
    assert (users_folder / "model" / "model.joblib").read_bytes() == b"the user's model"
    assert (users_folder / "train.py").read_text() == "# the user's own training script\n"
    assert sorted(p.name for p in users_folder.iterdir()) == ["model", "train.py"]


def test_force_adds_only_missing_files_and_replaces_none(users_folder):
    r = run("init", users_folder, "--force")
    assert r.exit_code == 0, r.output
    assert (users_folder / "model" / "model.joblib").read_bytes() == b"the user's model"
    assert (users_folder / "train.py").read_text() == "# the user's own training script\n"
    assert "  train.py (kept: it was there)" in r.stdout
    assert (users_folder / "mlfn.yaml").exists() and (users_folder / "stacks" / "local.yaml").exists()


def test_from_model_writes_the_project_around_the_users_model(users_folder):
    r = run("init", users_folder, "--from-model", "model/model.joblib", "--name", "churn")
    assert r.exit_code == 0, r.output
    spec = (users_folder / "mlfn.yaml").read_text()
    assert "name: churn" in spec and "uri: ./model/model.joblib" in spec and "format: sklearn" in spec
    assert (users_folder / "model" / "model.joblib").read_bytes() == b"the user's model"
    assert (users_folder / "train.py").read_text() == "# the user's own training script\n"
    assert "your files are untouched" in r.stdout


def test_from_model_with_an_unknown_format_or_outside_the_folder(users_folder, tmp_path):
    (users_folder / "weights.bin").write_bytes(b"x")
    r = run("init", users_folder, "--from-model", "weights.bin")
    assert r.exit_code == 1 and "cannot tell the model's format from its file name: pass --format" in r.stderr
    (tmp_path / "elsewhere.onnx").write_bytes(b"x")
    r = run("init", users_folder, "--from-model", tmp_path / "elsewhere.onnx")
    assert r.exit_code == 1 and "must be inside the project folder" in r.stderr


def test_an_existing_project_is_never_overwritten(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "mlfn.yaml").write_text("name: mine\n")
    r = run("init", tmp_path / "p", "--force")
    assert r.exit_code == 1 and "is an mlfn project already" in r.stderr
    assert (tmp_path / "p" / "mlfn.yaml").read_text() == "name: mine\n"


def test_init_without_the_training_libraries_exits_1_naming_what_to_install(tmp_path, monkeypatch):
    from mlfn import scaffold

    monkeypatch.setitem(scaffold.TRAIN_NEEDS, "onnx", (("skl2onnx_not_here",), "pip install skl2onnx"))
    r = run("init", tmp_path / "o", "--format", "onnx")
    assert r.exit_code == 1
    assert "could not train its onnx model: skl2onnx_not_here not installed. Install: pip install skl2onnx" in r.stdout
    assert "next: mlfn up" not in r.stdout


def test_every_format_the_runtime_serves_can_be_scaffolded():
    from mlfn_runtime.contract import FORMATS

    from mlfn.scaffold import INIT_FORMATS

    assert set(INIT_FORMATS) == set(FORMATS)
