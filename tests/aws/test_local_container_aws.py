"""How AWS's targets run the image for `mlfn up --local` (Target.local_container), against each
platform's container contract and the plan's own container settings. Sources:
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html (`serve`,
/opt/ml/model, port 8080, /ping and /invocations, SIGKILL 30 s after SIGTERM);
https://docs.aws.amazon.com/lambda/latest/dg/images-test.html (the Runtime Interface Emulator on
8080, POST /2015-03-31/functions/function/invocations);
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads (payload 2.0);
https://docs.aws.amazon.com/lambda/latest/dg/images-create.html (Requirements: "a default Linux user with
least-privileged permissions" must be able to read the function's files; no uid is documented)."""

import base64
import importlib
import json
import sys

import pytest
from helpers import EXAMPLES, container_run, example_project
from mlfn_aws.local_run import function_url_event, function_url_response
from mlfn_runtime import contract as c

import mlfn
from mlfn.adapter import InvokeResponse

MODEL = "aws:sagemaker/model:Model"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def with_env(text: str) -> str:
    return text + "runtime:\n  env:\n    MLFN_LOG_REQUESTS: 'on'\n"


@pytest.mark.parametrize("stack", ["aws-sagemaker", "aws-serverless", "aws-sagemaker-gpu"])
def test_sagemaker_runs_serve_with_the_model_read_only_at_opt_ml_model(tmp_path, stack):
    d = example_project(tmp_path, (stack,), spec_edit=with_env)
    _, run = container_run(d, stack, tmp_path / "m")
    plan = mlfn.plan(d, stack=stack)
    assert dict(run.env) == plan.one(MODEL).inputs["primaryContainer"]["environment"]
    assert run.env["MLFN_LOG_REQUESTS"] == "on"
    assert run.command == ("serve",) and run.entrypoint is None
    assert run.mounts == {str(tmp_path / "m"): "/opt/ml/model"}
    assert run.port == c.port_from_env(run.env) == 8080
    assert (run.health, run.predict) == ("/ping", "/invocations")
    assert run.read_only and run.tmpfs == ("/tmp",) and run.user is None
    assert run.stop_grace_s == 30 and run.wrap is None


def test_lambda_runs_the_image_as_is_behind_the_runtime_interface_emulator(tmp_path):
    d = example_project(tmp_path, ("aws-lambda",))
    _, run = container_run(d, "aws-lambda", tmp_path / "m")
    plan = mlfn.plan(d, stack="aws-lambda")
    function = plan.one("aws:lambda/function:Function").inputs
    # The function's own variables, plus what Lambda itself sets and the emulator reads: its name, its
    # memory, and its timeout, which the emulator enforces (RIE: AWS_LAMBDA_FUNCTION_TIMEOUT, seconds).
    lambda_sets = {"AWS_LAMBDA_FUNCTION_NAME": function["name"],
                   "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function["memorySize"]),
                   "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function["timeout"])}
    assert dict(run.env) == {**function["environment"]["variables"], **lambda_sets}
    assert lambda_sets["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "30"  # stacks/aws-lambda.yaml's overrides.aws.timeout
    # Lambda runs the image as a least-privileged user, not root (images-create.html, Requirements): a model
    # file only root can read must fail here as it would there.
    assert run.user is not None and not run.user.startswith("0")
    assert int(run.user.split(":")[0]) > 0 and int(run.user.split(":")[1]) > 0
    assert run.entrypoint is None and run.command == ()  # /lambda-entrypoint.sh and the handler, as built
    assert run.port == 8080 and run.predict == "/2015-03-31/functions/function/invocations"
    assert run.health is None and run.mounts == {}  # the model is baked into a Lambda image
    assert run.read_only and run.tmpfs == ("/tmp",)
    assert run.wrap is function_url_event and run.unwrap is function_url_response


def test_lambda_with_a_remote_model_mounts_the_copy_fetched_here(tmp_path):
    d = example_project(tmp_path, ("aws-lambda",))
    from mlfn.project import load_project

    p = load_project(d, "aws-lambda")
    spec = p.spec.model_copy(update={"model": p.spec.model.model_copy(update={"uri": "s3://bucket/iris"})})
    run = p.adapter.target("lambda").local_container(spec, p.stack, tmp_path / "m")
    assert run.mounts == {str(tmp_path / "m"): "/mnt/mlfn-model"} and run.env[c.MODEL_URI] == "/mnt/mlfn-model"


class Context:
    function_name = "iris"
    aws_request_id = "req-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:iris"


def test_invoke_wraps_the_body_into_a_function_url_event_the_real_handler_answers(monkeypatch):
    monkeypatch.setenv(c.MODEL_URI, str(EXAMPLES / "iris-sklearn" / "model"))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "iris")
    sys.modules.pop("mlfn_runtime.lambda_handler", None)
    handler = importlib.import_module("mlfn_runtime.lambda_handler").handler
    body = json.dumps({"instances": ROWS}).encode()
    wrapped, headers = function_url_event(body, {"Content-Type": "application/json", "authorization": "Bearer k"})
    assert headers == {"content-type": "application/json"}
    event = json.loads(wrapped)
    assert (event["version"], event["rawPath"], event["requestContext"]["http"]["method"]) == (
        "2.0", "/invocations", "POST")
    assert event["headers"]["authorization"] == "Bearer k" and base64.b64decode(event["body"]) == body
    result = handler(event, Context())
    r = function_url_response(InvokeResponse(200, json.dumps(result).encode()))
    assert r.status == 200 and json.loads(r.body) == {"predictions": [0, 2]}
    assert r.content_type.startswith("application/json")
    bad, _ = function_url_event(b"{nope", {"content-type": "application/json"})
    r = function_url_response(InvokeResponse(200, json.dumps(handler(json.loads(bad), Context())).encode()))
    assert r.status == 400 and json.loads(r.body)["error"] == "bad_request"


def test_unwrap_decodes_base64_bodies_and_keeps_emulator_errors():
    answer = {"statusCode": 201, "headers": {"Content-Type": "text/csv"}, "isBase64Encoded": True,
              "body": base64.b64encode(b"0\n2\n").decode()}
    r = function_url_response(InvokeResponse(200, json.dumps(answer).encode()))
    assert (r.status, r.body, r.content_type) == (201, b"0\n2\n", "text/csv")
    failed = json.dumps({"errorMessage": "no model found", "errorType": "SettingsError"}).encode()
    r = function_url_response(InvokeResponse(200, failed, "application/json"))
    assert (r.status, r.body) == (502, failed)
