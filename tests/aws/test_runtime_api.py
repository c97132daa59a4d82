"""The Lambda Runtime API emulator (mlfn_aws.runtime_api), driven as a runtime client and as the RIE.

The endpoints and headers are the documented ones:
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html; the invoke endpoint is the Runtime
Interface Emulator's (https://github.com/aws/aws-lambda-runtime-interface-emulator, README).
The last tests run AWS's own runtime interface client (awslambdaric) against it.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from mlfn_aws.runtime_api import INVOKE_PATH, RUNTIME_PREFIX, RuntimeAPI, serve

NEXT = f"{RUNTIME_PREFIX}/invocation/next"


@pytest.fixture
def api():
    api = serve("127.0.0.1", 0, timeout_s=5)
    yield api
    api.close()


def request(api: RuntimeAPI, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            port: int | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port or api.port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r, data


def in_background(fn, *args):
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("value", fn(*args)), daemon=True)
    t.start()
    return t, out


def test_next_hands_over_the_event_with_the_documented_headers(api):
    t, out = in_background(api.invoke, {"hello": "world"})
    r, body = request(api, "GET", NEXT)
    assert r.status == 200 and json.loads(body) == {"hello": "world"}
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    deadline = int(r.getheader("Lambda-Runtime-Deadline-Ms"))
    assert rid and 0 < deadline - time.time() * 1000 <= 5000
    assert r.getheader("Lambda-Runtime-Invoked-Function-Arn").startswith("arn:aws:lambda:")
    assert r.getheader("Lambda-Runtime-Trace-Id").startswith("Root=1-")
    r, _ = request(api, "POST", f"{RUNTIME_PREFIX}/invocation/{rid}/response", b'{"statusCode": 200}')
    assert r.status == 202
    t.join(5)
    result = out["value"]
    assert result.ok and result.request_id == rid and result.json() == {"statusCode": 200}


def test_each_invocation_gets_its_own_id_in_order(api):
    ids = []
    threads = [in_background(api.invoke, {"n": n}) for n in range(2)]
    for _ in range(2):
        r, body = request(api, "GET", NEXT)
        rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
        ids.append(rid)
        request(api, "POST", f"{RUNTIME_PREFIX}/invocation/{rid}/response", body)
    assert len(set(ids)) == 2
    answers = sorted(out["value"].json()["n"] for t, out in threads if not t.join(5))
    assert answers == [0, 1]


def test_function_error_is_reported_as_the_invoke_api_does(api):
    t, out = in_background(api.invoke, {})
    r, _ = request(api, "GET", NEXT)
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    error = {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}
    r, _ = request(api, "POST", f"{RUNTIME_PREFIX}/invocation/{rid}/error", json.dumps(error).encode(),
                   {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
    assert r.status == 202
    t.join(5)
    result = out["value"]
    assert not result.ok and result.error_type == "Unhandled" and result.json()["errorMessage"] == "boom"


def test_unknown_request_id_is_a_400(api):
    r, body = request(api, "POST", f"{RUNTIME_PREFIX}/invocation/nope/response", b"{}")
    assert r.status == 400 and json.loads(body)["errorType"] == "InvalidRequestID"
    r, _ = request(api, "GET", "/2018-06-01/runtime/nothing")
    assert r.status == 404


def test_a_response_above_6_mb_is_a_413_and_fails_the_invocation(api):
    t, out = in_background(api.invoke, {})
    r, _ = request(api, "GET", NEXT)
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    r, _ = request(api, "POST", f"{RUNTIME_PREFIX}/invocation/{rid}/response", b"x" * (6 * 1024 * 1024 + 1))
    assert r.status == 413
    t.join(5)
    assert not out["value"].ok and out["value"].error_type == "Function.ResponseSizeTooLarge"


def test_init_error_fails_waiting_and_later_invocations(api):
    t, out = in_background(api.invoke, {})
    time.sleep(0.1)
    r, _ = request(api, "POST", f"{RUNTIME_PREFIX}/init/error", b'{"errorMessage": "no model"}',
                   {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
    assert r.status == 202
    t.join(5)
    assert not out["value"].ok and out["value"].json() == {"errorMessage": "no model"}
    later = api.invoke({})
    assert not later.ok and later.error_type == "Runtime.ImportModuleError"


def test_an_unanswered_invocation_times_out_like_lambda():
    api = serve("127.0.0.1", 0, timeout_s=0.3)
    try:
        result = api.invoke({})
        assert not result.ok and result.error_type == "Sandbox.Timedout"
        assert "Task timed out after 0.30 seconds" in result.json()["errorMessage"]
        # The timed-out event is not handed to a runtime that asks later.
        assert api.next(timeout_s=0.2) is None
    finally:
        api.close()


def test_rie_invoke_endpoint_returns_the_function_response(api):
    def runtime():
        r, body = request(api, "GET", NEXT)
        rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
        request(api, "POST", f"{RUNTIME_PREFIX}/invocation/{rid}/response", json.dumps({"echo": json.loads(body)}
                                                                                        ).encode())

    threading.Thread(target=runtime, daemon=True).start()
    r, body = request(api, "POST", INVOKE_PATH, b'{"a": 1}')
    assert r.status == 200 and json.loads(body) == {"echo": {"a": 1}}
    assert r.getheader("X-Amz-Function-Error") is None


HANDLER = textwrap.dedent("""\
    import json, os, sys

    print(json.dumps({"msg": "init"}), flush=True)

    def handler(event, context):
        if event.get("fail"):
            raise ValueError("asked to fail")
        return {"got": event, "request_id": context.aws_request_id,
                "remaining_ms_positive": context.get_remaining_time_in_millis() > 0}
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ric_task(tmp_path):
    try:
        import awslambdaric  # noqa: F401
    except ImportError:
        reason = "awslambdaric (AWS's runtime interface client) is not installed; it is in requirements-dev.txt"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: this test must run)", pytrace=False)
        pytest.skip(reason)
    (tmp_path / "fn.py").write_text(HANDLER)
    return tmp_path


