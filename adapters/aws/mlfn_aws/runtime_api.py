"""A Lambda Runtime API emulator: what Lambda's execution environment offers a function's runtime.

Standard library only, so that this one file can also be copied into an image (the CI's stand-in
Lambda base runs it as its ``aws-lambda-rie``).

The runtime side is the documented Runtime API, version 2018-06-01
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):

- ``GET /2018-06-01/runtime/invocation/next``: the next event (blocks until there is one), with the
  headers ``Lambda-Runtime-Aws-Request-Id``, ``Lambda-Runtime-Deadline-Ms``,
  ``Lambda-Runtime-Invoked-Function-Arn`` and ``Lambda-Runtime-Trace-Id``;
- ``POST /2018-06-01/runtime/invocation/{id}/response``: the function's result (202; 400 for an unknown
  request ID; 413 above the 6 MB synchronous response limit);
- ``POST /2018-06-01/runtime/invocation/{id}/error``: the function failed (202), its type in the
  ``Lambda-Runtime-Function-Error-Type`` header;
- ``POST /2018-06-01/runtime/init/error``: the runtime could not start (202); every waiting and later
  invocation fails with it.

The caller's side is the Runtime Interface Emulator's invoke endpoint
(https://github.com/aws/aws-lambda-runtime-interface-emulator, its README):
``POST /2015-03-31/functions/function/invocations`` takes the event as its body and answers 200 with
the function's response; a function error is answered 200 with the error document and the header
``X-Amz-Function-Error: Unhandled``, as Lambda's Invoke API does.

One invocation at a time, as in one Lambda execution environment. In process::

    api = serve("0.0.0.0", 0)            # a RuntimeAPI with its HTTP server started
    # ... start the runtime with AWS_LAMBDA_RUNTIME_API=<host>:<api.port> ...
    result = api.invoke({"rawPath": "/ping", ...})
    result.ok, result.json()
    api.close()

As the RIE (``python runtime_api.py [--runtime-interface-emulator-address 0.0.0.0:8080] CMD ...``): the
invoke endpoint on 8080, the Runtime API on 127.0.0.1:9001, and ``CMD`` run with
``AWS_LAMBDA_RUNTIME_API`` pointing at it and, as AWS's RIE does, ``AWS_LAMBDA_FUNCTION_NAME``,
``_VERSION``, ``_MEMORY_SIZE`` and the log group and stream names defaulted where the container sets none;
each invocation is bounded by ``AWS_LAMBDA_FUNCTION_TIMEOUT`` seconds (300 unset), past which the caller
gets Lambda's ``Task timed out`` error. SIGTERM and SIGINT are passed on to ``CMD``, whose exit code is
this process's.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["INVOKE_PATH", "RUNTIME_PREFIX", "Result", "RuntimeAPI", "main", "serve"]

RUNTIME_PREFIX = "/2018-06-01/runtime"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
#: Lambda's limit on a synchronous invocation's response (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
DEFAULT_ARN = "arn:aws:lambda:us-east-1:123456789012:function:function"
#: As the RIE (``cmd/aws-lambda-rie/handlers.go``): the function's timeout, seconds, unless
#: ``AWS_LAMBDA_FUNCTION_TIMEOUT`` says otherwise, and the variables its process gets unless the container
#: sets them (Lambda's reserved ones: https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-runtime.html).
DEFAULT_TIMEOUT_S = 300.0
FUNCTION_DEFAULTS = {
    "AWS_LAMBDA_FUNCTION_NAME": "test_function", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/Functions",
    "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST",
}
_RESULT = re.compile(rf"^{RUNTIME_PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")


@dataclass
class Result:
    """What the function answered to one invocation."""

    request_id: str
    ok: bool
    body: bytes
    #: ``Lambda-Runtime-Function-Error-Type`` of an error (``Runtime.ExitError``-style), else None.
    error_type: str | None = None

    def json(self):
        return json.loads(self.body)


@dataclass
class _Invocation:
    request_id: str
    event: bytes
    deadline_ms: int
    trace_id: str
    done: threading.Event = field(default_factory=threading.Event)
    result: Result | None = None


class RuntimeAPI:
    """The Runtime API's state: queued events, the invocation in flight, the answers.

    ``timeout_s`` is the function's timeout: the deadline each invocation is given, after which
    ``invoke`` gives up with a ``Sandbox.Timedout`` error as Lambda does.
    """

    def __init__(self, *, function_arn: str = DEFAULT_ARN, timeout_s: float = 30.0) -> None:
        self.function_arn = function_arn
        self.timeout_s = timeout_s
        self._events: queue.Queue[_Invocation] = queue.Queue()
        self._known: dict[str, _Invocation] = {}
        self._lock = threading.Lock()
        self.init_error: Result | None = None
        self._servers: list[ThreadingHTTPServer] = []

    # The caller's side.
    def invoke(self, event: bytes | str | dict | list, timeout_s: float | None = None) -> Result:
        """Queue ``event`` (JSON-encoded unless bytes or str), wait for the function's answer."""
        if isinstance(event, str):
            body = event.encode()
        elif isinstance(event, bytes):
            body = event
        else:
            body = json.dumps(event).encode()
        wait = self.timeout_s if timeout_s is None else timeout_s
        inv = _Invocation(str(uuid.uuid4()), body, int((time.time() + wait) * 1000),
                          f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};"
                          "Sampled=0")
        with self._lock:
            failed = self.init_error
            if failed is None:
                self._known[inv.request_id] = inv
                self._events.put(inv)
        if failed is not None:
            return Result(inv.request_id, False, failed.body, failed.error_type)
        if not inv.done.wait(wait):
            with self._lock:
                self._known.pop(inv.request_id, None)
            body = json.dumps({"errorMessage": f"Task timed out after {wait:.2f} seconds",
                               "errorType": "Sandbox.Timedout"}).encode()
            return Result(inv.request_id, False, body, "Sandbox.Timedout")
        assert inv.result is not None
        return inv.result

    # The runtime's side.
    def next(self, timeout_s: float | None = None) -> _Invocation | None:
        """The next queued invocation (None after ``timeout_s``, or once closed)."""
        while True:
            try:
                inv = self._events.get(timeout=timeout_s)
            except queue.Empty:
                return None
            if inv.request_id == "":  # close()'s wake-up
                return None
            with self._lock:
                if inv.request_id in self._known:  # not given up on by its caller
                    return inv

    def answer(self, request_id: str, ok: bool, body: bytes, error_type: str | None = None) -> bool:
        """Record the function's answer; False when no invocation has that ID."""
        with self._lock:
            inv = self._known.pop(request_id, None)
        if inv is None:
            return False
        inv.result = Result(request_id, ok, body, error_type)
        inv.done.set()
        return True

    def fail_init(self, body: bytes, error_type: str | None) -> None:
        """The runtime could not initialise: every waiting and later invocation fails with this."""
        result = Result("", False, body, error_type or "Runtime.Unknown")
        with self._lock:
            self.init_error = result
            waiting, self._known = list(self._known.values()), {}
        for inv in waiting:
            inv.result = Result(inv.request_id, False, body, result.error_type)
            inv.done.set()

    # HTTP.
    def listen(self, host: str = "127.0.0.1", port: int = 0, *, runtime: bool = True, invoke: bool = True
               ) -> ThreadingHTTPServer:
        """Serve this state over HTTP from a daemon thread: the Runtime API and/or the invoke endpoint."""
        server = _Server((host, port), _Handler)
        server.api, server.runtime, server.invoke = self, runtime, invoke
        self._servers.append(server)
        threading.Thread(target=server.serve_forever, name=f"runtime-api-{port}", daemon=True).start()
        return server

    @property
    def port(self) -> int:
        """The port of the first server ``listen`` started."""
        return self._servers[0].server_address[1]

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        self._events.put(_Invocation("", b"", 0, ""))


