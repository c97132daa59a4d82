"""Each platform's contract, against the real CPU image run the way that platform runs it.

Every container runs with a read-only root and a writable /tmp (nothing may be written elsewhere),
its log lines are JSON, and ``docker stop`` ends it cleanly (exit 0) within the shortest grace
period a platform gives (Cloud Run: 10 s).
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from container_helpers import TIMINGS, docker, readable_model
from mlfn_runtime import contract as c

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
CLASSES = [0, 2]
GRACE_S = 10
READ_ONLY = ("--read-only", "--tmpfs", "/tmp")


def env_args(env: dict[str, str]) -> list[str]:
    return [a for k, v in sorted(env.items()) for a in ("-e", f"{k}={v}")]


def adapter_env(model_uri: str | None = None) -> dict[str, str]:
    """What every adapter sets on the runtime container (contract.container_env)."""
    return c.container_env(model_name="iris", model_format="sklearn", model_uri=model_uri)


def stops_cleanly(running, name: str) -> None:
    logs = running.logs()
    for line in filter(None, (ln.strip() for ln in logs.splitlines())):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        assert isinstance(record, dict), f"not a JSON log line: {line!r}"
    start = time.monotonic()
    docker("stop", "-t", str(GRACE_S + 5), running.name)
    elapsed = time.monotonic() - start
    TIMINGS[f"stop {name}"] = elapsed
    code = docker("inspect", "-f", "{{.State.ExitCode}}", running.name).stdout.strip()
    assert elapsed < GRACE_S, f"docker stop took {elapsed:.1f}s (grace {GRACE_S}s)"
    assert code == "0", f"exit code {code} after SIGTERM:\n{running.logs()[-3000:]}"


def test_sagemaker(iris_image, tmp_path, run_container):
    """`docker run IMAGE serve`, model read-only at /opt/ml/model, SAGEMAKER_BIND_TO_PORT, JSON and CSV."""
    model = readable_model(iris_image.example, tmp_path / "model")
    ct = run_container(iris_image.tag, 9091, c.PING, *READ_ONLY, "-v", f"{model}:/opt/ml/model:ro",
                       *env_args({"SAGEMAKER_BIND_TO_PORT": "9091"}), cmd=("serve",))
    r = httpx.post(ct.url + c.INVOCATIONS, json={"instances": ROWS}, timeout=10)
    assert r.status_code == 200 and r.json() == {"predictions": CLASSES}, r.text
    csv = "\n".join(",".join(map(str, row)) for row in ROWS) + "\n"
    r = httpx.post(ct.url + c.INVOCATIONS, content=csv, headers={"content-type": "text/csv"}, timeout=10)
    assert r.status_code == 200 and r.json() == {"predictions": CLASSES}, r.text
    r = httpx.post(ct.url + c.INVOCATIONS, content=b"{", headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 400
    stops_cleanly(ct, "sagemaker")


def test_vertex(iris_image, gcs_emulator, tmp_path, run_container, monkeypatch):
    """AIP_HTTP_PORT, AIP_HEALTH_ROUTE, AIP_PREDICT_ROUTE as Vertex sets them; the model from AIP_STORAGE_URI's
    gs:// (a local GCS emulator), read by the image's own GCS client."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    host, port = gcs_emulator
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{host}:{port}")
    bucket = storage.Client(credentials=AnonymousCredentials(), project="test").bucket("bucket")
    model = readable_model(iris_image.example, tmp_path / "model")
    for f in sorted(model.iterdir()):
        bucket.blob(f"iris/model/{f.name}").upload_from_filename(str(f))
    health = "/v1/endpoints/123/deployedModels/456"
    predict = health + ":predict"
    env = {**adapter_env(), "AIP_HTTP_PORT": "7080", "AIP_HEALTH_ROUTE": health, "AIP_PREDICT_ROUTE": predict,
           "AIP_STORAGE_URI": "gs://bucket/iris/model", "STORAGE_EMULATOR_HOST": f"http://{host}:{port}"}
    ct = run_container(iris_image.tag, 7080, health, *READ_ONLY, *env_args(env))
    r = httpx.post(ct.url + predict, json={"instances": ROWS, "parameters": {}}, timeout=10)
    assert r.status_code == 200 and r.json()["predictions"] == CLASSES, r.text
    stops_cleanly(ct, "vertex")


