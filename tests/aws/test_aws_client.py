"""invoke() and logs(): SageMaker Runtime and CloudWatch Logs through moto; Function URLs signed with SigV4."""

import json
import threading
import time

import boto3
import pytest
from mlfn_aws import AwsAdapter, AwsOutputs
from mlfn_aws.client import invoke, recent_logs, sign
from moto import mock_aws

from mlfn.stack import ResolvedStack, Stack

REGION = "us-east-1"


def stack(target="sagemaker"):
    location = AwsAdapter.location_model()(region=REGION)
    return ResolvedStack("prod", None, Stack(cloud="aws", region=REGION), target, False, location=location)


@mock_aws
def test_invoke_sagemaker_endpoint_through_boto3():
    outputs = AwsAdapter().outputs_of({"url": "https://runtime.sagemaker...", "target": "sagemaker", "details": {
        "endpoint_name": "iris-prod", "region": REGION, "target": "sagemaker"}})
    r = invoke(outputs, stack(), b'{"instances": [[1, 2, 3, 4]]}', "application/json")
    assert r.status == 200 and r.body  # moto answers for any endpoint


@pytest.fixture
def recorder():
    """A local HTTP server that records the request it receives (stands in for a Function URL)."""
    import socket

    import uvicorn

    seen = {}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        seen["headers"] = {k.decode(): v.decode() for k, v in scope["headers"]}
        seen["path"], seen["body"] = scope["path"], body
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"predictions": [0]}'})

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/", seen
    server.should_exit = True
    thread.join(5)


def test_private_function_url_requests_are_sigv4_signed(recorder):
    url, seen = recorder
    outputs = AwsOutputs(url=url, target="lambda", region=REGION, auth_type="AWS_IAM")
    r = invoke(outputs, stack("lambda"), b'{"instances": [[1]]}', "application/json")
    assert r.status == 200 and json.loads(r.body) == {"predictions": [0]}
    auth = seen["headers"]["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=testing/") and f"/{REGION}/lambda/aws4_request" in auth
    assert "x-amz-date" in seen["headers"] and "x-amz-security-token" in seen["headers"]
    assert seen["path"] == "/invocations" and seen["body"] == b'{"instances": [[1]]}'


def test_key_function_url_sends_the_key(recorder):
    url, seen = recorder
    outputs = AwsOutputs(url=url, target="lambda", region=REGION, auth_type="NONE", api_key="k1")
    invoke(outputs, stack("lambda"), b"{}", "application/json")
    assert seen["headers"]["authorization"] == "Bearer k1"


def test_sign_without_credentials_says_how_to_log_in(monkeypatch):
    from mlfn.errors import InvokeError

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(InvokeError, match="no AWS credentials"):
        sign("https://x.lambda-url.us-east-1.on.aws/", b"", {}, REGION)


@mock_aws
def test_logs_read_the_recent_lines():
    logs = boto3.client("logs", region_name=REGION)
    group = "/aws/sagemaker/Endpoints/iris-prod"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="AllTraffic/i-1")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="AllTraffic/i-1", logEvents=[
        {"timestamp": now + i, "message": f"line {i}"} for i in range(5)])
    info = recent_logs(AwsOutputs(url="u", log_group=group, region=REGION), stack(), 3)
    assert info.lines == ("line 2", "line 3", "line 4")
    assert info.where == f"CloudWatch Logs group {group} in {REGION}"
    assert info.link.startswith(f"https://{REGION}.console.aws.amazon.com/cloudwatch/")


@mock_aws
def test_logs_before_any_output_still_say_where(tmp_path):
    from mlfn.spec import Spec

    spec = Spec.model_validate({"name": "iris", "model": {"uri": "m", "format": "sklearn"}})
    for none in (None, {}):  # the core passes None; the Pulumi engine after a failed first up passes {}
        info = recent_logs(none, stack("lambda"), 10, spec)
        assert "/aws/lambda/iris-prod" in info.where  # the group does not exist yet: said, not raised


@mock_aws
def test_runtime_reads_api_keys_from_secrets_manager():
    from mlfn_runtime.settings import Settings, SettingsError

    sm = boto3.client("secretsmanager", region_name=REGION)
    arn = sm.create_secret(Name="iris-keys", SecretString="k1,k2")["ARN"]
    settings = Settings.from_env({"MLFN_API_KEYS_AWS_SECRET": arn, "AWS_DEFAULT_REGION": REGION})
    assert settings.api_keys == ("k1", "k2")
    with pytest.raises(SettingsError, match="cannot read"):
        Settings.from_env({"MLFN_API_KEYS_AWS_SECRET": arn + "-missing"})
