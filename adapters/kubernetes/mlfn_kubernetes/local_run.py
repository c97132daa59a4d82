"""How a cluster runs mlfn's images, for ``mlfn up --local`` (``Target.local_container``): read off
the very container spec ``compile`` applies (``manifests.deployment`` / ``inference_service``), so
the local container has the pod's args, environment, user and read-only root.

- ``deployment``: ``args: [serve]``, ``PORT``, uid 10001 with a read-only root and an ``emptyDir``
  at /tmp; a remote model is fetched into /mnt/models by an init container (here: fetched on this
  machine and mounted there read-only), a local one is baked into the image.
- ``kserve``: the InferenceService's ``kserve-container``; Knative sets ``PORT`` (8080), and
  KServe's storage initializer downloads ``storageUri`` into /mnt/models before the container
  starts (https://kserve.github.io/website/latest/modelserving/storage/storagecontainers/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlfn_runtime import contract as c

from mlfn.adapter import ContainerRun

from . import manifests as m

LOCAL = "local"


def _env(container: dict[str, Any]) -> dict[str, str]:
    # Secret references (the API key) are the engine's to set locally.
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def deployment_run(spec, stack, model_dir: Path) -> ContainerRun:
    manifest = m.deployment(spec, stack.overrides, LOCAL, LOCAL, image=LOCAL, key_secret=None)
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security = container["securityContext"]
    mounts = {str(model_dir): m.MODEL_MOUNT} if m.model_source(spec, stack.overrides) else {}
    tmpfs = tuple(v["mountPath"] for v in container["volumeMounts"] if v["mountPath"] != m.MODEL_MOUNT)
    return ContainerRun(
        env=_env(container), port=m.PORT, health=container["readinessProbe"]["httpGet"]["path"],
        predict=c.INVOCATIONS, command=tuple(container["args"]), mounts=mounts,
        read_only=security["readOnlyRootFilesystem"], tmpfs=tmpfs, user=str(security["runAsUser"]),
        stop_grace_s=pod["terminationGracePeriodSeconds"],
    )


def kserve_run(spec, stack, model_dir: Path) -> ContainerRun:
    isvc = m.inference_service(spec, stack.overrides, LOCAL, LOCAL, image=LOCAL, key_secret=None)
    predictor = isvc["spec"]["predictor"]
    (container,) = predictor["containers"]
    env = _env(container)
    env.setdefault("PORT", str(m.PORT))  # Knative's, in its default (serverless) mode
    mounts = {str(model_dir): m.MODEL_MOUNT} if m.model_source(spec, stack.overrides) else {}
    return ContainerRun(
        env=env, port=m.PORT, health=container["readinessProbe"]["httpGet"]["path"],
        predict=c.V1_PREDICT.format(name=spec.name), command=tuple(container["args"]), mounts=mounts,
        read_only=False, tmpfs=(), stop_grace_s=predictor.get("terminationGracePeriodSeconds", 30),
    )
