"""Every protocol and every bad input, in process (the same app uvicorn serves)."""

import pytest
from mlfn_runtime.app import build_app
from mlfn_runtime.dataplane import DataPlane
from mlfn_runtime.models import load
from mlfn_runtime.settings import Settings
from runtime_helpers import ROWS
from starlette.testclient import TestClient


def client_for(model_dir, **settings) -> TestClient:
    plane = DataPlane()
    plane.set_model(load(model_dir, None, None, None))
    return TestClient(build_app(Settings(**settings), plane))


@pytest.fixture
def client(models):
    return client_for(models["sklearn"])


def expected(sklearn_model):
    import numpy as np

    return sklearn_model.predict(np.array(ROWS)).tolist()


def test_sagemaker(client, sklearn_model):
    assert client.get("/ping").status_code == 200
    r = client.post("/invocations", json={"instances": ROWS})
    assert r.status_code == 200 and r.json() == {"predictions": expected(sklearn_model)}
    assert r.headers["x-request-id"]
    r = client.post("/invocations", content="5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n", headers={"content-type": "text/csv"})
    assert r.json() == {"predictions": expected(sklearn_model)}
    assert client.post("/invocations", json=ROWS).json() == {"predictions": expected(sklearn_model)}


def test_azure(client, sklearn_model):
    assert client.get("/health/live").status_code == 200
    assert client.get("/health/ready").json() == {"status": "ready", "model": "iris"}
    assert client.post("/score", json={"data": ROWS}).json() == {"predictions": expected(sklearn_model)}


def test_vertex_routes_from_environment(models, sklearn_model):
    c = client_for(models["sklearn"], vertex_health_route="/vx/health", vertex_predict_route="/vx/predict")
    assert c.get("/vx/health").status_code == 200
    r = c.post("/vx/predict", json={"instances": ROWS, "parameters": {"predict_proba": True}})
    assert r.status_code == 200 and len(r.json()["predictions"][0]) == 3
    assert c.post("/vx/predict", json=ROWS).status_code == 422


def test_kserve_v1(client, sklearn_model):
    assert client.get("/v1/models/iris").json() == {"name": "iris", "ready": True}
    r = client.post("/v1/models/iris:predict", json={"instances": ROWS})
    assert r.json() == {"predictions": expected(sklearn_model)}
    r = client.post("/v1/models/other:predict", json={"instances": ROWS})
    assert r.status_code == 404 and r.json()["error"] == "model 'other' is not served here (this server serves 'iris')"


@pytest.mark.parametrize("datatype", ["FP32", "FP64", "INT64", "INT32"])
def test_kserve_v2_infer(client, sklearn_model, datatype):
    rows = ROWS if datatype.startswith("FP") else [[5, 3, 1, 0], [7, 3, 5, 2]]
    body = {"id": "abc", "inputs": [{"name": "x", "shape": [2, 4], "datatype": datatype,
                                     "data": [v for row in rows for v in row]}]}
    r = client.post("/v2/models/iris/infer", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model_name"] == "iris" and out["id"] == "abc"
    assert out["outputs"][0]["shape"] == [2] and out["outputs"][0]["datatype"] == "INT64"


def test_kserve_v2_metadata_and_health(client):
    assert client.get("/v2").json()["name"] == "mlfn-runtime"
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/iris").json()["platform"] == "sklearn"
    assert client.get("/v2/models/iris/ready").json() == {"name": "iris", "ready": True}
    assert client.get("/v2/models/nope").status_code == 404
    assert client.get("/v2/models/nope/ready").status_code == 404


def test_v2_bool_and_bytes_reach_a_custom_handler(models):
    c = client_for(models["broken"])
    for datatype, data in [("BOOL", [True, False]), ("BYTES", ["a", "b"])]:
        body = {"inputs": [{"name": "x", "shape": [2, 1], "datatype": datatype, "data": data}]}
        r = c.post("/v2/models/broken/infer", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["outputs"][0]["data"] == [0, 0]


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "detail"),
    [
        ("/invocations", {"content": b"{bad", "headers": {"content-type": "application/json"}}, 400, "malformed JSON"),
        ("/invocations", {"content": b"", "headers": {"content-type": "application/json"}}, 400, "body is empty"),
        ("/invocations", {"content": b"<x/>", "headers": {"content-type": "application/xml"}}, 415, "application/xml"),
        ("/score", {"content": b"a,b", "headers": {"content-type": "text/csv"}}, 415, "text/csv"),
        ("/invocations", {"json": {"rows": ROWS}}, 422, 'expected {"instances"'),
        ("/invocations", {"json": {"instances": [[1, 2, 3]]}}, 422, "expected rows of 4 features, got 3"),
        ("/invocations", {"json": {"instances": [["a", "b", "c", "d"]]}}, 422, "rows of numbers"),
        ("/invocations", {"json": {"instances": []}}, 422, "instances is empty"),
        ("/invocations", {"json": {"instances": ROWS, "parameters": 3}}, 422, "parameters must be an object"),
        ("/invocations", {"content": b"1,x\n", "headers": {"content-type": "text/csv"}}, 422, "line 1"),
        ("/v2/models/iris/infer", {"json": {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32",
                                                         "data": [1, 2]}]}}, 422, "needs 8 values, got 2"),
        ("/v2/models/iris/infer", {"json": {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP7",
                                                         "data": [1, 2, 3, 4]}]}}, 422, "datatype 'FP7'"),
        ("/v2/models/iris/infer", {"json": {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT64",
                                                         "data": [1.5, 2, 3, 4]}]}}, 422, "must be integers"),
        ("/v2/models/iris/infer", {"json": {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "BOOL",
                                                         "data": [1]}]}}, 422, "true/false"),
        ("/v2/models/iris/infer", {"json": {"inputs": [{"name": "x"}]}}, 422, "missing shape, datatype, data"),
        ("/v2/models/iris/infer", {"json": {"instances": ROWS}}, 422, "V2 requests are"),
    ],
)
def test_bad_input_gets_a_4xx_with_a_reason(client, path, kwargs, status, detail):
    r = client.post(path, **kwargs)
    assert r.status_code == status, r.text
    assert detail in reason(r)
    assert client.get("/ping").status_code == 200


