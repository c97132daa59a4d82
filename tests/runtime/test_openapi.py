"""The static OpenAPI document (mlfn_runtime/openapi.json) is the app's HTTP surface, no more, no less."""

import json
from importlib import resources

import pytest
from mlfn_runtime.app import build_app
from mlfn_runtime.dataplane import DataPlane
from mlfn_runtime.settings import Settings
from starlette.routing import Route
from starlette.testclient import TestClient

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def app_routes(runtime) -> dict[str, set[str]]:
    """{path: methods}; HEAD, which Starlette adds to every GET route, is left out (the document says so)."""
    out: dict[str, set[str]] = {}
    for route in runtime.app.router.routes:
        assert isinstance(route, Route)
        out.setdefault(route.path, set()).update(m.lower() for m in route.methods if m != "HEAD")
    return out


def doc_routes(doc) -> dict[str, set[str]]:
    return {path: set(item) & METHODS for path, item in doc["paths"].items()}


def package_doc():
    return json.loads(resources.files("mlfn_runtime").joinpath("openapi.json").read_text())


def test_the_document_lists_exactly_the_apps_routes_and_methods():
    assert doc_routes(package_doc()) == app_routes(build_app(Settings(), DataPlane()))


def test_custom_vertex_routes_are_added_to_the_served_document():
    runtime = build_app(Settings(vertex_health_route="/vx/health", vertex_predict_route="/vx/predict"), DataPlane())
    served = TestClient(runtime).get("/openapi.json")
    assert served.status_code == 200 and served.headers["content-type"] == "application/json"
    doc = served.json()
    assert doc_routes(doc) == app_routes(runtime)
    assert doc["paths"]["/vx/predict"]["post"]["requestBody"] == doc["paths"]["/invocations"]["post"]["requestBody"]


def test_served_document_is_the_package_file():
    assert TestClient(build_app(Settings(), DataPlane())).get("/openapi.json").json() == package_doc()


def test_document_is_openapi_3_1_with_unique_operation_ids_and_resolvable_refs():
    doc = package_doc()
    assert doc["openapi"].startswith("3.1")
    ids = [op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m in METHODS]
    assert len(ids) == len(set(ids))
    text = json.dumps(doc)
    for name in doc["components"]["schemas"]:
        assert f'"#/components/schemas/{name}"' in text
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        assert ref.removeprefix("#/components/schemas/") in doc["components"]["schemas"], ref


@pytest.mark.parametrize("path", ["/v2/models/{name}/infer", "/invocations", "/v1/models/{name}:predict"])
def test_error_bodies_follow_each_protocol(path):
    op = package_doc()["paths"][path]["post"]
    want = "KServeError" if path.startswith(("/v1/", "/v2")) else "Error"
    for status, response in op["responses"].items():
        if status >= "400":
            assert response["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{want}"}
