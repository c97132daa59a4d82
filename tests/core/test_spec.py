from pathlib import Path

import pytest

from mlfn.errors import SpecError
from mlfn.spec import Spec, json_schema_text, load_spec

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name: iris
model:
  uri: ./model
  format: sklearn
compute:
  cpu: 2
  memory: 4Gi
  gpu: {type: t4, count: 1}
scaling: {min: 1, max: 4, concurrency: 8}
tags: {team: ds}
"""


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "mlfn.yaml"
    p.write_text(text)
    return p


def test_valid_spec_and_defaults(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.name == "iris"
    assert spec.compute.gpu.type == "t4"
    assert spec.compute.memory_mib == 4096
    assert spec.endpoint.auth == "private"
    assert spec.runtime.python == "3.11"
    assert spec.monitoring.capture == 0


def test_minimal_spec_defaults(tmp_path):
    spec = load_spec(write(tmp_path, "name: a\nmodel: {uri: m.joblib, format: sklearn}\n"))
    assert (spec.scaling.min, spec.scaling.max, spec.scaling.concurrency) == (0, 4, 8)
    assert spec.compute.cpu == 2 and spec.compute.memory == "4Gi"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("type: t4", "type: v100x"),
         "mlfn.yaml:8: compute.gpu.type: 'v100x' is not one of l4, t4, a10g, a100, h100"),
        (GOOD.replace("format: sklearn", "format: keras"),
         "mlfn.yaml:4: model.format: 'keras' is not one of sklearn, onnx, pytorch, xgboost, custom"),
        (GOOD.replace("name: iris", "name: Iris_Model"), "mlfn.yaml:1: name: 'Iris_Model': must be 1-40 characters"),
        (GOOD.replace("name: iris", "name: " + "a" * 41), "mlfn.yaml:1: name: "),
        (GOOD + "traffic: {canary: 10}\n", "mlfn.yaml:11: traffic: is not a known field"),
        (GOOD.replace("memory: 4Gi", "memory: lots"), "mlfn.yaml:7: compute.memory: 'lots': must be a size like"),
        (GOOD.replace("min: 1, max: 4", "min: 5, max: 4"), "scaling: max (4) must be at least min (5)"),
        (GOOD.replace("cpu: 2", "cpu: -1"), "compute.cpu: -1: Input should be greater than 0"),
        (GOOD.replace("format: sklearn", "format: custom"), "model: format custom needs handler: module:Class"),
        (GOOD + "endpoint: {auth: open}\n", "endpoint.auth: 'open' is not one of private, key, public"),
        (GOOD + "monitoring: {capture: 101}\n", "monitoring.capture: 101: Input should be less than or equal to 100"),
        (GOOD.replace("uri: ./model", "uri: ftp://x/m"), "model.uri: 'ftp://x/m': use a local path or an s3://"),
        (GOOD + "model2: 1\n", "model2: is not a known field"),
        ("model: {uri: m, format: sklearn}\n", "mlfn.yaml:1: name: is required"),
        ("name: [unclosed\n", "mlfn.yaml:2: not valid YAML"),
        ("- a\n- b\n", "expected a mapping of fields at the top level"),
    ],
)
def test_bad_spec_errors_name_file_line_field_and_allowed(tmp_path, text, message):
    with pytest.raises(SpecError) as e:
        load_spec(write(tmp_path, text))
    assert message in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "mlfn.yaml")


def test_committed_schema_matches_models():
    assert (ROOT / "mlfn.schema.json").read_text() == json_schema_text()


def test_schema_rejects_what_the_model_rejects():
    import jsonschema

    schema = Spec.model_json_schema()
    jsonschema.validate({"name": "a", "model": {"uri": "m", "format": "sklearn"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "a", "model": {"uri": "m", "format": "keras"}}, schema)
