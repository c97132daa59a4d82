"""Schemathesis against a real runtime on 127.0.0.1, driven by the runtime's own OpenAPI document.

At least 1,000 generated requests (valid and invalid by the document) to every operation; none may
get a 5xx, every 4xx must be JSON with a reason, and every response must match the document.
"""

import collections
import time

import httpx
import pytest
from runtime_helpers import IRIS_MODEL, Server, require

pytestmark = pytest.mark.slow

#: Examples per operation and generation mode (modes: valid, and invalid where there is anything to break).
#: ~1,100 requests in all; the versioned infer route shares its handler with the plain one, so it gets
#: fewer of the slowest bodies to generate.
EXAMPLES = 80
EXAMPLES_VERSIONED_INFER = 15
MIN_REQUESTS = 1000


def reason_check(ctx, response, case):
    """Every 4xx is a JSON object with a non-empty reason (V2: "error" is the message; others: "detail")."""
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict), f"{response.status_code} body is not a JSON object: {response.text!r}"
        message = body.get("detail") if "detail" in body else body.get("error")
        assert isinstance(message, str) and message, f"{response.status_code} without a reason: {body!r}"
    return True


def test_fuzz_the_runtime_with_its_openapi_document(tmp_path):
    schemathesis = require("schemathesis")
    hypothesis = require("hypothesis")
    from schemathesis import checks
    from schemathesis.generation import GenerationMode

    server = Server(IRIS_MODEL, env={"MLFN_MODEL_NAME": "iris"}, log=tmp_path / "server.log")
    try:
        server.wait_ready()
        doc = httpx.get(server.url + "/openapi.json").json()
        # Valid requests name the served model, so they get past the 404; invalid ones name others.
        for item in doc["paths"].values():
            for op in item.values():
                for param in op.get("parameters", []):
                    if param["name"] == "name":
                        param["schema"] = {"const": "iris"}
        schema = schemathesis.openapi.from_dict(doc)
        statuses: collections.Counter = collections.Counter()
        session = __import__("requests").Session()
        validate = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
                    checks.response_schema_conformance, checks.response_headers_conformance]
        start = time.monotonic()
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            spec = doc["paths"][operation.path][operation.method.lower()]
            # Invalid data needs something to be invalid: a path parameter or a body.
            negative = "parameters" in spec or "requestBody" in spec
            examples = EXAMPLES_VERSIONED_INFER if operation.path.endswith("/versions/{version}/infer") else EXAMPLES
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if negative else (GenerationMode.POSITIVE,):

                @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
                @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                                     phases=[hypothesis.Phase.generate],
                                     suppress_health_check=list(hypothesis.HealthCheck))
                def fuzz(case):
                    response = case.call(base_url=server.url, session=session, timeout=10)
                    statuses[response.status_code] += 1
                    try:
                        case.validate_response(response, checks=validate, additional_checks=[reason_check])
                    except Exception as e:
                        raise AssertionError(f"{case.as_curl_command()}\n-> {response.status_code} "
                                             f"{response.text[:500]}\n{e}") from e

                fuzz()
        seconds = time.monotonic() - start
        total = sum(statuses.values())
        print(f"fuzz: {total} requests to {len(operations)} operations in {seconds:.1f}s, statuses {dict(statuses)}")
        assert total >= MIN_REQUESTS
        assert not [s for s in statuses if s >= 500]
        assert server.proc.poll() is None, "the server died"
        assert httpx.get(server.url + "/ping").status_code == 200
    finally:
        server.stop()