def reason(r) -> str:
    """The message of an error response: KServe V1/V2's {"error": message}, everyone else's "detail"."""
    body = r.json()
    if r.url.path.startswith(("/v1/", "/v2")):
        assert set(body) == {"error", "request_id"}, body
        return body["error"]
    assert set(body) == {"error", "detail", "request_id"}, body
    return body["detail"]


def test_payload_over_the_limit_is_413(models):
    c = client_for(models["sklearn"], max_body_bytes=100)
    r = c.post("/invocations", json={"instances": ROWS * 10})
    assert r.status_code == 413 and "MLFN_MAX_BODY_BYTES" in r.json()["detail"]

    def chunks():
        yield b'{"instances": ['
        for _ in range(20):
            yield b"[1, 2, 3, 4],"
        yield b"[1, 2, 3, 4]]}"

    r = c.post("/invocations", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_model_failure_is_500_with_request_id_and_server_stays_up(models):
    c = client_for(models["broken"])
    r = c.post("/invocations", json={"instances": [[666]]}, headers={"x-request-id": "req-1"})
    assert r.status_code == 500
    assert r.json() == {"error": "model_error", "detail": "the model raised RuntimeError: the model fell over",
                        "request_id": "req-1"}
    assert c.post("/invocations", json={"instances": [[1]]}).json() == {"predictions": [0]}


def test_not_loaded_yet_is_503(models):
    c = TestClient(build_app(Settings(), DataPlane()))
    assert c.get("/ping").status_code == 503
    assert c.get("/health/ready").status_code == 503
    assert c.get("/v2/health/ready").status_code == 503
    assert c.get("/health/live").status_code == 200
    r = c.post("/invocations", json={"instances": ROWS})
    assert r.status_code == 503 and r.json()["error"] == "not_ready"


def test_unknown_route_and_method_are_json(client):
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.get("/invocations")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_api_keys_guard_predict_routes_only(models):
    c = client_for(models["sklearn"], api_keys=("k1", "k2"))
    for path, body in [("/invocations", {"instances": ROWS}), ("/score", {"instances": ROWS}),
                       ("/v1/models/iris:predict", {"instances": ROWS})]:
        assert c.post(path, json=body).status_code == 401
        assert c.post(path, json=body, headers={"authorization": "Bearer nope"}).status_code == 401
        assert c.post(path, json=body, headers={"authorization": "Bearer k2"}).status_code == 200
        assert c.post(path, json=body, headers={"x-api-key": "k1"}).status_code == 200
    assert c.get("/ping").status_code == 200
    assert c.get("/health/ready").status_code == 200
    assert c.get("/v2/health/ready").status_code == 200


def test_metrics(client):
    client.post("/invocations", json={"instances": ROWS})
    client.post("/invocations", json={"instances": [[1]]})
    text = client.get("/metrics").text
    assert 'mlfn_requests_total{route="invocations",status="200"}' in text
    assert 'mlfn_errors_total{route="invocations",status="422"}' in text
    assert "mlfn_request_latency_seconds_bucket" in text
    assert "mlfn_model_load_seconds" in text


# ---- protocol details real clients trip on (issue #12, item 7)


def test_kserve_v1_server_live_and_model_list(client):
    assert client.get("/").json() == {"status": "alive"}
    assert client.get("/v1/models").json() == {"models": ["iris"]}


def test_v2_routes_with_a_version(client, sklearn_model):
    v2 = {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": ROWS}]}
    r = client.post("/v2/models/iris/versions/3/infer", json=v2)
    assert r.status_code == 200
    assert r.json()["model_version"] == "3" and r.json()["outputs"][0]["data"] == expected(sklearn_model)
    assert client.get("/v2/models/iris/versions/3/ready").json() == {"name": "iris", "ready": True}
    assert client.get("/v2/models/iris/versions/3").json()["name"] == "iris"
    assert client.get("/v2/models/other/versions/3").status_code == 404


def test_v2_metadata_names_the_input(client):
    assert client.get("/v2/models/iris").json()["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]


def test_kserve_errors_are_a_descriptive_message(client):
    r = client.post("/v2/models/iris/infer", json={"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP7",
                                                                 "data": [1, 2, 3, 4]}]})
    assert r.status_code == 422 and r.json()["error"].startswith("V2 input 'x': datatype 'FP7' is not one of")
    r = client.get("/v2/models/other")
    assert r.status_code == 404 and "model 'other' is not served here" in r.json()["error"]
    r = client.get("/v2/nope")
    assert r.status_code == 404 and r.json()["error"] == "no route GET /v2/nope"
    r = client.post("/v1/models/iris:predict", json={"instances": [[1, 2]]})
    assert r.status_code == 422 and r.json()["error"] == "expected rows of 4 features, got 2"


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/invocations", "POST"), ("PUT", "/ping", "GET, HEAD"), ("GET", "/v2/models/iris/infer", "POST"),
    ("DELETE", "/v1/models/iris", "GET, HEAD"),
])
def test_405_names_the_allowed_methods(client, method, path, allow):
    r = client.request(method, path)
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == set(allow.split(", "))
    assert "is not allowed" in reason(r)


