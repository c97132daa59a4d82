"""AWS Lambda: the same app behind Mangum; the model is loaded once, at init.

Image CMD: ``mlfn_runtime.lambda_handler.handler``. Function URL, API Gateway HTTP API (v2),
REST API (v1) and ALB events all reach the same routes.
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def exit_on_sigterm() -> None:
    """Exit promptly on SIGTERM (Lambda sends it at shutdown, then SIGKILL after a few seconds).

    A Python handler would not do: as PID 1 of a container a process with the default action
    ignores SIGTERM, and the runtime client's main thread sits in native code between invocations,
    where Python handlers do not run. So SIGTERM is blocked in every thread and one thread waits
    for it with ``sigwait`` (child processes inherit the blocked mask: hence only inside Lambda).
    Lambda never sends it during an invocation: nothing is in flight.
    """
    if "AWS_LAMBDA_RUNTIME_API" not in os.environ or not hasattr(signal, "sigwait"):
        return  # not inside Lambda's runtime (tests, local use): leave the process's signals alone
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def wait() -> None:
        signal.sigwait({signal.SIGTERM})
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(0)

    threading.Thread(target=wait, name="mlfn-sigterm", daemon=True).start()


def configure_logs() -> None:
    """The runtime's JSON log lines on stderr, which Lambda sends to the function's log group.

    awslambdaric leaves the root logger at WARNING with its own text handler, so the runtime's info
    lines (the model loaded, each request's 4xx) were lost and the rest were not JSON. Only inside
    Lambda's runtime: elsewhere (tests, local use) the process's logging is left alone.
    """
    if "AWS_LAMBDA_RUNTIME_API" in os.environ:
        from .logs import configure

        configure()


# Before anything starts a thread (BLAS and OpenMP pools start with the model): threads inherit
# the blocked signal, so none of them can take SIGTERM's default action.
exit_on_sigterm()
configure_logs()

from mangum import Mangum  # noqa: E402

from .app import build_app, load_model  # noqa: E402
from .dataplane import DataPlane  # noqa: E402
from .settings import Settings  # noqa: E402

settings = Settings.from_env()
plane = DataPlane()
plane.set_model(load_model(settings))
app = build_app(settings, plane)
handler = Mangum(app, lifespan="off", api_gateway_base_path="/")
