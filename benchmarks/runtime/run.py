"""Benchmark: mlfn's runtime against a minimal hand-written FastAPI server, same model, same venv.

One command: python benchmarks/runtime/run.py   (needs wrk: apt-get install wrk)

mlfn runs twice, as shipped and with MLFN_BATCHING=off. All servers run single-process, pinned
to CPU 0 with taskset; wrk runs pinned to CPU 1 with 16 connections against 127.0.0.1. Runs
alternate the server order; each run first checks that every server returns the model's own
predictions on fresh random rows. Reports requests/s, p50, p99, cold start
(launch -> first correct prediction) and RSS, as medians, with the ratio ours/reference.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
SERVER_CPU, LOAD_CPU = "0", "1"
#: mlfn as shipped, mlfn with request batching off, and the reference.
KINDS = ("mlfn", "mlfn-unbatched", "reference")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(dest: Path) -> Path:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    path = dest / "model.joblib"
    joblib.dump(LogisticRegression(max_iter=1000).fit(x, y), path)
    return path


def start(kind: str, model: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFN_")}
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    if kind.startswith("mlfn"):
        env.update({"MLFN_MODEL_URI": str(model.parent), "MLFN_WORKERS": "1", "PORT": str(port),
                    "MLFN_HOST": "127.0.0.1", "MLFN_BATCHING": "off" if kind == "mlfn-unbatched" else "on"})
        cmd = [sys.executable, "-m", "mlfn_runtime", "serve"]
    else:
        env["MODEL_PATH"] = str(model)
        cmd = [sys.executable, "-m", "uvicorn", "reference_app:app", "--port", str(port)]
    return subprocess.Popen(["taskset", "-c", SERVER_CPU, *cmd], cwd=HERE, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cold_start(kind: str, model: Path, body: bytes, expected: list) -> tuple[float, subprocess.Popen, int]:
    port = free_port()
    t0 = time.perf_counter()
    proc = start(kind, model, port)
    url = f"http://127.0.0.1:{port}/invocations"
    while True:
        try:
            r = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=1)
            if r.status_code == 200 and r.json()["predictions"] == expected:
                return time.perf_counter() - t0, proc, port
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.perf_counter() - t0 > 60:
            raise RuntimeError(f"{kind} did not start")
        time.sleep(0.005)


def rss_mib(pid: int) -> float:
    # taskset execs the server, so the pid is the server's.
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wrk(port: int, body_file: Path, seconds: int) -> dict[str, float]:
    script = body_file.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\n'
        f'wrk.body = io.open("{body_file}", "rb"):read("*a")\n'
    )
    out = subprocess.run(
        ["taskset", "-c", LOAD_CPU, "wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/invocations"],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"wrk saw {non2xx.group(1)} errors:\n{out}")

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5, help="alternating runs per server and body size")
    ap.add_argument("--seconds", type=int, default=8, help="wrk duration per run")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_path = train(tmp)
        import joblib

        model = joblib.load(model_path)
        results: dict[str, dict[str, list[float]]] = {}
        for run in range(args.runs):
            for rows in (1, 100):
                x = rng.uniform([4, 2, 1, 0.1], [8, 4.5, 7, 2.5], size=(rows, 4)).round(2)
                body = json.dumps({"instances": x.tolist()}).encode()
                body_file = tmp / f"body{rows}.json"
                body_file.write_bytes(body)
                expected = model.predict(x).tolist()
                order = KINDS if run % 2 == 0 else KINDS[::-1]
                for kind in order:
                    cold, proc, port = cold_start(kind, model_path, body, expected)
                    try:
                        wrk(port, body_file, 1)  # warm-up
                        r = wrk(port, body_file, args.seconds)
                        r["rss_mib"] = rss_mib(proc.pid)
                        r["cold_start_s"] = cold
                    finally:
                        proc.terminate()
                        proc.wait(15)
                    bucket = results.setdefault(f"{kind}-{rows}", {})
                    for k, v in r.items():
                        bucket.setdefault(k, []).append(v)
                    print(f"run {run} rows={rows:<3} {kind:<14} " + " ".join(f"{k}={v:.3f}" for k, v in r.items()),
                          flush=True)
    import fastapi
    import uvicorn

    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        parser = "httptools"
    except ImportError:
        parser = "h11"
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, uvicorn {uvicorn.__version__}, fastapi {fastapi.__version__}, "
          f"both servers on loop={loop} http={parser} (uvicorn 'auto' picks them for both)")
    print("\n| metric | rows | mlfn | mlfn, batching off | reference | mlfn / ref | unbatched / ref |")
    print("|---|---|---|---|---|---|---|")
    for rows in (1, 100):
        ours, off, ref = (results[f"{k}-{rows}"] for k in KINDS)
        for key, label in [("rps", "requests/s"), ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"),
                           ("cold_start_s", "cold start s"), ("rss_mib", "RSS MiB")]:
            a, u, b = (statistics.median(x[key]) for x in (ours, off, ref))
            print(f"| {label} | {rows} | {a:.3f} | {u:.3f} | {b:.3f} | {a / b:.2f} | {u / b:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
