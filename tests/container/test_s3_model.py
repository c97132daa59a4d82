"""An s3:// model read by the image itself, from moto's S3 in server mode.

The contract is a Kubernetes Deployment's whose model.uri is s3:// (mlfn_kubernetes.manifests.deployment):
an init container of the same image runs ``mlfn-runtime fetch URI /mnt/models`` into a shared volume,
then the serving container reads it from there, read-only, both as uid 10001 with a read-only root
and a writable /tmp. boto3 is pointed at the emulator with AWS_ENDPOINT_URL_S3, the service-specific
endpoint variable botocore honours
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html), and dummy credentials.
"""

from __future__ import annotations

import httpx
from container_helpers import docker, readable_model
from mlfn_runtime import contract as c
from test_images import CLASSES, READ_ONLY, ROWS, env_args, stops_cleanly

AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def upload(model, endpoint: str, prefix: str) -> None:
    """The model's files under ``s3://bucket/<prefix>``, through the emulator's port on this machine."""
    import boto3

    port = endpoint.rsplit(":", 1)[-1]
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
    for f in sorted(model.iterdir()):
        s3.upload_file(str(f), "bucket", f"{prefix}{f.name}")


def test_s3_model_fetched_by_the_image(iris_s3_image, s3_server, tmp_path, run_container):
    model = readable_model(iris_s3_image.example, tmp_path / "model")
    upload(model, s3_server, "iris/model/")
    aws = {**AWS, "AWS_ENDPOINT_URL_S3": s3_server}
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # the pod's emptyDir, writable by uid 10001 (fsGroup)
    fetched = docker("run", "--rm", *READ_ONLY, "--user", "10001", "-v", f"{shared}:/mnt/models",
                     *env_args(aws), "--entrypoint", "mlfn-runtime", iris_s3_image.tag,
                     "fetch", "s3://bucket/iris/model/", "/mnt/models", timeout=120)
    assert sorted(p.name for p in shared.iterdir()) == sorted(p.name for p in model.iterdir()), fetched.stderr
    env = {**c.container_env(model_name="iris", model_format="sklearn", model_uri="/mnt/models"), "PORT": "8080"}
    ct = run_container(iris_s3_image.tag, 8080, c.V2_READY, *READ_ONLY, "--user", "10001",
                       "-v", f"{shared}:/mnt/models:ro", *env_args(env), cmd=("serve",))
    r = httpx.post(ct.url + c.V1_PREDICT.format(name="iris"), json={"instances": ROWS}, timeout=10)
    assert r.status_code == 200 and r.json() == {"predictions": CLASSES}, r.text
    stops_cleanly(ct, "s3")


def test_s3_model_read_at_start_from_mlfn_model_uri(iris_s3_image, s3_server, tmp_path, run_container):
    """MLFN_MODEL_URI=s3://...: `serve` itself fetches the model into /tmp before it loads it."""
    model = readable_model(iris_s3_image.example, tmp_path / "model")
    upload(model, s3_server, "m/")
    env = {**c.container_env(model_name="iris", model_format="sklearn", model_uri="s3://bucket/m/"), **AWS,
           "AWS_ENDPOINT_URL_S3": s3_server}
    ct = run_container(iris_s3_image.tag, 8080, c.PING, *READ_ONLY, "--user", "10001", *env_args(env))
    r = httpx.post(ct.url + c.INVOCATIONS, json={"instances": ROWS}, timeout=10)
    assert r.status_code == 200 and r.json() == {"predictions": CLASSES}, r.text
    stops_cleanly(ct, "s3-uri")
