"""The Lambda image, run the way Lambda runs it: its own entrypoint, driven through the Runtime API.

The image is what `mlfn build` builds for a Lambda stack, on the stand-in Lambda base (the contract of
public.ecr.aws/lambda/python: /lambda-entrypoint.sh, awslambdaric, /var/task; see .ci/setup-docker).
The Runtime API is mlfn_aws.runtime_api on this machine, the container pointed at it with
AWS_LAMBDA_RUNTIME_API as Lambda does (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
Lambda's file system is read-only but for /tmp
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html), and its Shutdown
phase ends with SIGKILL at most 2 s after SIGTERM (2000 ms with external extensions, less without:
https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-shutdown).
"""

from __future__ import annotations

import base64
import json
import os
import time

from container_helpers import TIMINGS, docker
from lambda_events import http_v2, rest_v1
from mlfn_aws.runtime_env import runtime_env
from mlfn_runtime import contract as c

from mlfn.spec import load_spec

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
CLASSES = [0, 2]
BODY = json.dumps({"instances": ROWS})
#: Lambda's Shutdown phase at its longest (with external extensions); without them it is shorter.
SHUTDOWN_S = 2.0


def http_answer(result) -> tuple[int, dict]:
    """(status, JSON body) of the HTTP response Mangum returned as the function's result."""
    assert result.ok, f"the function failed: {result.error_type} {result.body!r}"
    response = result.json()
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response["statusCode"], json.loads(body) if body else {}


def test_lambda_image_through_the_runtime_api(lambda_image, runtime_api):
    """Function URL (payload 2.0) and API Gateway REST (1.0) events reach the model; JSON logs; stops in 2 s."""
    api, address = runtime_api
    spec = load_spec(lambda_image.example / "mlfn.yaml")
    # What the function's configuration sets (mlfn_aws.lambda_target), and what Lambda adds itself.
    env = {**runtime_env("lambda", spec.compute), **c.container_env(model_name="iris", model_format="sklearn"),
           "AWS_LAMBDA_RUNTIME_API": address, "AWS_LAMBDA_FUNCTION_NAME": "iris", "AWS_REGION": "us-east-1",
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.compute.memory_mib), "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST"}
    name = f"mlfn-test-lambda-{os.getpid()}-{int(time.time() * 1000) % 100000}"
    started = time.monotonic()
    docker("run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp",
           *[a for k, v in sorted(env.items()) for a in ("-e", f"{k}={v}")], lambda_image.tag)
    try:
        # The first invocation waits for the init phase (the model loads once, at import).
        status, body = http_answer(api.invoke(http_v2("/invocations", BODY), timeout_s=120))
        TIMINGS["lambda first answer"] = time.monotonic() - started
        assert status == 200 and body == {"predictions": CLASSES}, body
        status, body = http_answer(api.invoke(rest_v1("/invocations", BODY), timeout_s=30))
        assert status == 200 and body == {"predictions": CLASSES}, body
        status, body = http_answer(api.invoke(http_v2("/invocations", "{nope"), timeout_s=30))
        assert status == 400, body
        logs = docker("logs", name).stdout + docker("logs", name).stderr
        lines = [ln for ln in logs.splitlines() if ln.strip()]
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"not a JSON log line: {line!r}\n{logs[-3000:]}") from None
        assert records and all(isinstance(r, dict) for r in records), logs[-3000:]
        # The runtime's own info lines reach the log (awslambdaric alone would drop them).
        assert any(r.get("level") == "INFO" and r.get("logger", "").startswith("mlfn") for r in records), logs
        assert "400" in logs or "bad_request" in logs, logs[-3000:]
        start = time.monotonic()
        docker("stop", "-t", "10", name)
        elapsed = time.monotonic() - start
        TIMINGS["stop lambda"] = elapsed
        code = docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
        assert elapsed < SHUTDOWN_S, f"docker stop took {elapsed:.1f}s (Lambda's shutdown: {SHUTDOWN_S}s)"
        assert code == "0", f"exit code {code} after SIGTERM"
    finally:
        docker("rm", "-f", name, check=False)


def test_lambda_image_without_a_runtime_api_runs_the_emulator(lambda_image):
    """As AWS's base: without AWS_LAMBDA_RUNTIME_API the entrypoint starts the Runtime Interface Emulator,
    whose invoke endpoint on 8080 takes an event (the RIE's README: `docker run -p 9000:8080 IMAGE`, then
    POST /2015-03-31/functions/function/invocations)."""
    import httpx
    from mlfn_aws.runtime_api import INVOKE_PATH

    name = f"mlfn-test-rie-{os.getpid()}-{int(time.time() * 1000) % 100000}"
    env = c.container_env(model_name="iris", model_format="sklearn")
    docker("run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "-p", "127.0.0.1::8080",
           *[a for k, v in sorted(env.items()) for a in ("-e", f"{k}={v}")], lambda_image.tag)
    try:
        url = "http://" + docker("port", name, "8080").stdout.splitlines()[0].strip() + INVOKE_PATH
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.post(url, json=http_v2("/invocations", BODY), timeout=60)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, docker("logs", name).stderr[-3000:]
                time.sleep(0.25)
        assert r.status_code == 200 and "X-Amz-Function-Error" not in r.headers, r.text
        response = r.json()
        assert response["statusCode"] == 200 and json.loads(response["body"]) == {"predictions": CLASSES}
        docker("stop", "-t", "10", name)
        assert docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    finally:
        docker("rm", "-f", name, check=False)


def test_stand_in_lambda_base_keeps_the_bases_contract(lambda_base):
    """What the Lambda image relies on in public.ecr.aws/lambda/python, on the stand-in: the task root as
    workdir, the runtime client, and the entrypoint's one-argument rule (AWS's exits 142 otherwise)."""
    shown = docker("run", "--rm", "--entrypoint", "sh", lambda_base, "-c",
                   'echo "$LAMBDA_TASK_ROOT $(pwd)"; python -c "import awslambdaric"').stdout.split()
    assert shown == ["/var/task", "/var/task"]
    p = docker("run", "--rm", lambda_base, "a.handler", "extra", check=False)
    assert p.returncode == 142 and "handler name" in p.stderr
