"""The model's library versions: read from its files without loading them, recorded, pinned in the image."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from mlfn_runtime.contract import Manifest

from mlfn.image import PinConflict, pin_conflicts, write_context
from mlfn.image.context import extras_for
from mlfn.image.pins import model_libraries, sklearn_version_in_pickle
from mlfn.manifest import manifest_for
from mlfn.spec import load_spec

EXAMPLE_MODEL = Path(__file__).resolve().parents[2] / "examples" / "iris-sklearn" / "model" / "model.joblib"


@pytest.fixture(scope="module")
def estimator():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_iris(return_X_y=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(x, y)


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3)])
def test_joblib_files_plain_and_compressed(estimator, tmp_path, compress):
    import joblib
    import sklearn

    path = tmp_path / "model.joblib"
    joblib.dump(estimator, path, compress=compress)
    assert model_libraries(path, "sklearn") == {"scikit-learn": sklearn.__version__}


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_pickles_every_protocol(estimator, tmp_path, protocol):
    import sklearn

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(estimator, protocol=protocol))
    assert model_libraries(path, "sklearn") == {"scikit-learn": sklearn.__version__}


def test_skops_and_xgboost_json(estimator, tmp_path):
    import sklearn
    import skops
    import skops.io as sio
    import xgboost as xgb
    from sklearn.datasets import load_iris

    sio.dump(estimator, tmp_path / "model.skops")
    assert model_libraries(tmp_path / "model.skops", "sklearn") == {
        "scikit-learn": sklearn.__version__, "skops": skops.__version__}
    x, y = load_iris(return_X_y=True)
    xgb.train({"objective": "multi:softprob", "num_class": 3}, xgb.DMatrix(x, label=y), 2).save_model(
        str(tmp_path / "model.json"))
    assert model_libraries(tmp_path / "model.json", "xgboost") == {"xgboost": xgb.__version__}


def test_files_that_say_nothing_record_nothing(tmp_path):
    (tmp_path / "empty.pkl").write_bytes(b"")
    (tmp_path / "junk.joblib").write_bytes(b"x^not zlib _sklearn_version \x8c\x05")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07")
    assert model_libraries(tmp_path / "empty.pkl", "sklearn") == {}
    assert model_libraries(tmp_path / "junk.joblib", "sklearn") == {}
    assert model_libraries(tmp_path / "model.onnx", "onnx") == {}
    assert model_libraries(None, "sklearn") == {}


class _Trap:
    """Unpickling this would delete the sentinel file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        import os

        return (os.remove, (self.path,))


def test_the_pickle_is_never_loaded(tmp_path):
    sentinel = tmp_path / "sentinel"
    sentinel.write_text("still here")
    data = pickle.dumps({"trap": _Trap(str(sentinel)), "_sklearn_version": "1.4.2"})
    assert sklearn_version_in_pickle(data) == "1.4.2"
    assert sentinel.exists()


def test_manifest_records_the_libraries_and_round_trips(tmp_path):
    spec_path = tmp_path / "mlfn.yaml"
    spec_path.write_text("name: iris\nmodel: {uri: ./model, format: sklearn}\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.joblib").write_bytes(EXAMPLE_MODEL.read_bytes())
    manifest = manifest_for(load_spec(spec_path), tmp_path / "model")
    version = model_libraries(EXAMPLE_MODEL, "sklearn")["scikit-learn"]
    assert manifest.libraries == {"scikit-learn": version}
    manifest.write(tmp_path / "model")
    assert Manifest.read(tmp_path / "model") == manifest
    # A manifest with nothing recorded is written exactly as before.
    bare = Manifest(name="iris", format="onnx", model_file="model.onnx")
    assert "libraries" not in json.loads(bare.to_json())


def test_the_image_pins_the_recorded_versions(tmp_path):
    manifest = Manifest(name="iris", format="sklearn", model_file="model.joblib", libraries={"scikit-learn": "1.8.0"})
    from mlfn_aws.lambda_image import LAMBDA

    for variant in ("cpu", LAMBDA):
        ctx = write_context(tmp_path / str(getattr(variant, "name", variant)), variant=variant, manifest=manifest)
        assert (ctx.path / "constraints.txt").read_text().splitlines()[-1] == "scikit-learn==1.8.0"
        assert "-c " in ctx.dockerfile.read_text().split("RUN pip install", 1)[1].split("EXPOSE")[0]
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("pandas\nscikit-learn>=1.8\n")
    write_context(tmp_path / "ok", variant="cpu", manifest=manifest, requirements=reqs)


