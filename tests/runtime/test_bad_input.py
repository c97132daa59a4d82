"""Bad input that used to get a 500 (issue #12, item 3): each is a 4xx with a reason now.

The rule for non-finite numbers: +-infinity, and values that overflow the tensor's type, are a 422;
NaN reaches the model (XGBoost and HistGradientBoosting read it as missing) and a model that
refuses it gets a 422; a non-finite prediction is a 422, never a 200 with nulls.
"""

import asyncio
import logging

import numpy as np
import orjson
import pytest
from mlfn_runtime.dataplane import DataPlane, InferenceRequest
from mlfn_runtime.errors import InvalidInput, NonFiniteOutput
from mlfn_runtime.models import LoadedModel, load
from mlfn_runtime.protocols.kserve import decode_v2_input
from prometheus_client import REGISTRY
from runtime_helpers import ROWS
from test_protocols import client_for, reason

CSV = {"content-type": "text/csv"}


@pytest.fixture
def client(models):
    return client_for(models["sklearn"])


def v2(data, shape, datatype="FP64", **extra):
    return {"inputs": [{"name": "x", "shape": shape, "datatype": datatype, "data": data}], **extra}


@pytest.mark.parametrize("datatype", [{"a": 1}, ["FP32"], 7, None])
def test_v2_datatype_that_is_not_a_string(client, datatype):
    r = client.post("/v2/models/iris/infer", json=v2(ROWS[0], [1, 4], datatype))
    assert r.status_code == 422 and "datatype" in reason(r)


@pytest.mark.parametrize("params", [3, [1], "x", True])
@pytest.mark.parametrize(("path", "body"), [
    ("/v1/models/iris:predict", {"instances": ROWS}),
    ("/v2/models/iris/infer", v2(ROWS[0], [1, 4])),
    ("/invocations", {"instances": ROWS}),
    ("/score", {"instances": ROWS}),
])
def test_parameters_that_are_not_an_object(client, path, body, params):
    r = client.post(path, json={**body, "parameters": params})
    assert r.status_code == 422 and "parameters must be an object" in reason(r)


def test_v2_input_parameters_that_are_not_an_object(client):
    body = v2(ROWS[0], [1, 4])
    body["inputs"][0]["parameters"] = [1]
    r = client.post("/v2/models/iris/infer", json=body)
    assert r.status_code == 422 and "parameters must be an object" in reason(r)


