"""``mlfn build``: the image a stack's ``up`` would push, built with the local Docker engine.

The build contexts come from the offline plan (the same program ``up`` runs writes them under
``.mlfn/build/``), so the image is the one the cloud would run: same Dockerfile, same runtime wheel,
same pins, the model baked in where the target bakes it. Built for linux/amd64, through the Docker
Engine API (the ``docker`` package, as ``up --local``), or the docker CLI where that package is not
installed. The Engine API's /build is the classic builder, not BuildKit (which the cloud build uses):
the same image only while the Dockerfiles use no BuildKit-only syntax, which a test holds them to.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineError, MlfnError

IMAGE_TYPE = "docker-build:index:Image"
#: Who needs the engine, the start of every message saying it cannot be reached.
PURPOSE = "mlfn build builds the image with the Docker engine"
PLAN_HINT = "`mlfn plan` shows the image's build context without it"
INSTALL = "install Docker (https://docs.docker.com/engine/install/) and start it"
NO_CLIENT = ("mlfn build talks to the Docker engine through the docker Python package or the docker CLI, and neither "
             f"is installed: pip install 'mlfn[local]' (the docker Python package), or {INSTALL}; {PLAN_HINT}")
#: The lines of a failed build's log an error shows.
TAIL = 15

@dataclass(frozen=True)
class BuiltImage:
    tag: str
    image_id: str
    size_bytes: int
    context: str
    variant: str

    def to_dict(self) -> dict:
        return {"tag": self.tag, "image_id": self.image_id, "size_bytes": self.size_bytes, "context": self.context,
                "variant": self.variant}


def _docker(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise EngineError(f"docker {args[0]} did not finish in {timeout:.0f}s") from e


class _EngineAPI:
    """The build through the Docker Engine API (the ``docker`` package, as ``up --local`` runs containers):
    the low-level client's ``build`` streams the engine's messages, so each log line reaches progress as it
    comes (``images.build`` would hand them over only at the end)."""

    def __init__(self, client):
        self.client = client

    def build(self, context: Path, dockerfile: Path, tag: str, buildargs: dict[str, str],
              say: Callable[[str], None]) -> tuple[str, int]:
        from ..engine.container import docker_api

        log: list[str] = []
        try:
            for chunk in self.client.api.build(path=str(context), dockerfile=str(dockerfile), tag=tag,
                                               buildargs=buildargs, platform="linux/amd64", rm=True, decode=True):
                if "error" in chunk:
                    tail = "\n".join(log[-TAIL:])
                    raise EngineError(f"the build of {context} failed: {str(chunk['error']).strip()}\n{tail}")
                for line in str(chunk.get("stream") or "").splitlines():
                    if line.strip():
                        log.append(line.rstrip())
                        say(line.rstrip())
            image = self.client.images.get(tag)
        except docker_api.api_errors() as e:
            raise EngineError(f"the Docker engine refused the build of {context}: {docker_api.api_error(e)}") from e
        return image.id, int(image.attrs.get("Size", 0))


class _CLI:
    """The build through the docker CLI: where the docker package is not installed."""

    def build(self, context: Path, dockerfile: Path, tag: str, buildargs: dict[str, str],
              say: Callable[[str], None]) -> tuple[str, int]:
        args = ["build", "--platform", "linux/amd64", "-f", str(dockerfile), "-t", tag]
        for k, v in buildargs.items():
            args += ["--build-arg", f"{k}={v}"]
        proc = _docker(*args, str(context))
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-TAIL:])
            raise EngineError(f"docker build of {context} failed:\n{tail}")
        info = json.loads(_docker("image", "inspect", tag).stdout or "[{}]")[0]
        return info.get("Id", ""), int(info.get("Size", 0))


def _builder(client=None) -> _EngineAPI | _CLI:
    """The Engine API when the docker package is installed (no CLI needed), else the docker CLI."""
    if client is not None:
        return _EngineAPI(client)
    try:
        import docker  # noqa: F401
    except ImportError:
        if shutil.which("docker") is None:
            raise EngineError(NO_CLIENT) from None
        info = _docker("info", timeout=60)
        if info.returncode != 0:
            why = (info.stderr or info.stdout).strip().splitlines()[-1:] or ["no answer"]
            raise EngineError(f"{PURPOSE}, and the Docker engine does not answer (docker info: {why[0]}): {INSTALL}; "
                              f"{PLAN_HINT}") from None
        return _CLI()
    from ..engine.container import docker_api

    return _EngineAPI(docker_api.connect(PURPOSE))


def build(project, base_image: str | None = None, on_progress=None, placeholders: bool = True,
          client=None) -> list[BuiltImage]:
    """Build every image the stack's plan would push; tagged ``mlfn/<name>:<stack>-<variant>-<digest>``.

    ``placeholders=False``: location values ``mlfn init`` left to fill in do not stop it (an image run on
    this machine reaches no cloud). ``client``: a docker client already connected (``up --local``'s)."""
    from ..plan import plan_deployment

    if project.is_local:
        raise MlfnError(f"stack {project.stack.name} is cloud local: it runs no image. Pass --stack with a cloud "
                        "stack (its target decides the image), or --cloud")
    builder = _builder(client)
    project.check(placeholders=placeholders)
    plan = plan_deployment(project.spec, project.stack, project.dir, checked=True)
    images = plan.find(IMAGE_TYPE)
    if not images:
        raise MlfnError(f"stack {project.stack.name} builds no image (runtime.image names a prebuilt one: "
                        f"{project.spec.runtime.image})")
    say = on_progress or (lambda _line: None)
    built = []
    for image in images:
        context = (project.dir / image.inputs["context"]["location"]).resolve()
        dockerfile = (project.dir / image.inputs["dockerfile"]["location"]).resolve()
        digest = str(image.inputs["tags"][0]).rsplit(":", 1)[-1]
        variant = context.name.rsplit("-", 1)[-1]
        tag = f"mlfn/{project.spec.name}:{project.stack.pulumi_stack}-{variant}-{digest}"[:128]
        say(f"building {tag} from {context}")
        image_id, size = builder.build(context, dockerfile, tag, {"BASE_IMAGE": base_image} if base_image else {}, say)
        built.append(BuiltImage(tag, image_id, size, str(context), variant))
    return built