def test_a_conflicting_requirement_names_both_versions(tmp_path):
    manifest = Manifest(name="iris", format="sklearn", model_file="model.joblib", libraries={"scikit-learn": "1.9.1"})
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("numpy\nscikit-learn==1.7.2  # old\n")
    with pytest.raises(PinConflict) as e:
        write_context(tmp_path / "ctx", variant="cpu", manifest=manifest, requirements=reqs)
    assert "requirements.txt:2" in str(e.value) and "scikit-learn==1.7.2" in str(e.value) and "1.9.1" in str(e.value)
    assert pin_conflicts("scikit_learn~=1.9.0\n-r other.txt\n", {"scikit-learn": "1.9.1"}) == []


def test_store_client_follows_where_the_target_puts_the_model(tmp_path):
    manifest = Manifest(name="iris", format="sklearn", model_file="model.joblib")
    # Vertex: a local model today, but the platform hands the runtime a gs:// URI at start.
    text = write_context(tmp_path / "v", variant="cpu", manifest=manifest, model_store="gs").dockerfile.read_text()
    assert "-py3-none-any.whl[sklearn,skops,gcs]" in text and "MLFN_MODEL_URI" not in text
    assert extras_for("onnx", "cpu", model_store="s3://bucket/iris/model.tar.gz") == ("onnx", "s3")
    assert extras_for("onnx", "cpu", "gs://b/m", "gs") == ("onnx", "gcs")
    assert extras_for("onnx", "cpu", model_store="/mnt/models") == ("onnx",)


def test_pytorch_takes_torch_from_the_packaging_environment(tmp_path):
    import importlib.metadata as md

    (tmp_path / "model.pt2").write_bytes(b"PK")
    got = model_libraries(tmp_path / "model.pt2", "pytorch")
    assert got == {"torch": md.version("torch").split("+")[0]}  # no local label such as +cpu


def test_a_recorded_version_outside_the_runtimes_extra_is_refused_before_the_build(tmp_path):
    """torch 2.1 cannot sit beside the runtime's pytorch extra (torch>=2.3,<3): say so at plan time,
    not as a pip ResolutionImpossible inside the image build."""
    manifest = Manifest(name="m", format="pytorch", model_file="model.pt2", libraries={"torch": "2.1.2"})
    with pytest.raises(PinConflict) as e:
        write_context(tmp_path / "ctx", variant="cpu", manifest=manifest)
    assert "torch 2.1.2" in str(e.value) and "torch>=2.3,<3" in str(e.value) and "'pytorch' extra" in str(e.value)
    ok = Manifest(name="m", format="pytorch", model_file="model.pt2", libraries={"torch": "2.8.0"})
    write_context(tmp_path / "ok", variant="cpu", manifest=ok)


def test_xgboost_ubj_records_its_version_without_xgboost(tmp_path, monkeypatch):
    """XGBoost's UBJSON model (``save_model("model.ubj")``, its default format since 2.1) is the JSON
    document in Universal Binary JSON (https://ubjson.org/type-reference/,
    https://xgboost.readthedocs.io/en/stable/tutorials/saving_model.html): its top-level ``version``
    is read by a small decoder, never by importing xgboost."""
    import sys

    import numpy as np
    import xgboost as xgb

    x = np.arange(60, dtype=float).reshape(20, 3)
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x, label=x[:, 0] > 30), 2)
    booster.save_model(str(tmp_path / "model.ubj"))
    monkeypatch.setitem(sys.modules, "xgboost", None)  # importing it would now fail
    assert model_libraries(tmp_path / "model.ubj", "xgboost") == {"xgboost": xgb.__version__}


@pytest.mark.parametrize(("body", "version"), [
    # the spec's optimized container: typed (uint8) and counted
    (b"[$U#U\x03\x02\x01\x03", "2.1.3"),
    # counted, each element with its own marker (what xgboost 3.x writes), int64 count
    (b"[#L\x00\x00\x00\x00\x00\x00\x00\x03i\x03i\x00I\x01\x00", "3.0.256"),
    # a plain array closed by ']'
    (b"[i\x01l\x00\x00\x00\x07i\x06]", "1.7.6"),
])
def test_xgboost_ubj_version_forms(tmp_path, body, version):
    key = b"i\x07version"
    learner = b"U\x07learner{U\x01a[$d#U\x02" + b"\x00" * 8 + b"}"  # a typed float32 array before it
    (tmp_path / "model.ubj").write_bytes(b"{" + learner + key + body + b"}")
    assert model_libraries(tmp_path / "model.ubj", "xgboost") == {"xgboost": version}


@pytest.mark.parametrize("data", [
    b"", b"{}", b"{i\x07version[i\x02", b"{i\x07versionS" + b"U\x031.0}",
    b"{i\x07version[$d#U\x03" + b"\x00" * 12 + b"}",
    b"{i\x08versions[i\x02i\x01i\x00]}",
])
def test_a_ubj_that_says_no_version_records_nothing(tmp_path, data):
    (tmp_path / "model.ubj").write_bytes(data)
    assert model_libraries(tmp_path / "model.ubj", "xgboost") == {}
