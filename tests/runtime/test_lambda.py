"""The Lambda handler behind Mangum, with real event payloads of each kind."""

import base64
import importlib
import json
import sys

import pytest
from lambda_events import http_v2 as _http_v2
from lambda_events import rest_v1 as _rest_v1
from runtime_helpers import ROWS

BODY = json.dumps({"instances": ROWS})


@pytest.fixture
def handler(models, monkeypatch):
    monkeypatch.setenv("MLFN_MODEL_URI", str(models["sklearn"]))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "iris")
    sys.modules.pop("mlfn_runtime.lambda_handler", None)
    module = importlib.import_module("mlfn_runtime.lambda_handler")
    assert module.plane.ready  # loaded once, at init
    assert module.settings.workers == 1
    return module.handler


def http_v2(path="/invocations", body=None, b64=False, url=True):
    return _http_v2(path, BODY if body is None else body, b64=b64, url=url)


def rest_v1(path="/invocations"):
    return _rest_v1(path, BODY)


class Context:
    function_name = "iris"
    aws_request_id = "req-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:iris"


def alb(path="/invocations"):
    return {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}},
        "httpMethod": "POST", "path": path, "queryStringParameters": {},
        "headers": {"content-type": "application/json", "host": "lb.example.com"},
        "body": BODY, "isBase64Encoded": False,
    }


def predictions(response):
    assert response["statusCode"] == 200, response
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)["predictions"]


def test_function_url_event(handler, sklearn_model):
    import numpy as np

    assert predictions(handler(http_v2(), Context())) == sklearn_model.predict(np.array(ROWS)).tolist()


def test_function_url_base64_body(handler):
    assert len(predictions(handler(http_v2(b64=True), Context()))) == 2


def test_http_api_v2_event(handler):
    assert len(predictions(handler(http_v2("/score", url=False), Context()))) == 2


def test_rest_api_v1_event(handler):
    assert len(predictions(handler(rest_v1(), Context()))) == 2


def test_alb_event(handler):
    assert len(predictions(handler(alb("/v1/models/iris:predict"), Context()))) == 2


def test_bad_body_through_lambda_is_a_400(handler):
    r = handler(http_v2(body="{nope"), Context())
    assert r["statusCode"] == 400 and json.loads(r["body"])["error"] == "bad_request"


def test_lambda_entry_exits_on_sigterm_even_while_blocked(models, tmp_path):
    """Inside Lambda's runtime the main thread waits in native code for the next event; SIGTERM
    must still end the process promptly, with status 0 (it used to wait for SIGKILL)."""
    import os
    import signal
    import subprocess

    probe = ("import os, mlfn_runtime.lambda_handler as h; assert h.plane.ready; print('ready', flush=True); "
             "r, w = os.pipe(); os.read(r, 1)")  # blocks like the runtime client's next-event call
    env = {**os.environ, "MLFN_MODEL_URI": str(models["sklearn"]), "AWS_LAMBDA_FUNCTION_NAME": "iris",
           "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}
    p = subprocess.Popen([sys.executable, "-c", probe], env=env, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGTERM)
    assert p.wait(5) == 0


def test_logs_are_the_runtimes_json_lines_only_inside_lambda(handler, monkeypatch):
    """awslambdaric leaves the root logger at WARNING with a text handler: under Lambda the runtime's
    JSON configuration replaces it; elsewhere the process's logging is left alone."""
    import logging

    from mlfn_runtime.logs import JsonFormatter

    module = sys.modules["mlfn_runtime.lambda_handler"]
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
        module.configure_logs()
        assert root.handlers == saved[0]
        monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
        module.configure_logs()
        assert root.level == logging.INFO
        assert [type(h.formatter) for h in root.handlers] == [JsonFormatter]
    finally:
        root.handlers[:], root.level = saved
        logging.captureWarnings(False)
