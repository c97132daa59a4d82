"""The real images: built with the local Docker engine on the stand-in base, run as each platform runs them.

`.ci/setup-docker` installs Docker, starts it and builds the stand-in base (CI cannot pull
``python:3.11-slim``; the stand-in is the same from Debian's packages). Without an engine or the
base these tests are skipped with the reason, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from container_helpers import (
    LAMBDA_STANDIN,
    SETUP,
    STANDIN,
    TIMINGS,
    Image,
    Running,
    bridge_gateway,
    build,
    docker,
    free_port,
    unavailable,
)


def pytest_configure(config):
    config.addinivalue_line("markers", "container: builds and runs the real images with a Docker engine")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.container)


@pytest.fixture(scope="session")
def engine() -> str:
    """The stand-in base's tag, once the engine answers and the base is there."""
    if shutil.which("docker") is None:
        unavailable(f"no docker CLI: run {SETUP} (as root) to install and start Docker")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
        unavailable(f"the Docker engine does not answer: run {SETUP} (as root) to start it")
    if subprocess.run(["docker", "image", "inspect", STANDIN], capture_output=True).returncode != 0:
        unavailable(f"the stand-in base {STANDIN} is missing: run {SETUP} (as root) to build it")
    return STANDIN


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_line(
            "container timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in TIMINGS.items()))


@pytest.fixture(scope="session")
def iris_image(engine, tmp_path_factory) -> Image:
    """examples/iris-sklearn's CPU image, the model left to the platform's model store.

    Built as for Vertex (``model_store="gs"``: the runtime reads AIP_STORAGE_URI's gs:// itself), so
    the image carries the GCS client; the other platforms mount the model and do not use it.
    """
    return build(engine, "iris-sklearn", bake=False, dest=tmp_path_factory.mktemp("ctx") / "iris", model_store="gs")


@pytest.fixture(scope="session")
def iris_baked(engine, iris_image, tmp_path_factory) -> Image:
    """The same with the model baked in (Cloud Run, Container Apps, Kubernetes deployment).

    Same extras as ``iris_image`` so that both share one pip layer (one install in the CI budget).
    """
    return build(engine, "iris-sklearn", bake=True, dest=tmp_path_factory.mktemp("ctx") / "iris-baked",
                 model_store="gs")


@pytest.fixture
def gcs_emulator(engine) -> Iterator[tuple[str, int]]:
    """A local GCS (gcp-storage-emulator) with the bucket ``bucket``: (address, port), the same from this
    machine and from a container (the bridge network's gateway): the emulator stores each object's
    download link with the address it was uploaded through."""
    try:
        from gcp_storage_emulator.server import create_server
    except ImportError:
        unavailable("gcp-storage-emulator is not installed (it is in requirements-dev.txt)")
    port = free_port()
    server = create_server("0.0.0.0", port, in_memory=True, default_bucket="bucket")
    server.start()
    gateway = bridge_gateway()
    try:
        yield gateway, port
    finally:
        server.stop()


@pytest.fixture(scope="session")
def onnx_image(engine, tmp_path_factory) -> Image:
    return build(engine, "onnx", bake=False, dest=tmp_path_factory.mktemp("ctx") / "onnx")


@pytest.fixture
def run_container(request) -> Iterator:
    """run(image, port, health, *docker_args, cmd=...) -> Running: started, published on 127.0.0.1, healthy."""
    import httpx

    names: list[str] = []

    def run(image: str, port: int, health: str, *args: str, cmd: tuple[str, ...] = ()) -> Running:
        name = f"mlfn-test-{os.getpid()}-{len(names)}-{int(time.time() * 1000) % 100000}"
        names.append(name)
        started = time.monotonic()
        docker("run", "-d", "--name", name, "-p", f"127.0.0.1::{port}", *args, image, *cmd)
        host = docker("port", name, str(port)).stdout.splitlines()[0].strip()
        url = f"http://{host}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + health, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            state = docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
            if state != "true" or time.monotonic() > deadline:
                raise AssertionError(f"{name} did not become healthy on {health}:\n" + Running(name, url, 0).logs())
            time.sleep(0.25)
        TIMINGS[f"ready {request.node.name}"] = time.monotonic() - started
        return Running(name, url, started)

    yield run
    for name in names:
        docker("rm", "-f", name, check=False)


@pytest.fixture(scope="session")
def lambda_base(engine) -> str:
    """The stand-in Lambda base's tag (.ci/setup-docker builds it on the stand-in)."""
    if docker("image", "inspect", LAMBDA_STANDIN, check=False).returncode != 0:
        unavailable(f"the stand-in Lambda base {LAMBDA_STANDIN} is missing: run {SETUP} (as root) to build it")
    return LAMBDA_STANDIN


@pytest.fixture(scope="session")
def lambda_image(lambda_base, tmp_path_factory) -> Image:
    """examples/iris-sklearn's Lambda image, built by `mlfn build` for a Lambda stack on the stand-in base."""
    import json

    from helpers import EXAMPLES, ROOT
    from typer.testing import CliRunner

    from mlfn.cli import app

    project = tmp_path_factory.mktemp("lambda") / "iris"
    shutil.copytree(EXAMPLES / "iris-sklearn", project, ignore=shutil.ignore_patterns(".mlfn"))
    shutil.copy(ROOT / "stacks" / "aws-lambda.yaml", project / "stacks" / "fn.yaml")
    start = time.monotonic()
    r = CliRunner().invoke(app, ["build", "--project", str(project), "--stack", "fn", "--base-image", lambda_base,
                                 "--json"])
    assert r.exit_code == 0, r.output
    TIMINGS["build iris-sklearn lambda"] = time.monotonic() - start
    (image,) = json.loads(r.stdout)
    assert image["variant"] == "lambda"
    yield Image(image["tag"], EXAMPLES / "iris-sklearn")
    docker("rmi", "-f", image["tag"], check=False)


@pytest.fixture
def runtime_api(engine):
    """mlfn_aws.runtime_api serving on every address of this machine: (api, address for a container)."""
    from mlfn_aws.runtime_api import serve

    api = serve("0.0.0.0", 0, timeout_s=60)
    try:
        yield api, f"{bridge_gateway()}:{api.port}"
    finally:
        api.close()


@pytest.fixture
def s3_server(engine) -> Iterator[str]:
    """moto's S3 in server mode with the bucket ``bucket``: its endpoint URL as a container reaches it."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        unavailable("moto's server mode is not installed (moto[server] is in requirements-dev.txt)")
    import boto3

    port = free_port()
    server = ThreadedMotoServer(ip_address="0.0.0.0", port=port, verbose=False)
    server.start()
    try:
        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1").create_bucket(
            Bucket="bucket")
        yield f"http://{bridge_gateway()}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def iris_s3_image(engine, tmp_path_factory) -> Image:
    """examples/iris-sklearn's CPU image for a target that puts the model in S3 (``model_store="s3"``,
    as ``runtime_image`` chooses for a Kubernetes deployment whose model.uri is s3://): it carries boto3."""
    return build(engine, "iris-sklearn", bake=False, dest=tmp_path_factory.mktemp("ctx") / "iris-s3", model_store="s3")