def test_azureml(iris_image, tmp_path, run_container):
    """AZUREML_MODEL_DIR with the model one folder below, /health/live, /health/ready, /score on 8080."""
    model_dir = "/var/azureml-app/azureml-models/iris/1"
    model = readable_model(iris_image.example, tmp_path / "model")
    ct = run_container(iris_image.tag, 8080, c.AZURE_READY, *READ_ONLY, "-v", f"{model}:{model_dir}/model:ro",
                       *env_args({**adapter_env(), c.AZUREML_MODEL_DIR: model_dir}))
    assert httpx.get(ct.url + c.AZURE_LIVE, timeout=5).status_code == 200
    r = httpx.post(ct.url + c.AZURE_SCORE, json={"instances": ROWS}, timeout=10)
    assert r.status_code == 200 and r.json()["predictions"] == CLASSES, r.text
    stops_cleanly(ct, "azureml")


def test_kserve(iris_image, tmp_path, run_container):
    """The InferenceService's container: args [serve], PORT, the model at /mnt/models; V1 and V2."""
    model = readable_model(iris_image.example, tmp_path / "model")
    ct = run_container(iris_image.tag, 8080, c.V2_READY, *READ_ONLY, "-v", f"{model}:/mnt/models:ro",
                       *env_args({**adapter_env("/mnt/models"), "PORT": "8080"}), cmd=("serve",))
    assert httpx.get(ct.url + c.V2_LIVE, timeout=5).status_code == 200
    assert httpx.get(ct.url + c.V2_MODEL_READY.format(name="iris"), timeout=5).status_code == 200
    r = httpx.post(ct.url + c.V1_PREDICT.format(name="iris"), json={"instances": ROWS}, timeout=10)
    assert r.status_code == 200 and r.json() == {"predictions": CLASSES}, r.text
    flat = [x for row in ROWS for x in row]
    body = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": flat}]}
    r = httpx.post(ct.url + c.V2_INFER.format(name="iris"), json=body, timeout=10)
    assert r.status_code == 200, r.text
    (out,) = r.json()["outputs"]
    assert out["data"] == CLASSES and out["shape"][0] == 2
    stops_cleanly(ct, "kserve")


def test_cloudrun(iris_baked, run_container):
    """Cloud Run / Container Apps: PORT, the model baked in, 1 CPU and 2 GiB, as uid 10001."""
    ct = run_container(iris_baked.tag, 8081, c.AZURE_READY, *READ_ONLY, "--cpus", "1", "--memory", "2g",
                       "--user", "10001", *env_args({**adapter_env(), "PORT": "8081"}))
    assert docker("inspect", "-f", "{{.Config.User}}", iris_baked.tag).stdout.strip() == "10001"
    assert docker("exec", ct.name, "id", "-u").stdout.strip() == "10001"
    r = httpx.post(ct.url + c.INVOCATIONS, json={"instances": ROWS}, timeout=10)
    assert r.status_code == 200 and r.json() == {"predictions": CLASSES}, r.text
    stops_cleanly(ct, "cloudrun")


def test_request_logs_reach_the_container_log(iris_baked, run_container):
    ct = run_container(iris_baked.tag, 8080, c.PING, *READ_ONLY, *env_args({c.WORKERS: "2"}))
    httpx.post(ct.url + c.INVOCATIONS, content=b"{", headers={"content-type": "application/json"}, timeout=10)
    time.sleep(0.5)
    assert "400" in ct.logs() or "bad_request" in ct.logs()