def serve(host: str = "127.0.0.1", port: int = 0, *, function_arn: str = DEFAULT_ARN, timeout_s: float = 30.0
          ) -> RuntimeAPI:
    """A ``RuntimeAPI`` serving both the Runtime API and the invoke endpoint on ``host:port`` (0: any free port)."""
    api = RuntimeAPI(function_arn=function_arn, timeout_s=timeout_s)
    api.listen(host, port)
    return api


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: RuntimeAPI
    runtime: bool
    invoke: bool


class _Handler(BaseHTTPRequestHandler):
    # Runtime clients keep their connection between /next and /response.
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", (headers or {}).get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, error_type: str, message: str) -> None:
        self._send(status, json.dumps({"errorMessage": message, "errorType": error_type}).encode())

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.server.runtime and self.path == f"{RUNTIME_PREFIX}/invocation/next":
            inv = self.server.api.next()
            if inv is None:
                return self._error(500, "Runtime.Shutdown", "the emulator is shutting down")
            return self._send(200, inv.event, {
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": self.server.api.function_arn,
                "Lambda-Runtime-Trace-Id": inv.trace_id,
            })
        self._error(404, "NotFound", f"no route GET {self.path}")

    def do_POST(self) -> None:
        api = self.server.api
        body = self._body()
        if self.server.invoke and self.path == INVOKE_PATH:
            result = api.invoke(body or b"{}")
            return self._send(200, result.body, {} if result.ok else {"X-Amz-Function-Error": "Unhandled"})
        if self.server.runtime:
            error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
            if self.path == f"{RUNTIME_PREFIX}/init/error":
                api.fail_init(body, error_type)
                return self._send(202, b'{"status":"OK"}')
            m = _RESULT.match(self.path)
            if m:
                ok = m["kind"] == "response"
                if ok and len(body) > MAX_RESPONSE_BYTES:
                    message = f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload size"
                    api.answer(m["id"], False, json.dumps({"errorMessage": message,
                                                           "errorType": "Function.ResponseSizeTooLarge"}).encode(),
                               "Function.ResponseSizeTooLarge")
                    return self._error(413, "RequestEntityTooLarge", message)
                if not api.answer(m["id"], ok, body, None if ok else error_type or "Runtime.Unknown"):
                    return self._error(400, "InvalidRequestID", f"no invocation in flight with ID {m['id']}")
                return self._send(202, b'{"status":"OK"}')
        self._error(404, "NotFound", f"no route POST {self.path}")


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "0.0.0.0", int(port)


