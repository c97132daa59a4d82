"""How Google Cloud runs mlfn's images, for ``mlfn up --local`` (``Target.local_container``).

- Vertex AI sets ``AIP_HTTP_PORT``, ``AIP_HEALTH_ROUTE``, ``AIP_PREDICT_ROUTE`` (the routes the
  model was uploaded with), ``AIP_MODE=PREDICTION`` and ``AIP_STORAGE_URI`` (the model's artifacts,
  which the container reads itself)
  (https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements). Here the
  model is mounted read-only and ``AIP_STORAGE_URI`` names that folder. Vertex's nodes are
  Kubernetes pods: SIGKILL 30 s after SIGTERM.
- Cloud Run sets ``PORT``; the container's file system is writable (in memory); SIGKILL 10 s after
  SIGTERM (https://cloud.google.com/run/docs/container-contract). The model is baked into the image;
  a remote ``model.uri`` is fetched on this machine and mounted (the container has no Google
  credentials here).
"""

from __future__ import annotations

from pathlib import Path

from mlfn_runtime import contract as c

from mlfn.adapter import ContainerRun

from .common import CLOUDRUN_LIMITS, VERTEX_LIMITS, spec_runtime_env

VERTEX_STORAGE = "/mnt/aip-storage"
FETCHED_MODEL_DIR = "/mnt/mlfn-model"


def vertex_run(spec, model_dir: Path) -> ContainerRun:
    env = {**spec_runtime_env(spec, VERTEX_LIMITS), **c.container_env(
        model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler),
        "AIP_MODE": "PREDICTION", "AIP_FRAMEWORK": "CUSTOM_CONTAINER", "AIP_HTTP_PORT": str(c.DEFAULT_PORT),
        c.AIP_HEALTH_ROUTE: c.VERTEX_HEALTH, c.AIP_PREDICT_ROUTE: c.VERTEX_PREDICT,
        c.AIP_STORAGE_URI: VERTEX_STORAGE}
    return ContainerRun(env=env, port=c.DEFAULT_PORT, health=c.VERTEX_HEALTH, predict=c.VERTEX_PREDICT,
                        mounts={str(model_dir): VERTEX_STORAGE}, stop_grace_s=30)


def cloudrun_run(spec, model_dir: Path) -> ContainerRun:
    remote = spec.model.is_remote
    env = {**spec_runtime_env(spec, CLOUDRUN_LIMITS), **c.container_env(
        model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler,
        model_uri=FETCHED_MODEL_DIR if remote else None), "PORT": str(c.DEFAULT_PORT)}
    return ContainerRun(env=env, port=c.DEFAULT_PORT, health=c.READINESS_ROUTE, predict=c.INVOCATIONS,
                        mounts={str(model_dir): FETCHED_MODEL_DIR} if remote else {},
                        read_only=False, tmpfs=(), stop_grace_s=10)
