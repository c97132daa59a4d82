import json

import numpy as np
import pytest
from mlfn_runtime.contract import Manifest, ManifestError, infer_format, port_from_env
from mlfn_runtime.errors import InvalidInput, ModelLoadError
from mlfn_runtime.models import load
from runtime_helpers import ROWS


@pytest.mark.parametrize("name", ["sklearn", "sklearn-bare", "skops", "onnx"])
def test_sklearn_family_predicts_like_sklearn(models, sklearn_model, name):
    m = load(models[name], None, None, None)
    expected = sklearn_model.predict(np.array(ROWS)).tolist()
    assert np.asarray(m.model.predict(ROWS, {})).tolist() == expected
    proba = np.asarray(m.model.predict(ROWS, {"predict_proba": True}))
    assert proba.shape == (2, 3)


def test_format_comes_from_manifest_then_suffix(models):
    assert load(models["sklearn"], None, None, None).name == "iris"
    bare = load(models["sklearn-bare"], None, None, None)
    assert (bare.name, bare.format) == ("model", "sklearn")
    assert load(models["sklearn-bare"], "renamed", None, None).name == "renamed"


@pytest.mark.parametrize("name", ["pt2", "torchscript"])
def test_pytorch(models, name):
    m = load(models[name], None, None, None)
    assert m.format == "pytorch"
    expected = json.loads((models[name].parent / "torch_expected.json").read_text())
    np.testing.assert_allclose(m.model.predict(ROWS, {}), expected, rtol=1e-5)


@pytest.mark.parametrize("name", ["xgb-json", "xgb-ubj"])
def test_xgboost(models, name):
    m = load(models[name], None, None, None)
    out = np.asarray(m.model.predict(ROWS, {}))
    assert m.format == "xgboost" and out.shape == (2, 3)


def test_custom_handler(models):
    m = load(models["echo"], None, None, None)
    assert m.model.predict([[1, 1, 1, 1]], {}) == [10]


def test_wrong_feature_count_is_invalid_input(models):
    m = load(models["sklearn"], None, None, None)
    with pytest.raises(InvalidInput, match="expected rows of 4 features, got 3"):
        m.model.predict([[1, 2, 3]], {})
    with pytest.raises(InvalidInput, match="rows of numbers"):
        m.model.predict([["a", "b", "c", "d"]], {})
    with pytest.raises(InvalidInput, match="equal-length rows"):
        m.model.predict([[1, 2, 3, 4], [1, 2]], {})


def test_load_failures_say_why(models, tmp_path):
    with pytest.raises(ModelLoadError, match="weights are corrupt"):
        load(models["fails-to-load"], None, None, None)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelLoadError, match="cannot tell the model's format"):
        load(tmp_path, None, None, None)
    (tmp_path / "model.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ModelLoadError, match="loading the sklearn model"):
        load(tmp_path, None, None, None)
    with pytest.raises(ModelLoadError, match="does not exist"):
        load(tmp_path / "nope", None, None, None)


def test_azureml_layout_one_folder_below(models, tmp_path):
    import shutil

    shutil.copytree(models["sklearn"], tmp_path / "iris" / "1")
    assert load(tmp_path, None, None, None).name == "iris"


def test_manifest_validation(tmp_path):
    with pytest.raises(ManifestError, match="format: 'keras' is not one of"):
        Manifest(name="a", format="keras")
    with pytest.raises(ManifestError, match="needs a handler"):
        Manifest(name="a", format="custom")
    (tmp_path / "mlfn-manifest.json").write_text('{"name": "a", "format": "sklearn", "extra": 1}')
    with pytest.raises(ManifestError, match="unknown fields extra"):
        Manifest.read(tmp_path)
    (tmp_path / "mlfn-manifest.json").write_text('{"name": "a", "format": "sklearn", "schema_version": 9}')
    with pytest.raises(ManifestError, match="schema_version 9 is not supported"):
        Manifest.read(tmp_path)
    m = Manifest(name="a", format="sklearn", model_file="m.joblib")
    m.write(tmp_path)
    assert Manifest.read(tmp_path) == m


@pytest.mark.parametrize(
    ("file", "fmt"),
    [("m.joblib", "sklearn"), ("m.pkl", "sklearn"), ("m.skops", "sklearn"), ("m.onnx", "onnx"),
     ("m.pt2", "pytorch"), ("m.pt", "pytorch"), ("m.ubj", "xgboost"), ("m.json", "xgboost"),
     ("mlfn-manifest.json", None), ("m.txt", None)],
)
def test_infer_format(file, fmt):
    assert infer_format(file) == fmt


def test_port_order():
    assert port_from_env({}) == 8080
    assert port_from_env({"PORT": "9000"}) == 9000
    assert port_from_env({"PORT": "9000", "AIP_HTTP_PORT": "7000"}) == 7000
    assert port_from_env({"PORT": "9000", "AIP_HTTP_PORT": "7000", "SAGEMAKER_BIND_TO_PORT": "6000"}) == 6000
    with pytest.raises(ValueError, match="is not a port number"):
        port_from_env({"PORT": "http"})


def _onnx_records(caplog, models, monkeypatch, cuda_visible):
    import logging

    from mlfn_runtime.logs import JsonFormatter

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", cuda_visible)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mlfn_runtime"):
        load(models["onnx"], None, None, None)
    return [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "mlfn_runtime"]


def test_onnx_logs_the_execution_providers_the_session_uses(caplog, models, monkeypatch):
    """onnxruntime falls back to CPU without an error when the CUDA provider cannot start (no
    onnxruntime-gpu, a missing CUDA/cuDNN library): ``InferenceSession.get_providers()`` says what
    the session actually uses (https://onnxruntime.ai/docs/api/python/api_summary.html)."""
    import onnxruntime as ort

    records = _onnx_records(caplog, models, monkeypatch, "-1")  # no GPU visible
    (info,) = [r for r in records if "execution providers" in r["message"]]
    assert info["level"] == "INFO" and "CPUExecutionProvider" in info["message"]
    assert not [r for r in records if r["level"] == "WARNING"]
    assert "CUDAExecutionProvider" not in ort.get_available_providers()  # the venv has the CPU build


def test_onnx_warns_when_a_gpu_is_visible_but_cuda_is_not_used(caplog, models, monkeypatch):
    """The worker was given GPU 0 (CUDA_VISIBLE_DEVICES, as the supervisor pins each worker), yet the
    session runs on CPU only: a WARNING that says so and what to check."""
    records = _onnx_records(caplog, models, monkeypatch, "0")
    (warning,) = [r for r in records if r["level"] == "WARNING"]
    assert "CUDAExecutionProvider" in warning["message"] and "CUDA_VISIBLE_DEVICES=0" in warning["message"]
    assert "onnxruntime-gpu" in warning["message"] and "CPUExecutionProvider" in warning["message"]


def test_onnx_warns_when_onnxruntime_gpu_is_installed_but_cuda_did_not_start(caplog):
    import logging

    from mlfn_runtime.models.onnx_model import report_providers

    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    with caplog.at_level(logging.INFO, logger="mlfn_runtime"):
        report_providers(["CPUExecutionProvider"], available, {"CUDA_VISIBLE_DEVICES": "1"})
        report_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], available, {"CUDA_VISIBLE_DEVICES": "1"})
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "did not start" in warnings[0] and "cuDNN 9" in warnings[0]
    assert sum("execution providers" in r.getMessage() for r in caplog.records if r.levelname == "INFO") == 2
