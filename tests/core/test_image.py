from pathlib import Path

import pulumi
from helpers import write_project

from mlfn.adapter import CompileContext
from mlfn.image import Registry, runtime_image
from mlfn.plan import run_program
from mlfn.project import resolve_stack
from mlfn.spec import load_spec

SPEC = "name: iris\nmodel: {uri: ./model, format: sklearn}\n"


def plan_image(project: Path, bake: bool, variant: str = "cpu", model_store: str | None = None):
    spec = load_spec(project / "mlfn.yaml")
    resolved = resolve_stack(project, spec, "prod")

    def program():
        parent = pulumi.ComponentResource("mlfn:index:Deployment", "iris")
        ctx = CompileContext("iris", spec, resolved, project, parent)
        reg = Registry(repository="123.dkr.ecr.eu-1.amazonaws.com/iris", address="123.dkr.ecr.eu-1.amazonaws.com",
                       username="AWS", password=pulumi.Output.secret("token"))
        return runtime_image(ctx, reg, variant=variant, bake_model=bake, model_store=model_store)

    return [r for r in run_program(program, "t", "prod-fake") if r.type == "docker-build:index:Image"]


def test_image_built_for_amd64_without_attestations(tmp_path):
    project = write_project(tmp_path / "p", SPEC, {"prod": "cloud: fake\nregion: r\n"})
    (project / "model" / "model.joblib").write_bytes(b"x")
    (image,) = plan_image(project, bake=True)
    inputs = image.inputs
    assert inputs["platforms"] == ["linux/amd64"]
    assert inputs["push"] is True
    (export,) = inputs["exports"]
    assert export["registry"]["ociMediaTypes"] is False and export["registry"]["push"] is True
    assert inputs["registries"][0]["password"] == "[secret]"
    tag = inputs["tags"][0]
    assert tag.startswith("123.dkr.ecr.eu-1.amazonaws.com/iris:") and len(tag.rsplit(":", 1)[1]) == 16
    context = project / ".mlfn" / "build" / "prod-fake-cpu"
    assert inputs["context"]["location"] == str(context)
    assert (context / "model" / "mlfn-manifest.json").exists()
    assert (context / "Dockerfile").read_text().count("COPY model /opt/ml/model") == 1


def test_same_context_same_tag_and_model_change_changes_it(tmp_path):
    project = write_project(tmp_path / "p", SPEC, {"prod": "cloud: fake\nregion: r\n"})
    (project / "model" / "model.joblib").write_bytes(b"x")
    first = plan_image(project, bake=True)[0].inputs["tags"]
    assert plan_image(project, bake=True)[0].inputs["tags"] == first
    (project / "model" / "model.joblib").write_bytes(b"y")
    assert plan_image(project, bake=True)[0].inputs["tags"] != first


def test_prebuilt_image_skips_the_build(tmp_path):
    project = write_project(tmp_path / "p", SPEC + "runtime: {image: 'ghcr.io/me/iris:1'}\n",
                            {"prod": "cloud: fake\nregion: r\n"})
    assert plan_image(project, bake=True) == []


def test_the_store_client_follows_where_the_model_is_read_at_start(tmp_path):
    dockerfile = tmp_path / "p" / ".mlfn" / "build" / "prod-fake-cpu" / "Dockerfile"
    # A remote model not baked in is read by the runtime at start (a Kubernetes deployment, Cloud Run).
    project = write_project(tmp_path / "p", SPEC.replace("./model", "s3://bucket/iris/model.tar.gz"),
                            {"prod": "cloud: fake\nregion: r\n"})
    plan_image(project, bake=False)
    assert "-py3-none-any.whl[sklearn,skops,s3]" in dockerfile.read_text()
    # A local model the target puts in its own store and hands over as gs:// (Vertex's AIP_STORAGE_URI).
    project = write_project(tmp_path / "p", SPEC, {"prod": "cloud: fake\nregion: r\n"})
    (project / "model" / "model.joblib").write_bytes(b"x")
    plan_image(project, bake=False, model_store="gs")
    assert "-py3-none-any.whl[sklearn,skops,gcs]" in dockerfile.read_text()
    plan_image(project, bake=False)  # mounted by the platform: no store client
    assert "-py3-none-any.whl[sklearn,skops]" in dockerfile.read_text()


def test_the_context_is_readable_by_the_images_non_root_user(tmp_path):
    """A model saved 0600 (an atomic rename from mkstemp does that) or a umask of 077 must not give an
    image whose runtime (uid 10001, Lambda's user) cannot read the model COPY put there."""
    import os
    import stat

    from mlfn_runtime.contract import Manifest

    from mlfn.image import write_context

    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "model.joblib").write_bytes(b"x")
    (model / "sub" / "extra.bin").write_bytes(b"y")
    for p in (model / "model.joblib", model / "sub" / "extra.bin"):
        p.chmod(0o600)
    (model / "sub").chmod(0o700)
    old = os.umask(0o077)
    try:
        ctx = write_context(tmp_path / "ctx", variant="cpu", model_dir=model,
                            manifest=Manifest(name="m", format="sklearn", model_file="model.joblib"))
    finally:
        os.umask(old)
    for p in [ctx.path, *ctx.path.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        wanted = 0o555 if p.is_dir() else 0o444
        assert mode & wanted == wanted, f"{p.relative_to(ctx.path)}: {oct(mode)}"


def test_dockerfiles_use_nothing_the_classic_builder_lacks(tmp_path):
    """mlfn build and up --local build through the Engine API's classic builder, the cloud through
    BuildKit: the same image only while no Dockerfile uses BuildKit-only syntax (a frontend line,
    RUN --mount, COPY --chmod/--link/--exclude, heredocs)."""
    import re

    from mlfn_aws.lambda_image import LAMBDA
    from mlfn_runtime.contract import Manifest

    from mlfn.image import write_context

    for variant in ("cpu", "gpu", LAMBDA):
        for fmt in ("sklearn", "pytorch", "onnx"):
            name = getattr(variant, "name", variant)
            ctx = write_context(tmp_path / f"{name}-{fmt}", variant=variant, python="3.12",
                                manifest=Manifest(name="m", format=fmt, model_file="m.bin"))
            text = ctx.dockerfile.read_text()
            assert not re.search(r"^#\s*syntax=|--mount=|--chmod=|--link\b|--exclude=|<<\s*\w+", text, re.M), (
                f"{name}/{fmt}: BuildKit-only syntax:\n{text}")
