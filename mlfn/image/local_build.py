"""``mlfn build``: the image a stack's ``up`` would push, built with the local Docker engine.

The build contexts come from the offline plan (the same program ``up`` runs writes them under
``.mlfn/build/``), so the image is exactly the one the cloud would run: same Dockerfile, same
runtime wheel, same pins, the model baked in where the target bakes it. Built for linux/amd64.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass

from ..errors import EngineError, MlfnError

IMAGE_TYPE = "docker-build:index:Image"
DOCKER_HINT = ("mlfn build needs a running Docker engine: install Docker (https://docs.docker.com/engine/install/) "
               "and start it; `mlfn plan` shows the image's build context without it")


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
    if shutil.which("docker") is None:
        raise EngineError(DOCKER_HINT)
    try:
        return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise EngineError(f"docker {args[0]} did not finish in {timeout:.0f}s") from e


def build(project, base_image: str | None = None, on_progress=None, placeholders: bool = True) -> list[BuiltImage]:
    """Build every image the stack's plan would push; tagged ``mlfn/<name>:<stack>-<variant>-<digest>``.

    ``placeholders=False``: location values ``mlfn init`` left to fill in do not stop it (an image run on
    this machine reaches no cloud)."""
    from ..plan import plan_deployment

    if project.is_local:
        raise MlfnError(f"stack {project.stack.name} is cloud local: it runs no image. Pass --stack with a cloud "
                        "stack (its target decides the image), or --cloud")
    if _docker("info", timeout=60).returncode != 0:
        raise EngineError(DOCKER_HINT)
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
        args = ["build", "--platform", "linux/amd64", "-f", str(dockerfile), "-t", tag]
        if base_image:
            args += ["--build-arg", f"BASE_IMAGE={base_image}"]
        say(f"building {tag} from {context}")
        proc = _docker(*args, str(context))
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise EngineError(f"docker build of {context} failed:\n{tail}")
        info = json.loads(_docker("image", "inspect", tag).stdout or "[{}]")[0]
        built.append(BuiltImage(tag, info.get("Id", ""), int(info.get("Size", 0)), str(context), variant))
    return built
