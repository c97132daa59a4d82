"""Image build contexts: one function writes a complete, readable directory to ``docker build``.

Three variants: ``cpu`` (slim Python), ``gpu`` (CUDA 12 runtime) and ``lambda`` (AWS's Lambda
base with its runtime interface client, the app behind Mangum). The runtime travels as a wheel of
the installed ``mlfn-runtime`` (``mlfn.image.wheel``), so a context is the same whether the runtime
was installed from a checkout or from a wheel. The model is baked into the image only when asked
(targets without a platform model store); the manifest always travels with the model. Every
Dockerfile takes its base as the build argument ``BASE_IMAGE``, the official image by default.

``ORT_DISABLE_TELEMETRY=1``: onnxruntime (1.2x+) otherwise sends usage telemetry from the serving
container and, under a read-only root, logs a non-JSON warning that it cannot persist a device ID.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlfn_runtime import contract as c
from mlfn_runtime.build import FORMAT_EXTRAS

from .pins import PinConflict, pin_conflicts, pins_text
from .wheel import runtime_wheel

VARIANTS = ("cpu", "gpu", "lambda")
BAKED_MODEL_DIR = "/opt/ml/model"
RUNTIME_DIR = "runtime"
#: CUDA 12.2 runs on the drivers SageMaker, Vertex AI, Azure ML and GKE document for their GPUs
#: (>= 525/535), and minor-version compatibility lets CUDA 12.x wheels (torch, onnxruntime-gpu) use it.
CUDA_BASE = "nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04"

_HEADER = """\
# Written by mlfn: the mlfn runtime ({variant} variant) serving model {name!r} ({format}).
"""

#: The end of the CPU and GPU images: the runtime (and the model, when baked) as a non-root user.
_SERVE = """\
WORKDIR /opt/mlfn
COPY requirements.txt constraints.txt ./
COPY runtime ./runtime
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt "./runtime/{wheel}[{extras}]" \\
 && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin mlfn
{model}USER 10001
EXPOSE 8080
ENTRYPOINT ["mlfn-runtime"]
CMD ["serve"]
"""

_CPU = """\
ARG BASE_IMAGE=python:{python}-slim
FROM ${{BASE_IMAGE}}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    ORT_DISABLE_TELEMETRY=1
""" + _SERVE

_GPU = """\
ARG BASE_IMAGE={cuda}
FROM ${{BASE_IMAGE}}
ENV DEBIAN_FRONTEND=noninteractive PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1 ORT_DISABLE_TELEMETRY=1 PATH=/opt/venv/bin:$PATH
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The deadsnakes PPA gives the Python version mlfn.yaml asks for on Ubuntu 22.04.
# hadolint ignore=DL3008
RUN apt-get update \\
 && apt-get install -y --no-install-recommends software-properties-common gpg-agent \\
 && add-apt-repository -y ppa:deadsnakes/ppa \\
 && apt-get install -y --no-install-recommends python{python} python{python}-venv \\
 && python{python} -m venv /opt/venv \\
 && apt-get purge -y software-properties-common gpg-agent && apt-get autoremove -y \\
 && rm -rf /var/lib/apt/lists/*
""" + _SERVE

_LAMBDA = """\
ARG BASE_IMAGE=public.ecr.aws/lambda/python:{python}
FROM ${{BASE_IMAGE}}
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 MLFN_WORKERS=1 \\
    ORT_DISABLE_TELEMETRY=1
COPY requirements.txt constraints.txt ${{LAMBDA_TASK_ROOT}}/
COPY runtime ${{LAMBDA_TASK_ROOT}}/runtime
RUN pip install --no-cache-dir -r "${{LAMBDA_TASK_ROOT}}/requirements.txt" -c "${{LAMBDA_TASK_ROOT}}/constraints.txt" \\
    "${{LAMBDA_TASK_ROOT}}/runtime/{wheel}[{extras}]"
{model}EXPOSE 8080
ENTRYPOINT ["/lambda-entrypoint.sh"]
CMD ["mlfn_runtime.lambda_handler.handler"]
"""

_MODEL = """\
COPY model {dir}
ENV {var}={dir}
"""

_DOCKERIGNORE = "**/__pycache__\n**/*.pyc\n**/.pytest_cache\n"


