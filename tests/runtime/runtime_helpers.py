"""Helpers for the runtime tests (import as `runtime_helpers`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real `mlfn-runtime serve` process on 127.0.0.1. Its output is piped (read it once it has
    stopped), or written to ``log`` for servers that log more than a pipe holds."""

    def __init__(self, model_dir: Path, env: dict[str, str] | None = None, argv: list[str] | None = None,
                 log: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        e = {k: v for k, v in os.environ.items() if not k.startswith(("MLFN_", "AIP_", "AZUREML_"))}
        e.update({"MLFN_MODEL_URI": str(model_dir), "PORT": str(self.port), "MLFN_HOST": "127.0.0.1",
                  "MLFN_WORKERS": "1"})
        e.update(env or {})
        out = open(log, "w") if log else subprocess.PIPE  # noqa: SIM115 - the child holds it
        self.proc = subprocess.Popen(
            argv or [sys.executable, "-m", "mlfn_runtime", "serve"],
            env=e, stdout=out, stderr=subprocess.STDOUT if log else subprocess.PIPE, text=True,
        )
        if log:
            out.close()
        self.log = log

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(self.url + "/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError("server not ready in time")

    def output(self) -> str:
        return self.log.read_text() if self.log else self.proc.stderr.read()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def require(module: str):
    """Import a test tool; skip when it is missing, except under CI=true where a missing tool fails."""
    import importlib

    import pytest

    if os.environ.get("CI", "").lower() == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install -r requirements-dev.txt)")


IRIS_MODEL = Path(__file__).resolve().parents[2] / "examples" / "iris-sklearn" / "model"
