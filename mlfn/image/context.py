"""Image build contexts: one function writes a complete, readable directory to ``docker build``.

Two variants here: ``cpu`` (slim Python) and ``gpu`` (slim Python with CUDA 12 wheels); an adapter
whose platform needs its own base (a functions platform's base image with its runtime interface
client, say) passes its own ``ImageVariant``. The runtime travels as a wheel of
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

from .pins import PinConflict, pin_conflicts, pins_text, range_conflicts, runtime_ranges
from .wheel import runtime_wheel


@dataclass(frozen=True)
class ImageVariant:
    """One kind of image: its name (in the context folder and the Dockerfile's header), its
    Dockerfile after the header (a ``str.format`` template with the fields ``python``, ``extras``,
    ``model``, ``wheel``, ``preinstall``, ``gpu``, ``nvidia_libs``), and the runtime extras it adds."""

    name: str
    template: str
    extras: tuple[str, ...] = ()
    gpu: bool = False
BAKED_MODEL_DIR = "/opt/ml/model"
RUNTIME_DIR = "runtime"
#: GPU images run on the platforms' GPU hosts, with the host's NVIDIA driver. CUDA 12.x user-space
#: libraries run on any driver >= 525.60.13 (CUDA minor-version compatibility); CUDA 13 needs >= 580
#: and would fail on every documented host. What each platform documents:
#: - SageMaker: inference AMIs al2-ami-sagemaker-inference-gpu-2/-2-1 (535) and -gpu-3-1 (550)
#:   (https://docs.aws.amazon.com/sagemaker/latest/dg/inference-gpu-drivers.html); without an AMI
#:   version SageMaker's default is 470, which no CUDA 12 build supports.
#: - Cloud Run: L4 with driver 535.216.03 (CUDA 12.2) preinstalled, 535.129.03 before it
#:   (https://cloud.google.com/run/docs/configuring/services/gpu, "Supported GPU types").
#: - Vertex AI prediction nodes: driver version undocumented; Vertex's own prebuilt GPU serving
#:   containers are CUDA 12.x builds (https://cloud.google.com/vertex-ai/docs/predictions/pre-built-containers),
#:   so its nodes run a CUDA 12 driver. GKE picks the driver by channel (gpu-driver-version default or
#:   latest) per GKE version; the versions behind each channel were not found in its documentation.
#: - Azure ML managed online endpoints: driver version undocumented.
#: - Container Apps serverless GPU (T4, A100): driver version undocumented; the docs only ask for "the
#:   latest version of CUDA" (https://learn.microsoft.com/azure/container-apps/workload-profiles-overview).
#: What the package index gives by default is now CUDA 13 (torch's PyPI wheels, onnxruntime-gpu >= 1.27),
#: so the GPU image takes torch from PyTorch's own CUDA 12 index and the last CUDA 12 onnxruntime-gpu builds.
#: The CUDA libraries come with those wheels (nvidia-* packages) and the driver from the host, so the
#: base is the official Python image: the Python version mlfn.yaml asks for, no PPA, no CUDA base.
TORCH_INDEX = "https://download.pytorch.org/whl/{cuda}"
#: The CPU image takes torch from PyTorch's CPU-only index: PyPI's torch is the CUDA build, whose
#: nvidia-* dependencies add gigabytes a CPU host never uses (https://pytorch.org/get-started/locally/,
#: Compute Platform "CPU": ``--index-url https://download.pytorch.org/whl/cpu``).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: onnxruntime-gpu 1.19-1.26 on PyPI are built for CUDA 12 and cuDNN 9 (the extras bring both).
ONNXRUNTIME_GPU = "onnxruntime-gpu[cuda,cudnn]>=1.19,<1.27"
#: Where onnxruntime finds the CUDA and cuDNN libraries of the nvidia-* wheels (torch finds its own).
_NVIDIA_LIBS = ":".join(
    f"/usr/local/lib/python{{python}}/site-packages/nvidia/{lib}/lib"
    for lib in ("cuda_runtime", "cublas", "cudnn", "cufft", "curand", "cuda_nvrtc")
)


def torch_cuda_index(version: str | None) -> str:
    """PyTorch's CUDA 12 wheel index that has ``version`` (the newest CUDA 12 one when unknown).

    PyTorch's release matrix (RELEASE.md, "Release Compatibility Matrix" and "PyTorch CUDA Support
    Matrix"): 2.1-2.3 ship cu118/cu121, 2.4-2.5 cu118/cu121/cu124, 2.6 cu118/cu124/cu126, 2.7-2.11
    cu126 and cu128 (plus cu118/cu129/cu130), and 2.12-2.14 only cu126 (legacy), cu130 and cu132:
    cu128 was dropped in 2.12, so CUDA 12.6 is the one CUDA 12 line every release since 2.6 has.
    """
    cuda = "cu126"
    if version:
        try:
            major, minor = (int(x) for x in version.split("+")[0].split(".")[:2])
        except ValueError:
            major, minor = 2, 99
        if (major, minor) < (2, 4):
            cuda = "cu121"
        elif (major, minor) < (2, 6):
            cuda = "cu124"
    return TORCH_INDEX.format(cuda=cuda)

_HEADER = """\
# Written by mlfn: the mlfn runtime ({variant} variant) serving model {name!r} ({format}).
"""

#: The end of the CPU and GPU images: the runtime (and the model, when baked) as a non-root user.
_SERVE = """\
WORKDIR /opt/mlfn
COPY requirements.txt constraints.txt ./
COPY runtime ./runtime
RUN {preinstall}pip install --no-cache-dir -r requirements.txt -c constraints.txt {gpu}"./runtime/{wheel}[{extras}]" \\
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
ARG BASE_IMAGE=python:{python}-slim
FROM ${{BASE_IMAGE}}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    ORT_DISABLE_TELEMETRY=1 NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility \\
    LD_LIBRARY_PATH={nvidia_libs}
# CUDA 12 builds only (driver >= 525.60.13; the documented hosts have 535 or 550): see mlfn.image.context.
""" + _SERVE

CPU = ImageVariant("cpu", _CPU)
GPU = ImageVariant("gpu", _GPU, gpu=True)
VARIANTS = {"cpu": CPU, "gpu": GPU}

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


def variant_of(variant: str | ImageVariant) -> ImageVariant:
    if isinstance(variant, ImageVariant):
        return variant
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r} is not one of {', '.join(VARIANTS)} (or an adapter's ImageVariant)")
    return VARIANTS[variant]


def extras_for(fmt: str, variant: str | ImageVariant, model_uri: str | None = None, model_store: str | None = None
               ) -> tuple[str, ...]:
    """The runtime's extras: the format's, the variant's, and the client of every store it reads."""
    extras = list(FORMAT_EXTRAS.get(fmt, ()))
    extras += [e for e in variant_of(variant).extras if e not in extras]
    for where in (model_uri, model_store):
        extra = store_extra(where)
        if extra and extra not in extras:
            extras.append(extra)
    return tuple(extras)


def context_digest(root: Path) -> str:
    """The digest of a build context's files: the image's content tag comes from it."""
    return _digest(root)


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
    variant: str | ImageVariant,
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
    them, or a recorded version outside the range of the runtime extra that installs it, raise
    ``PinConflict`` naming both.
    """
    kind = variant_of(variant)
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    wheel = runtime_wheel(dest / RUNTIME_DIR)
    reqs = requirements.read_text() if requirements else ""
    conflicts = pin_conflicts(reqs, manifest.libraries, requirements.name if requirements else "requirements.txt")
    conflicts += range_conflicts(manifest.libraries, f"model {manifest.name!r}")
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
    extras_list = extras_for(manifest.format, kind, model_uri, model_store)
    preinstall = gpu = ""
    if kind.gpu and "onnx" in extras_list:
        # The onnx extra is CPU onnxruntime, which cannot sit beside onnxruntime-gpu.
        extras_list = tuple(e for e in extras_list if e != "onnx")
        gpu = f'"{ONNXRUNTIME_GPU}" '
    if "pytorch" in extras_list:
        # torch alone, first, from PyTorch's own index only (PyPI's newer or CUDA 13 torch must not win);
        # the runtime's install then finds it satisfied (constraints' torch==X matches X+cpu or X+cu126).
        torch = manifest.libraries.get("torch")
        if kind.gpu:
            index, spec = torch_cuda_index(torch), "torch>=2.7,<3"
        else:
            index, spec = TORCH_CPU_INDEX, "torch" + runtime_ranges().get("torch", ("", ">=2.3,<3"))[1]
        spec = f"torch=={torch.split('+')[0]}" if torch else spec
        preinstall = f'pip install --no-cache-dir --index-url {index} "{spec}" \\\n && '
    extras = ",".join(extras_list)
    text = _HEADER.format(variant=kind.name, name=manifest.name, format=manifest.format) + kind.template.format(
        python=python, extras=extras, model=model_block, wheel=wheel.name, preinstall=preinstall, gpu=gpu,
        nvidia_libs=_NVIDIA_LIBS.format(python=python),
    )
    text = text.replace(f'{wheel.name}[]"', f'{wheel.name}"')
    dockerfile = dest / "Dockerfile"
    dockerfile.write_text(text)
    world_readable(dest)
    return BuildContext(dest, dockerfile, kind.name, model_dir is not None, _digest(dest))


def world_readable(root: Path) -> None:
    """Every file under ``root`` readable (and every folder searchable) by any user, other bits kept.

    The images run as a non-root user (10001 in the CPU and GPU images, Lambda's own): a build
    context's COPY keeps the modes a file has here, and a model mounted into a container keeps them
    too, so a model saved 0600, or a umask of 077, would otherwise be unreadable by its runtime."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(mode | (0o555 if path.is_dir() else 0o444))