@dataclass(frozen=True)
class BuildContext:
    path: Path
    dockerfile: Path
    variant: str
    baked_model: bool
    digest: str

    @property
    def tag(self) -> str:
        """A content-addressed tag: the same context gives the same tag."""
        return self.digest[:16]


#: The runtime's extra for each model store the runtime itself reads from at start.
STORE_EXTRAS = {"s3": "s3", "gs": "gcs"}


def store_extra(where: str | None) -> str | None:
    """The client extra for a model store given as a URI (``gs://b/m``) or its scheme (``gs``)."""
    if not where:
        return None
    return STORE_EXTRAS.get(where.split("://", 1)[0].lower())


def extras_for(fmt: str, variant: str, model_uri: str | None = None, model_store: str | None = None
               ) -> tuple[str, ...]:
    """The runtime's extras: the format's, Lambda's adapter, and the client of every store it reads."""
    extras = list(FORMAT_EXTRAS.get(fmt, ()))
    if variant == "lambda":
        extras.append("lambda")
    for where in (model_uri, model_store):
        extra = store_extra(where)
        if extra and extra not in extras:
            extras.append(extra)
    return tuple(extras)


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def write_context(
    dest: str | Path,
    *,
    variant: str,
    manifest: c.Manifest,
    model_dir: Path | None = None,
    requirements: Path | None = None,
    python: str = "3.11",
    model_uri: str | None = None,
    model_store: str | None = None,
) -> BuildContext:
    """Write a complete build context to ``dest`` (emptied first).

    ``model_dir``: bake this model directory (with ``manifest``) into the image; None leaves the
    model to the platform's model store or to ``model_uri`` fetched at start.
    ``model_store``: where the target puts the model for the runtime to read at start (a URI or its
    scheme, e.g. ``gs`` for Vertex's ``AIP_STORAGE_URI``), so the image installs that store's client
    whatever the model's location is now. None when the platform mounts the model or it is baked.
    The libraries the manifest records are pinned (``constraints.txt``); requirements that exclude
    them raise ``PinConflict`` naming both versions.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is not one of {', '.join(VARIANTS)}")
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    wheel = runtime_wheel(dest / RUNTIME_DIR)
    reqs = requirements.read_text() if requirements else ""
    conflicts = pin_conflicts(reqs, manifest.libraries, requirements.name if requirements else "requirements.txt")
    if conflicts:
        raise PinConflict("; ".join(conflicts))
    (dest / "requirements.txt").write_text(reqs if reqs.endswith("\n") or not reqs else reqs + "\n")
    (dest / "constraints.txt").write_text(pins_text(manifest.libraries))
    (dest / ".dockerignore").write_text(_DOCKERIGNORE)
    model_block = ""
    if model_dir is not None:
        target = dest / "model"
        if model_dir.is_file():
            target.mkdir()
            shutil.copy2(model_dir, target / model_dir.name)
        else:
            shutil.copytree(model_dir, target, ignore=shutil.ignore_patterns("__pycache__", ".mlfn"))
        manifest.write(target)
        model_block = _MODEL.format(dir=BAKED_MODEL_DIR, var=c.MODEL_URI)
    elif model_uri:
        model_block = f"ENV {c.MODEL_URI}={model_uri}\n"
    extras = ",".join(extras_for(manifest.format, variant, model_uri, model_store))
    template = {"cpu": _CPU, "gpu": _GPU, "lambda": _LAMBDA}[variant]
    text = _HEADER.format(variant=variant, name=manifest.name, format=manifest.format) + template.format(
        python=python, extras=extras, model=model_block, cuda=CUDA_BASE, wheel=wheel.name
    )
    text = text.replace(f'{wheel.name}[]"', f'{wheel.name}"')
    dockerfile = dest / "Dockerfile"
    dockerfile.write_text(text)
    return BuildContext(dest, dockerfile, variant, model_dir is not None, _digest(dest))
