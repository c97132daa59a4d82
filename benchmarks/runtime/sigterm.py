"""SIGTERM under load: does the runtime answer every request it accepted before exiting?

One command: python benchmarks/runtime/sigterm.py   (--connections 32 --seconds 4 --runs 3)

Starts `mlfn-runtime serve` (iris LogisticRegression) on 127.0.0.1, opens N keep-alive
connections (raw asyncio sockets, one event loop, no retries: each connection sends its next
request as soon as the previous answer is read), sends SIGTERM halfway through and counts, per
request:

- answered: a complete response (``after_signal``: completed after the signal; ``closed``:
  of those, how many carried ``Connection: close``);
- reset: the connection was reset (ECONNRESET) while a request was on it;
- unanswered: the server closed the connection without answering a request sent on it
  (``cut``: closed in the middle of a response);
- refused: a new connection was refused: the listener was closed, nothing was accepted.

The drain is right when reset and unanswered are 0 and the server exits 0. The test
``tests/runtime/test_lifecycle.py`` runs the same code, shorter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iris_model(directory: Path) -> Path:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(LogisticRegression(max_iter=1000).fit(x, y), directory / "model.joblib")
    return directory


def sigterm_under_load(model_dir: Path, connections: int = 32, seconds: float = 4.0,
                       env: dict[str, str] | None = None) -> dict:
    """One run: load for ``seconds``, SIGTERM at half time; the counts (see the module doc)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    e = {k: v for k, v in os.environ.items() if not k.startswith(("MLFN_", "AIP_", "AZUREML_"))}
    e.update({"MLFN_MODEL_URI": str(model_dir), "PORT": str(port), "MLFN_HOST": "127.0.0.1",
              "MLFN_WORKERS": "1", **(env or {})})
    proc = subprocess.Popen([sys.executable, "-m", "mlfn_runtime", "serve"], env=e,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {proc.stderr.read()}")
        try:
            if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server not ready in 60 s")
        time.sleep(0.05)

    counts: Counter[str] = Counter()
    body = json.dumps({"instances": ROWS}).encode()
    request = (b"POST /invocations HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
               b"content-length: %d\r\n\r\n%s" % (len(body), body))
    exited_at: list[float] = []

    def wait_exit() -> None:
        proc.wait()
        exited_at.append(time.monotonic())

    async def one_connection(signalled: asyncio.Event, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except ConnectionRefusedError:
                counts["refused" if signalled.is_set() else "refused_before_signal"] += 1
                return  # the server stopped accepting: this client is done
            except OSError:
                counts["connect_error"] += 1
                return
            try:
                while not stop.is_set():
                    writer.write(request)
                    try:
                        await writer.drain()
                        head = await reader.readuntil(b"\r\n\r\n")
                    except asyncio.IncompleteReadError as err:
                        counts["unanswered" if not err.partial else "cut"] += 1
                        return
                    except ConnectionResetError:
                        counts["reset"] += 1
                        return
                    lines = head.decode("latin-1").lower().split("\r\n")
                    length = next(int(ln.split(":", 1)[1]) for ln in lines if ln.startswith("content-length:"))
                    try:
                        await reader.readexactly(length)
                    except (asyncio.IncompleteReadError, ConnectionResetError):
                        counts["cut"] += 1
                        return
                    counts["answered" if lines[0].split()[1] == "200" else f"status_{lines[0].split()[1]}"] += 1
                    close = "connection: close" in lines
                    if signalled.is_set():
                        counts["after_signal"] += 1
                        counts["closed"] += close
                    if close:
                        break  # reconnect, as a client must
            finally:
                writer.close()

    async def drive() -> None:
        signalled, stop = asyncio.Event(), asyncio.Event()
        clients = [asyncio.create_task(one_connection(signalled, stop)) for _ in range(connections)]
        await asyncio.sleep(seconds / 2)
        signalled.set()
        proc.send_signal(signal.SIGTERM)
        exited_at.append(time.monotonic())  # [0]: the signal
        await asyncio.sleep(seconds / 2)
        stop.set()
        await asyncio.wait(clients, timeout=15)

    waiter = threading.Thread(target=wait_exit, daemon=True)
    waiter.start()
    asyncio.run(drive())
    try:
        code = proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    waiter.join(5)
    stderr = proc.stderr.read()
    return {"connections": connections, "seconds": seconds, "exit_code": code,
            "exit_after_signal_s": round(exited_at[-1] - exited_at[0], 2),
            **{k: counts[k] for k in sorted(counts)}, "stderr_tail": stderr[-2000:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = iris_model(Path(tmp) / "iris")
        print(f"# {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
              flush=True)
        for _ in range(args.runs):
            result = sigterm_under_load(model, args.connections, args.seconds,
                                        env={"MLFN_WORKERS": str(args.workers)})
            tail = result.pop("stderr_tail")
            if os.environ.get("SHOW_STDERR"):
                print(tail)
            result["workers"] = args.workers
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
