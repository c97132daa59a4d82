"""The CPU image on the stand-in base: image size, container cold start, memory in the container.

    sudo .ci/setup-docker                  # Docker and the stand-in base, once
    python benchmarks/container/run.py     # --runs 5; --json FILE keeps the raw numbers

Builds examples/iris-sklearn's CPU image with the model baked in (as for Cloud Run) on
``mlfn-standin/python:3.11`` with the legacy builder, then for each setting runs it ``--runs`` times
as Cloud Run would (``PORT``, ``--cpus 1 --memory 2g``, read-only root with a writable /tmp) and
measures: ``docker run`` -> first 200 on the health route -> first correct prediction, and the
container's memory (cgroup usage, every process) and the serving processes' summed VmRSS after
100 predictions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
BASE = os.environ.get("MLFN_STANDIN_TAG", "mlfn-standin/python:3.11")


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "DOCKER_BUILDKIT": "0"}).stdout.strip()


def build(dest: Path) -> tuple[str, float]:
    from mlfn.image import write_context
    from mlfn.manifest import manifest_for
    from mlfn.spec import load_spec

    project = ROOT / "examples" / "iris-sklearn"
    spec = load_spec(project / "mlfn.yaml")
    model = project / spec.model.uri
    ctx = write_context(dest, variant="cpu", manifest=manifest_for(spec, model), model_dir=model,
                        python=spec.runtime.python)
    tag = f"mlfn-bench/iris:{ctx.tag}"
    start = time.monotonic()
    docker("build", "-q", "--build-arg", f"BASE_IMAGE={BASE}", "-t", tag, str(ctx.path))
    return tag, time.monotonic() - start


def one_run(tag: str, env: dict[str, str]) -> dict[str, float]:
    args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    start = time.monotonic()
    name = docker("run", "-d", "-p", "127.0.0.1::8080", "--cpus", "1", "--memory", "2g", "--read-only",
                  "--tmpfs", "/tmp", "-e", "PORT=8080", *args, tag)
    try:
        url = "http://" + docker("port", name, "8080").splitlines()[0]
        healthy = predicted = None
        with httpx.Client(timeout=2) as client:
            while predicted is None:
                try:
                    if healthy is None and client.get(url + "/ping").status_code == 200:
                        healthy = time.monotonic() - start
                    if healthy is not None:
                        r = client.post(url + "/invocations", json={"instances": ROWS})
                        if r.status_code == 200 and r.json() == {"predictions": [0, 2]}:
                            predicted = time.monotonic() - start
                except httpx.TransportError:
                    time.sleep(0.02)
                if time.monotonic() - start > 120:
                    raise RuntimeError(docker("logs", name))
            for _ in range(100):
                client.post(url + "/invocations", json={"instances": ROWS})
        cgroup = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name).split("/")[0].strip()
        # The serving processes only (supervisor and workers), not this probe's own shell.
        rss = docker("exec", name, "sh", "-c", _PYTHON_RSS).split()
        return {"health_s": healthy, "prediction_s": predicted, "cgroup_mib": _mib(cgroup),
                "rss_mib": sum(int(kb) for kb in rss) / 1024, "processes": len(rss)}
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


_PYTHON_RSS = (
    "for p in /proc/[0-9]*; do grep -q python $p/cmdline 2>/dev/null "
    "&& awk '/^VmRSS/ {print $2}' $p/status; done"
)


def _mib(text: str) -> float:
    units = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "B": 1 / 1024 / 1024}
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    a = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tag, build_s = build(Path(tmp) / "ctx")
    out: dict[str, object] = {
        "image_mib": int(docker("image", "inspect", "-f", "{{.Size}}", tag)) / 2**20,
        "base_mib": int(docker("image", "inspect", "-f", "{{.Size}}", BASE)) / 2**20,
        "build_s": build_s,
    }
    for label, env in (("default workers", {}), ("MLFN_WORKERS=1", {"MLFN_WORKERS": "1"})):
        runs = [one_run(tag, env) for _ in range(a.runs)]
        out[label] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        out[label + " raw"] = runs
    print(json.dumps({k: v for k, v in out.items() if not k.endswith(" raw")}, indent=2))
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    sys.exit(main())
