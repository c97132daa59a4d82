"""The Lambda handler behind Mangum, with real event payloads of each kind."""

import base64
import importlib
import json
import sys

import pytest
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


class Context:
    function_name = "iris"
    aws_request_id = "req-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:iris"


def http_v2(path="/invocations", body=BODY, b64=False, url=True):
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc", "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                                            "sourceIp": "1.2.3.4", "userAgent": "curl"},
            "requestId": "r1", "routeKey": "$default", "stage": "$default", "time": "26/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795600000000,
        },
        "body": base64.b64encode(body.encode()).decode() if b64 else body,
        "isBase64Encoded": b64,
    }
    if not url:
        event["requestContext"]["domainName"] = "abc.execute-api.us-east-1.amazonaws.com"
    return event


def rest_v1(path="/invocations"):
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": "POST",
        "headers": {"Content-Type": "application/json", "Host": "abc.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": "POST", "path": "/prod" + path,
                           "stage": "prod", "requestId": "r2", "accountId": "123456789012",
                           "identity": {"sourceIp": "1.2.3.4"}},
        "body": BODY, "isBase64Encoded": False,
    }


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