def test_onnx_on_kserve(onnx_image, tmp_path, run_container):
    """The ONNX example's image (onnxruntime, no scikit-learn) under KServe's V2 protocol."""
    model = readable_model(onnx_image.example, tmp_path / "model")
    env = {**c.container_env(model_name="iris-onnx", model_format="onnx", model_uri="/mnt/models"), "PORT": "8080"}
    ct = run_container(onnx_image.tag, 8080, c.V2_READY, *READ_ONLY, "-v", f"{model}:/mnt/models:ro",
                       *env_args(env), cmd=("serve",))
    flat = [x for row in ROWS for x in row]
    body = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": flat}]}
    r = httpx.post(ct.url + c.V2_INFER.format(name="iris-onnx"), json=body, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == CLASSES
    r = httpx.post(ct.url + c.INVOCATIONS, json={"instances": ROWS}, timeout=10)
    assert r.status_code == 200 and r.json() == {"predictions": CLASSES}, r.text
    assert "sklearn" not in docker("exec", ct.name, "pip", "list").stdout
    stops_cleanly(ct, "onnx-kserve")


def test_served_with_the_library_version_the_model_was_saved_with(engine, tmp_path, run_container):
    """A model saved with another scikit-learn than the index's newest gets that version in the image."""
    import shutil

    from container_helpers import build
    from helpers import EXAMPLES

    from mlfn.image import model_libraries

    project = tmp_path / "iris-older"
    shutil.copytree(EXAMPLES / "iris-sklearn", project, ignore=shutil.ignore_patterns(".mlfn"))
    model = project / "model" / "model.joblib"
    saved = model_libraries(model, "sklearn")["scikit-learn"]
    major, minor = (int(x) for x in saved.split(".")[:2])
    older = f"{major}.{minor - 1}.0"
    if len(older) != len(saved):
        pytest.skip(f"cannot rewrite {saved} as {older} in place")
    # As if saved by the older release: the same opcode (SHORT_BINUNICODE, same length) with its version.
    old, new = (b"\x8c" + bytes([len(v)]) + v.encode() for v in (saved, older))
    model.write_bytes(model.read_bytes().replace(old, new))
    assert model_libraries(model, "sklearn") == {"scikit-learn": older}
    image = build(engine, project, bake=True, dest=tmp_path / "ctx")
    ct = run_container(image.tag, 8080, c.PING, *READ_ONLY, *env_args(adapter_env()))
    shown = docker("exec", ct.name, "pip", "show", "scikit-learn").stdout
    assert f"Version: {older}\n" in shown
    r = httpx.post(ct.url + c.INVOCATIONS, json={"instances": ROWS}, timeout=10)
    assert r.status_code == 200 and r.json() == {"predictions": CLASSES}, r.text
    assert "InconsistentVersionWarning" not in ct.logs()
    stops_cleanly(ct, "pinned")


def test_mlfn_build_builds_the_image_up_would_push(engine, tmp_path):
    """mlfn build: the plan's own build context (model baked in for a Deployment), built locally."""
    import json as _json
    import shutil as _shutil

    from helpers import EXAMPLES, ROOT
    from typer.testing import CliRunner

    from mlfn.cli import app

    project = tmp_path / "iris"
    _shutil.copytree(EXAMPLES / "iris-sklearn", project, ignore=_shutil.ignore_patterns(".mlfn"))
    _shutil.copy(ROOT / "stacks" / "kubernetes-deployment.yaml", project / "stacks" / "k.yaml")
    r = CliRunner().invoke(app, ["build", "--project", str(project), "--stack", "k", "--base-image", engine, "--json"])
    assert r.exit_code == 0, r.output
    (image,) = _json.loads(r.stdout)
    assert image["tag"].startswith("mlfn/iris:k-kubernetes-cpu-") and image["size_bytes"] > 50 * 2**20
    inspect = docker("image", "inspect", image["tag"])
    assert _json.loads(inspect.stdout)[0]["Architecture"] == "amd64"
    docker("rmi", "-f", image["tag"], check=False)
