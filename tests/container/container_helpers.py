"""Helpers of the container tests: the docker CLI, image builds, models as a platform hands them over."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import EXAMPLES

STANDIN = os.environ.get("MLFN_STANDIN_TAG", "mlfn-standin/python:3.11")
#: The stand-in Lambda base (the contract of public.ecr.aws/lambda/python on STANDIN: see .ci/setup-docker).
LAMBDA_STANDIN = os.environ.get("MLFN_LAMBDA_STANDIN_TAG", "mlfn-standin/lambda-python:3.11")
SETUP = Path(__file__).resolve().parents[2] / ".ci" / "setup-docker"
#: Seconds per phase, printed at the end of the run.
TIMINGS: dict[str, float] = {}



def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the container tests must run)", pytrace=False)
    pytest.skip(reason)


def docker(*args: str, check: bool = True, timeout: float = 600, **kw) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {p.returncode}:\n{p.stdout[-2000:]}{p.stderr[-4000:]}")
    return p


def bridge_gateway() -> str:
    """This machine's address on Docker's default bridge: a server bound there (or on 0.0.0.0) is
    reachable from containers at this address."""
    import ipaddress
    import json

    (net,) = json.loads(docker("network", "inspect", "bridge", "-f", "{{json .IPAM.Config}}").stdout)[:1]
    # Docker gives the default bridge's first address to the host unless it names another gateway.
    return net.get("Gateway") or str(next(ipaddress.ip_network(net["Subnet"]).hosts()))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


@dataclass
class Image:
    tag: str
    example: Path


def build(base: str, example: str | Path, *, bake: bool, dest: Path, model_store: str | None = None) -> Image:
    """Build ``examples/<example>`` (or the project at a path) as ``up`` would, on ``base``."""
    from mlfn.image import write_context
    from mlfn.manifest import manifest_for
    from mlfn.spec import load_spec

    project = EXAMPLES / example if isinstance(example, str) else example
    example = project.name
    spec = load_spec(project / "mlfn.yaml")
    model = project / spec.model.uri
    reqs = project / spec.runtime.requirements if spec.runtime.requirements else None
    ctx = write_context(dest, variant="cpu", manifest=manifest_for(spec, model), model_dir=model if bake else None,
                        requirements=reqs, python=spec.runtime.python, model_store=model_store)
    tag = f"mlfn-test/{example}:{'baked' if bake else 'store'}-{ctx.tag}"
    start = time.monotonic()
    docker("build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", tag, str(ctx.path),
           env={**os.environ, "DOCKER_BUILDKIT": "0"})
    kind = ("baked" if bake else "store") + (f" {model_store}" if model_store else "")
    TIMINGS[f"build {example} {kind}"] = time.monotonic() - start
    return Image(tag, project)


def readable_model(example: Path, dest: Path) -> Path:
    """The example's model with its manifest, as a platform's model store hands it over, readable by uid 10001."""
    from mlfn.manifest import manifest_for
    from mlfn.spec import load_spec

    spec = load_spec(example / "mlfn.yaml")
    src = example / spec.model.uri
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".mlfn", "__pycache__"))
    manifest_for(spec, src).write(dest)
    for p in [dest, *dest.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dest


@dataclass
class Running:
    name: str
    url: str
    started: float

    def logs(self) -> str:
        p = docker("logs", self.name, check=False)
        return p.stdout + p.stderr