def main(argv: list[str] | None = None) -> int:
    """The RIE: the invoke endpoint, the Runtime API for ``CMD``, and ``CMD`` itself."""
    p = argparse.ArgumentParser(prog="aws-lambda-rie", description=__doc__.split("\n\n")[0])
    p.add_argument("--runtime-interface-emulator-address", default="0.0.0.0:8080", type=_address,
                   help="where the invoke endpoint listens (default 0.0.0.0:8080)")
    p.add_argument("--runtime-api-address", default="127.0.0.1:9001", type=_address,
                   help="where the Runtime API listens for CMD (default 127.0.0.1:9001)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the runtime to start (its bootstrap)")
    args = p.parse_args(argv)
    # The function's variables as Lambda sets them, with the RIE's defaults where the container sets none.
    function_env = dict(os.environ)
    for key, default in FUNCTION_DEFAULTS.items():
        function_env[key] = function_env.get(key) or default  # set but empty counts as unset, as in the RIE
    name = function_env["AWS_LAMBDA_FUNCTION_NAME"]
    api = RuntimeAPI(function_arn=DEFAULT_ARN.rsplit(":", 1)[0] + ":" + name,
                     timeout_s=float(function_env.get("AWS_LAMBDA_FUNCTION_TIMEOUT") or DEFAULT_TIMEOUT_S))
    api.listen(*args.runtime_interface_emulator_address, runtime=False)
    runtime_host, runtime_port = args.runtime_api_address
    api.listen(runtime_host, runtime_port, invoke=False)
    if not args.command:
        print(f"aws-lambda-rie: Runtime API on {runtime_host}:{runtime_port}", file=sys.stderr)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            signal.sigwait({signal.SIGTERM, signal.SIGINT})
        finally:
            api.close()
        return 0
    env = {**function_env, "AWS_LAMBDA_RUNTIME_API": f"{runtime_host}:{runtime_port}"}
    child = subprocess.Popen(args.command, env=env)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: child.send_signal(signum))
    code = child.wait()
    api.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