def test_binary_tensor_extension_is_refused_clearly(client):
    header = b'{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}'
    body = header + bytes(16)
    r = client.post("/v2/models/iris/infer", content=body,
                    headers={"inference-header-content-length": str(len(header)),
                             "content-type": "application/octet-stream"})
    assert r.status_code == 415 and "binary tensor data extension is not supported" in reason(r)
    r = client.post("/v2/models/iris/infer", content=header, headers={"content-type": "application/json"})
    assert r.status_code == 415 and "binary_data=False" in reason(r)


def test_v2_requested_outputs(client):
    base = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROWS[0]}]}
    # a binary output request is answered in JSON (tritonclient reads both)
    r = client.post("/v2/models/iris/infer", json={**base, "outputs": [{"name": "label", "parameters": {
        "binary_data": True}}], "parameters": {"binary_data_output": True}})
    assert r.status_code == 200 and r.json()["outputs"][0]["name"] == "label"
    for outputs in (3, [{"name": "a"}, {"name": "b"}], [{"name": "p", "parameters": 1}], [{}]):
        r = client.post("/v2/models/iris/infer", json={**base, "outputs": outputs})
        assert r.status_code == 422, outputs


def test_prediction_metric_routes_are_the_routes_that_run_the_model():
    """``mlfn cost`` averages the latency of contract.PREDICTION_METRIC_ROUTES: exactly the routes that run
    the model (the protected ones), across every protocol and any Vertex route names."""
    from mlfn_runtime import contract

    app = build_app(Settings(vertex_predict_route="/p", vertex_health_route="/h"), DataPlane()).app
    endpoints = [r.endpoint for r in app.router.routes if hasattr(r.endpoint, "mlfn_metric")]
    assert len(endpoints) > 10
    running = {e.mlfn_metric for e in endpoints if e.mlfn_protected}
    others = {e.mlfn_metric for e in endpoints if not e.mlfn_protected}
    assert running == contract.PREDICTION_METRIC_ROUTES
    assert not others & contract.PREDICTION_METRIC_ROUTES
