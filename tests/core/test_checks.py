"""validate catches offline what would fail later: the model's path, format and handler, a local
stack with a target, placeholders left from mlfn init."""

import pytest
from helpers import write_project

import mlfn
from mlfn.errors import CheckError

SPEC = "name: iris\nmodel: {uri: %s, format: %s}\n"


def project(tmp_path, uri="./model", fmt="sklearn", stack="cloud: local\n", files=None):
    root = write_project(tmp_path / "p", SPEC % (uri, fmt), {"s": stack})
    for rel, data in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def problems(root) -> str:
    with pytest.raises(CheckError) as e:
        mlfn.validate(root, stack="s")
    return str(e.value)


def test_a_missing_model_path(tmp_path):
    root = project(tmp_path, uri="./models/model.joblib")
    assert "mlfn.yaml: model.uri: './models/model.joblib' does not exist in" in problems(root)


def test_a_file_of_another_format_names_the_format_that_fits(tmp_path):
    root = project(tmp_path, files={"model/model.onnx": b"\x08\x07"})
    expected = "mlfn.yaml: model.format: model/model.onnx is a model in ONNX format: set model.format: onnx"
    assert expected in problems(root)


def test_a_pickle_that_is_not_a_pickle(tmp_path):
    root = project(tmp_path, files={"model/model.joblib": b"<html>not a model</html>"})
    assert "model/model.joblib is not a pickle or joblib file" in problems(root)


def test_a_handler_whose_module_is_missing(tmp_path):
    root = write_project(tmp_path / "p", "name: iris\nmodel: {uri: ./model, format: custom, handler: pred:P}\n",
                         {"s": "cloud: local\n"})
    assert "model.handler: 'pred:P': no pred.py in model: the handler's module must sit beside the model" in problems(
        root)
    (root / "model" / "pred.py").write_text("class P: ...\n")
    assert mlfn.validate(root, stack="s")


def test_a_target_on_a_local_stack(tmp_path):
    root = project(tmp_path, stack="cloud: local\ntarget: lambda\n", files={"model/model.joblib": b"\x80\x04"})
    assert "stacks/s.yaml: target: 'lambda': cloud local has no targets" in problems(root)


def test_a_gpu_on_the_local_stack_is_a_note(tmp_path):
    root = project(tmp_path, files={"model/model.joblib": b"\x80\x04"})
    (root / "mlfn.yaml").write_text((root / "mlfn.yaml").read_text() + "compute: {gpu: {type: t4}}\n")
    assert "compute.gpu is not reserved here" in mlfn.validate(root, stack="s").notes[0]


def test_placeholders_left_from_init_are_refused(tmp_path, monkeypatch):
    from mlfn_fake import FakeAdapter

    monkeypatch.setattr(FakeAdapter, "placeholders", {"region": "your-region"})
    root = project(tmp_path, stack="cloud: fake\nregion: your-region\n", files={"model/model.joblib": b"\x80\x04"})
    assert "stacks/s.yaml: region: 'your-region' is the placeholder mlfn init wrote: set your own region" in problems(
        root)


def test_the_examples_pass(tmp_path):
    from helpers import EXAMPLES

    for name in ("iris-sklearn", "onnx", "custom-handler"):
        assert mlfn.validate(EXAMPLES / name)


def _pickle_saved_with(version: str) -> bytes:
    """A real pickle of an estimator whose state records scikit-learn ``version``."""
    import pickle

    from sklearn.dummy import DummyClassifier

    state_holder = DummyClassifier()
    data = pickle.dumps(state_holder)
    import sklearn

    return data.replace(sklearn.__version__.encode(), version.encode())


def test_a_requirement_that_excludes_the_saved_version_names_both(tmp_path):
    root = project(tmp_path, files={"model/model.joblib": _pickle_saved_with("1.8.0")})
    (root / "requirements.txt").write_text("scikit-learn==1.5.2\n")
    (root / "mlfn.yaml").write_text((root / "mlfn.yaml").read_text() + "runtime: {requirements: requirements.txt}\n")
    text = problems(root)
    assert "scikit-learn==1.5.2" in text and "1.8.0" in text and "model/model.joblib" in text


def test_a_model_saved_with_another_version_is_a_local_note(tmp_path):
    root = project(tmp_path, files={"model/model.joblib": _pickle_saved_with("1.8.0")})
    notes = mlfn.validate(root, stack="s").notes
    assert any("model/model.joblib was saved with scikit-learn 1.8.0; this environment has" in n for n in notes)


CLOUD = "cloud: fake\nregion: eu-1\n"


@pytest.mark.parametrize("saved", ["1.2.2", "2.0.0"])
def test_a_model_saved_outside_the_runtimes_range_is_rejected_on_cloud_stacks(tmp_path, saved):
    """The image installs the runtime's ``sklearn`` extra (scikit-learn>=1.3,<2) and pins the saved
    version (constraints.txt): pip cannot do both and the build would fail inside the image."""
    root = project(tmp_path, stack=CLOUD, files={"model/model.joblib": _pickle_saved_with(saved)})
    text = problems(root)
    assert f"model/model.joblib was saved with scikit-learn {saved}" in text
    assert "scikit-learn>=1.3,<2" in text and "'sklearn' extra" in text and "re-save the model" in text


def test_a_model_inside_the_runtimes_range_or_served_locally_or_prebuilt_passes(tmp_path):
    model = {"model/model.joblib": _pickle_saved_with("1.8.0")}
    mlfn.validate(project(tmp_path / "in", stack=CLOUD, files=model), stack="s")
    old = {"model/model.joblib": _pickle_saved_with("1.2.2")}
    # The local stack serves the model in this environment; no image is built.
    mlfn.validate(project(tmp_path / "local", files=old), stack="s")
    # runtime.image: the user's own image, nothing installed by mlfn.
    root = project(tmp_path / "own", stack=CLOUD, files=old)
    (root / "mlfn.yaml").write_text((root / "mlfn.yaml").read_text() + "runtime: {image: 'registry/own:1'}\n")
    mlfn.validate(root, stack="s")