def test_awslambdaric_runs_against_the_emulator(api, ric_task):
    """AWS's own runtime client polls /next, answers /response and /error through the emulator."""
    env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.port}", "LAMBDA_TASK_ROOT": str(ric_task),
           "PYTHONPATH": str(ric_task)}
    proc = subprocess.Popen([sys.executable, "-m", "awslambdaric", "fn.handler"], cwd=ric_task, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        ok = api.invoke({"x": 1}, timeout_s=30)
        assert ok.ok, ok.body
        assert ok.json()["got"] == {"x": 1} and ok.json()["remaining_ms_positive"]
        assert ok.json()["request_id"] == ok.request_id
        bad = api.invoke({"fail": True}, timeout_s=30)
        assert not bad.ok and bad.json()["errorType"] == "ValueError"
        assert "asked to fail" in bad.json()["errorMessage"]
    finally:
        proc.kill()
        proc.wait(10)


def test_rie_mode_starts_the_runtime_and_passes_sigterm_on(ric_task):
    """``python runtime_api.py CMD``: the RIE's contract, as the stand-in base's entrypoint uses it."""
    import mlfn_aws.runtime_api as module

    port, runtime_port = free_port(), free_port()
    env = {**os.environ, "LAMBDA_TASK_ROOT": str(ric_task), "PYTHONPATH": str(ric_task)}
    env.pop("AWS_LAMBDA_RUNTIME_API", None)
    proc = subprocess.Popen(
        [sys.executable, module.__file__, "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
         "--runtime-api-address", f"127.0.0.1:{runtime_port}", sys.executable, "-m", "awslambdaric", "fn.handler"],
        cwd=ric_task, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("POST", INVOKE_PATH, body=b'{"y": 2}')
                r = conn.getresponse()
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read().decode()
                time.sleep(0.1)
        assert r.status == 200 and json.loads(r.read())["got"] == {"y": 2}
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)  # the runtime got SIGTERM (its default action ends it) and the RIE exits with it
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert b'{"msg": "init"}' in proc.stdout.read()


ENV_HANDLER = textwrap.dedent("""
    import os
    import time

    def handler(event, context):
        if event.get("sleep"):
            time.sleep(event["sleep"])
        names = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                 "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME")
        return {"env": {k: os.environ.get(k) for k in names}, "function_name": context.function_name,
                "memory_limit_in_mb": context.memory_limit_in_mb, "arn": context.invoked_function_arn,
                "remaining_ms": context.get_remaining_time_in_millis()}
""")


def rie(task, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """``python runtime_api.py python -m awslambdaric fn_env.handler`` with ``env`` on top of this one's."""
    import mlfn_aws.runtime_api as module

    (task / "fn_env.py").write_text(ENV_HANDLER)
    port, runtime_port = free_port(), free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_")}
    full.update({"LAMBDA_TASK_ROOT": str(task), "PYTHONPATH": str(task), **env})
    proc = subprocess.Popen(
        [sys.executable, module.__file__, "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
         "--runtime-api-address", f"127.0.0.1:{runtime_port}", sys.executable, "-m", "awslambdaric",
         "fn_env.handler"], cwd=task, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc, port


def invoke_rie(proc: subprocess.Popen, port: int, event: dict) -> tuple[int, dict, bytes]:
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", INVOKE_PATH, body=json.dumps(event).encode())
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        except ConnectionRefusedError:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.1)


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(5)


def test_rie_mode_gives_the_function_lambdas_variables_with_the_ries_defaults(ric_task):
    """As AWS's RIE (cmd/aws-lambda-rie/handlers.go, InitHandler): the function process gets
    AWS_LAMBDA_FUNCTION_NAME test_function, VERSION $LATEST, MEMORY_SIZE 3008, LOG_GROUP_NAME
    /aws/lambda/Functions, LOG_STREAM_NAME $LATEST unless the container sets them; the ARN names the function."""
    proc, port = rie(ric_task, {})
    try:
        status, _, body = invoke_rie(proc, port, {})
        got = json.loads(body)
        assert status == 200 and got["env"] == {
            "AWS_LAMBDA_FUNCTION_NAME": "test_function", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/Functions",
            "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST"}
        assert got["function_name"] == "test_function" and got["memory_limit_in_mb"] == "3008"
        assert got["arn"].endswith(":function:test_function")
        assert 290_000 < got["remaining_ms"] <= 300_000  # the RIE's default timeout: 300 s
    finally:
        stop(proc)
    proc, port = rie(ric_task, {"AWS_LAMBDA_FUNCTION_NAME": "iris-fn", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048",
                                "AWS_LAMBDA_FUNCTION_TIMEOUT": "60"})
    try:
        got = json.loads(invoke_rie(proc, port, {})[2])
        assert got["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "iris-fn" and got["memory_limit_in_mb"] == "2048"
        assert got["env"]["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/Functions"  # the RIE's, whatever the name
        assert got["arn"].endswith(":function:iris-fn") and 50_000 < got["remaining_ms"] <= 60_000
    finally:
        stop(proc)


def test_rie_mode_enforces_the_functions_timeout(ric_task):
    """AWS_LAMBDA_FUNCTION_TIMEOUT (seconds) bounds an invocation: past it the caller gets the function error
    Lambda gives, ``Task timed out after N.00 seconds``."""
    proc, port = rie(ric_task, {"AWS_LAMBDA_FUNCTION_TIMEOUT": "1"})
    try:
        start = time.monotonic()
        status, headers, body = invoke_rie(proc, port, {"sleep": 5})
        assert time.monotonic() - start < 4.5
        assert status == 200 and headers.get("X-Amz-Function-Error") == "Unhandled"
        assert json.loads(body) == {"errorMessage": "Task timed out after 1.00 seconds",
                                    "errorType": "Sandbox.Timedout"}
    finally:
        stop(proc)
