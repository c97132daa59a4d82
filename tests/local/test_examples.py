"""Every example runs: up -> invoke -> destroy, with a real runtime process."""

import json
import shutil

import pytest
from helpers import EXAMPLES

import mlfn

pytestmark = pytest.mark.slow
ROW = [5.1, 3.5, 1.4, 0.2]


def copy(name, tmp_path):
    dest = tmp_path / name
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns(".mlfn"))
    return dest


@pytest.mark.parametrize(
    ("example", "body", "expected"),
    [
        ("iris-sklearn", {"instances": [ROW]}, {"predictions": [0]}),
        ("onnx", {"instances": [ROW]}, {"predictions": [0]}),
        ("custom-handler",
         {"instances": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]},
         {"predictions": [{"species": "setosa", "probability": 0.9816}]}),
    ],
)
def test_example_up_invoke_destroy(example, body, expected, tmp_path):
    project = copy(example, tmp_path)
    mlfn.validate(project)
    try:
        result = mlfn.up(project)
        assert result.action == "started"
        r = mlfn.invoke(project, json.dumps(body).encode())
        assert r.ok, r.body
        assert json.loads(r.body) == expected
    finally:
        assert mlfn.destroy(project).destroyed is True


@pytest.mark.parametrize("fmt", ["sklearn", "onnx", "pytorch", "xgboost", "custom"])
def test_init_scaffolds_a_runnable_project_for_every_format(fmt, tmp_path):
    from mlfn.scaffold import init

    result = init(tmp_path / f"p-{fmt}", fmt)
    assert result.servable, result.message
    project = result.directory
    try:
        assert mlfn.up(project).action == "started"
        r = mlfn.invoke(project, json.dumps({"instances": [ROW]}).encode())
        assert r.ok, r.body
        assert len(json.loads(r.body)["predictions"]) == 1
    finally:
        mlfn.destroy(project)
