"""How Azure runs mlfn's images, for ``mlfn up --local`` (``Target.local_container``).

- Azure ML managed online deployments: the environment's ``inference_config`` routes on port 8080
  (``/health/live``, ``/health/ready``, ``/score``), and the registered model under
  ``AZUREML_MODEL_DIR`` (``/var/azureml-app/azureml-models/<name>/<version>``), in a folder named
  after the last part of the path it was registered from
  (https://learn.microsoft.com/azure/machine-learning/how-to-deploy-custom-container;
  https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints). Its
  pods get Kubernetes' 30 s after SIGTERM.
- Container Apps: the ingress's target port (8080), the model baked into the image, a writable
  container file system, 30 s after SIGTERM (``terminationGracePeriodSeconds`` as mlfn sets it)
  (https://learn.microsoft.com/azure/container-apps/containers). A remote ``model.uri`` is fetched
  on this machine and mounted (the container has no Azure identity here).
"""

from __future__ import annotations

from pathlib import Path

from mlfn_runtime import contract as c

from mlfn.adapter import ContainerRun
from mlfn.manifest import model_files

from .common import spec_runtime_env

AZUREML_MODELS = "/var/azureml-app/azureml-models"
FETCHED_MODEL_DIR = "/mnt/mlfn-model"


def azureml_run(spec, model_dir: Path) -> ContainerRun:
    from .azureml import GRACEFUL_SECONDS, MAX_BODY_BYTES, registered_model

    folder, version = registered_model(model_files(model_dir).digest)
    root = f"{AZUREML_MODELS}/{spec.name}/{version}"
    env = {**spec.runtime.env, **c.container_env(model_name=spec.name, model_format=spec.model.format,
                                                  handler=spec.model.handler),
           **spec_runtime_env(spec, MAX_BODY_BYTES, GRACEFUL_SECONDS), c.AZUREML_MODEL_DIR: root}
    return ContainerRun(env=env, port=c.DEFAULT_PORT, health=c.AZURE_READY, predict=c.AZURE_SCORE,
                        mounts={str(model_dir): f"{root}/{folder}"}, stop_grace_s=30)


def containerapps_run(spec, model_dir: Path) -> ContainerRun:
    from .containerapps import GRACEFUL_SECONDS, MAX_BODY_BYTES, TERMINATION_GRACE_S

    remote = spec.model.is_remote
    env = {**spec.runtime.env, **c.container_env(
        model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler,
        model_uri=FETCHED_MODEL_DIR if remote else None), **spec_runtime_env(spec, MAX_BODY_BYTES, GRACEFUL_SECONDS)}
    return ContainerRun(env=env, port=c.DEFAULT_PORT, health=c.READINESS_ROUTE, predict=c.INVOCATIONS,
                        mounts={str(model_dir): FETCHED_MODEL_DIR} if remote else {},
                        read_only=False, tmpfs=(), stop_grace_s=TERMINATION_GRACE_S)