def test_v2_data_nested_a_thousand_deep(client):
    deep = b"[" * 1000 + b"1" + b"]" * 1000
    body = b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": ' + deep + b"}]}"
    r = client.post("/v2/models/iris/infer", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "nested deeper" in reason(r)
    # nested as deep as the shape is fine, flat or not
    nested = v2([[[1, 2]], [[3, 4]]], [2, 1, 2])
    assert decode_v2_input(nested["inputs"][0]).tolist() == [[[1, 2]], [[3, 4]]]


@pytest.mark.parametrize("row", ["1,2,inf,4", "1,2,-inf,4", "1e400,2,3,4", "Infinity,2,3,4"])
def test_csv_infinity_and_overflow_are_422(client, row):
    r = client.post("/invocations", content=row, headers=CSV)
    assert r.status_code == 422 and "infinity" in reason(r)


def test_csv_nan_reaches_the_model_and_its_refusal_is_a_422(client):
    r = client.post("/invocations", content="5.1,nan,1.4,0.2\n", headers=CSV)
    assert r.status_code == 422, r.text
    assert "NaN" in reason(r) and "LogisticRegression" in reason(r)


def test_nan_is_missing_for_models_that_take_it(tmp_path, iris):
    import joblib
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = iris
    joblib.dump(HistGradientBoostingClassifier(max_iter=5).fit(x, y), tmp_path / "model.joblib")
    r = client_for(tmp_path).post("/invocations", content="5.1,nan,1.4,0.2\n6.7,3.0,nan,2.3\n", headers=CSV)
    assert r.status_code == 200 and len(r.json()["predictions"]) == 2


@pytest.mark.parametrize(("datatype", "value"), [("FP32", 1e39), ("FP16", 70000), ("FP32", -1e39)])
def test_v2_value_that_overflows_its_datatype(client, datatype, value):
    r = client.post("/v2/models/iris/infer", json=v2([value, 1, 1, 1], [1, 4], datatype))
    assert r.status_code == 422 and f"too large for {np.dtype(datatype.replace('FP', 'float'))}" in reason(r)


@pytest.mark.parametrize(("datatype", "value"), [("INT8", 300), ("UINT8", -1), ("INT64", 1e30), ("INT64", 2**64)])
def test_v2_integer_out_of_range(client, datatype, value):
    r = client.post("/v2/models/iris/infer", json=v2([value, 1, 1, 1], [1, 4], datatype))
    assert r.status_code == 422 and "range" in reason(r)


def test_v2_python_int_too_large_for_a_float(client):
    r = client.post("/v2/models/iris/infer", json=v2([10**400, 1, 1, 1], [1, 4], "FP64"))
    assert r.status_code in (400, 422)  # orjson refuses it as JSON already


def test_value_that_overflows_the_models_dtype(models):
    """XGBoost takes float32: 1e300 is finite JSON but infinity once cast."""
    r = client_for(models["xgb-json"]).post("/invocations", json={"instances": [[1e300, 1, 1, 1]]})
    assert r.status_code == 422 and "too large for float32" in reason(r)


def test_v2_shape_with_zero_rows_is_422(client):
    r = client.post("/v2/models/iris/infer", json=v2([], [0, 4]))
    assert r.status_code == 422 and "instances is empty" in reason(r)


def fast_plane(model) -> DataPlane:
    plane = DataPlane()
    plane.set_model(LoadedModel("m", "sklearn", model, None, 0.0))
    plane._avg_predict_s = 0.0  # measured fast: inline, batched
    return plane


async def together(plane, requests):
    return await asyncio.gather(*(plane.infer(r) for r in requests), return_exceptions=True)


def test_zero_rows_is_422_when_batched_with_others_too(models):
    plane = fast_plane(load(models["sklearn"], None, None, None).model)
    empty = decode_v2_input(v2([], [0, 4])["inputs"][0])
    results = asyncio.run(together(plane, [InferenceRequest(ROWS, {}), InferenceRequest(empty, {}),
                                           InferenceRequest(ROWS, {})]))
    assert isinstance(results[1], InvalidInput) and "empty" in results[1].detail
    assert results[0].predictions.tolist() == results[2].predictions.tolist() == [0, 2]


def test_predict_proba_on_huge_values_is_422_not_200_with_nulls(client):
    body = {"instances": [[1e308, 1e308, 1e308, 1e308]], "parameters": {"predict_proba": True}}
    r = client.post("/invocations", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "non_finite_output" and "non-finite output" in reason(r)
    ok = {"instances": ROWS, "parameters": {"predict_proba": True}}
    assert client.post("/invocations", json=ok).status_code == 200


def test_non_finite_output_fails_only_its_own_request_in_a_batch(models):
    plane = fast_plane(load(models["sklearn"], None, None, None).model)
    huge = [[1e308] * 4]
    results = asyncio.run(together(plane, [InferenceRequest(ROWS, {"predict_proba": 1}),
                                           InferenceRequest(huge, {"predict_proba": 1}),
                                           InferenceRequest(ROWS, {"predict_proba": 1})]))
    assert isinstance(results[1], NonFiniteOutput)
    assert np.isfinite(results[0].predictions).all() and np.isfinite(results[2].predictions).all()


@pytest.mark.parametrize("out", [[1.0, float("nan")], [{"a": float("inf")}], np.array([np.nan]),
                                 [np.float32("inf")]])
def test_a_handlers_non_finite_output_is_422(out):
    class Handler:
        batchable = False

        def predict(self, instances, parameters):
            return out

    with pytest.raises(NonFiniteOutput):
        asyncio.run(fast_plane(Handler()).infer(InferenceRequest([[1]], {})))


def test_client_that_disconnects_mid_body_is_not_a_500(client, caplog):
    """The body stops half-way and the connection closes: logged as a disconnect, counted as 499."""
    app = client.app
    sent = []
    messages = iter([
        {"type": "http.request", "body": b'{"instances": [[1, 2,', "more_body": True},
        {"type": "http.disconnect"},
    ])

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/invocations", "raw_path": b"/invocations",
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000),
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]}
    def count(status):
        return REGISTRY.get_sample_value("mlfn_requests_total", {"route": "invocations", "status": status}) or 0

    before = {s: count(s) for s in ("499", "500")}
    with caplog.at_level(logging.INFO, logger="mlfn_runtime"):
        asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 499
    assert orjson.loads(sent[1]["body"])["error"] == "client_closed_request"
    assert "unhandled" not in caplog.text and "disconnected" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert count("499") == before["499"] + 1 and count("500") == before["500"]


@pytest.mark.parametrize("body", ["G\u00e4\r\u0086", "1" * 200_000])
def test_csv_the_csv_module_refuses_is_422(client, body):
    """Found by the fuzz run: a bare carriage return, and a field over the csv module's limit, were 500s."""
    r = client.post("/invocations", content=body, headers=CSV)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(("rows", "said"), [
    ([["5.1x", "a", "b", "c"]], "got text such as '5.1x'"),
    ([[1, 2, 3, 4], [1, 2]], "the rows have different lengths, or a value is itself a list"),
])
def test_shape_and_type_errors_are_said_without_numpy_jargon(client, rows, said):
    r = client.post("/invocations", json={"instances": rows})
    assert r.status_code == 422 and said in reason(r) and "<U" not in reason(r) and "inhomogeneous" not in reason(r)
