"""Pure functions that write the Kubernetes objects of a deployment as plain dicts.

Kept free of Pulumi so the same objects can be validated against the official schemas
(kubernetes-validate) and KServe's CRD schema; ``compile`` wraps them in Pulumi resources.
"""

from __future__ import annotations

from typing import Any

from mlfn_runtime import contract as c

from mlfn.names import resource_name
from mlfn.spec import Spec
from mlfn.tags import tags_for

from . import conventions
from .conventions import NAME_RULES, TAG_STYLE
from .models import KubernetesOverrides

PORT = 8080
SERVICE_PORT = 80
MODEL_MOUNT = "/mnt/models"
BAKED_MODEL = "/opt/ml/model"
RUN_AS = 10001
KSERVE_API = "serving.kserve.io/v1beta1"
KEY_SECRET_KEY = "api-keys"
#: Pod annotation: a digest of what the image was built from (model, requirements, runtime, variant).
BUILD_ANNOTATION = "mlfn.dev/build"
#: The pods' kill deadline after SIGTERM (terminationGracePeriodSeconds), and the runtime's drain
#: time within it (contract.GRACEFUL_SECONDS).
GRACE_SECONDS = 45
GRACEFUL_SECONDS = 40
#: What the runtime accepts, in nginx's unit (m = MiB), for ingress-nginx (whose default is 1m).
BODY_SIZE_ANNOTATION = "nginx.ingress.kubernetes.io/proxy-body-size"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def names(spec: Spec, stack: str, target: str = "deployment") -> str:
    """The name of every object of this deployment: the deployment's and the stack's, so two stacks
    in one namespace never collide (shorter for KServe, whose children add suffixes)."""
    return resource_name(f"{spec.name}-{stack}", NAME_RULES["kserve" if target == "kserve" else "k8s"])


def app_name(spec: Spec) -> str:
    """The application's name, shared by its stacks (the image repository, app.kubernetes.io/name)."""
    return resource_name(spec.name, NAME_RULES["k8s"])


def labels(spec: Spec, name: str) -> dict[str, str]:
    """Tags, plus the recommended app labels: ``name`` is the application, ``instance`` this stack's copy."""
    return {**tags_for(spec.name, spec.tags, TAG_STYLE), "app.kubernetes.io/name": app_name(spec),
            "app.kubernetes.io/instance": name, "app.kubernetes.io/managed-by": "mlfn"}


def selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": name}


#: The label KServe puts on an InferenceService's pods.
KSERVE_POD_LABEL = "serving.kserve.io/inferenceservice"


def pod_selector(target: str, name: str) -> str:
    """A label selector for this deployment's pods, as kubectl takes it."""
    key, value = (KSERVE_POD_LABEL, name) if target == "kserve" else next(iter(selector(name).items()))
    return f"{key}={value}"


def model_source(spec: Spec, settings: KubernetesOverrides) -> str | None:
    """A URI the cluster reads the model from, or None when the model is baked into the image."""
    if settings.storage_uri:
        return settings.storage_uri
    return spec.model.uri if spec.model.is_remote else None


def tuning(spec: Spec) -> dict[str, str]:
    """The runtime's tuning for its pod: workers, request size, shutdown grace."""
    gpu = spec.compute.gpu
    workers = gpu.count if gpu else max(1, int(spec.compute.cpu))
    return {
        c.WORKERS: str(workers),  # one per requested CPU; one per GPU
        # Neither Kubernetes Services nor Knative document a request-size limit: the contract's
        # default, which the Ingress is told as well.
        c.MAX_BODY_BYTES: str(c.DEFAULT_MAX_BODY_BYTES),
        # In-flight requests get this long after SIGTERM, below every kill deadline: the pods'
        # terminationGracePeriodSeconds (GRACE_SECONDS), or a Knative revision's timeout (300 s default).
        c.GRACEFUL_SECONDS: str(GRACEFUL_SECONDS),
    }


def container_env(spec: Spec, model_uri: str, key_secret: str | None, port: bool = True) -> list[dict[str, Any]]:
    """The runtime's environment. ``port=False`` leaves PORT out: Knative reserves it (and sets it)."""
    env = [{"name": k, "value": v} for k, v in sorted(spec.runtime.env.items())]
    env += [{"name": k, "value": v} for k, v in c.container_env(
        model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler, model_uri=model_uri,
    ).items()]
    env += [{"name": k, "value": v} for k, v in tuning(spec).items() if k not in spec.runtime.env]
    if port:
        env.append({"name": "PORT", "value": str(PORT)})
    if key_secret:
        env.append({"name": c.API_KEYS, "valueFrom": {"secretKeyRef": {"name": key_secret, "key": KEY_SECRET_KEY}}})
    return env


def resources(spec: Spec) -> dict[str, dict[str, str]]:
    return conventions.resources(spec.compute)


def probes() -> dict[str, Any]:
    def http(path: str, **kw: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": PORT}, **kw}

    return {
        # Big models load slowly: the startup probe allows 10 minutes before liveness takes over.
        "startupProbe": http(c.READINESS_ROUTE, periodSeconds=5, failureThreshold=120, timeoutSeconds=2),
        "livenessProbe": http(c.LIVENESS_ROUTE, periodSeconds=10, failureThreshold=3, timeoutSeconds=2),
        "readinessProbe": http(c.READINESS_ROUTE, periodSeconds=5, failureThreshold=2, timeoutSeconds=2),
    }


def security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


#: mlfn builds the runtime image for linux/amd64 only.
AMD64 = {"kubernetes.io/arch": "amd64"}


def scheduling(spec: Spec, settings: KubernetesOverrides) -> dict[str, Any]:
    """Where the pods run, and as whom: node selector, tolerations, pull secret, service account."""
    out: dict[str, Any] = {}
    # The image mlfn builds runs on amd64 nodes only; a prebuilt runtime.image has its own platforms.
    selector = {**({} if spec.runtime.image else AMD64), **settings.node_selector}
    if selector:
        out["nodeSelector"] = selector
    tolerations = list(settings.tolerations)
    if spec.compute.gpu and GPU_TOLERATION not in tolerations:
        tolerations.append(GPU_TOLERATION)
    if tolerations:
        out["tolerations"] = tolerations
    if settings.image_pull_secret:
        out["imagePullSecrets"] = [{"name": settings.image_pull_secret}]
    if settings.service_account:
        out["serviceAccountName"] = settings.service_account
    return out


def pod_annotations(build: str | None) -> dict[str, str]:
    """What the image was built from: it changes with every new build, so the pod template does too."""
    return {BUILD_ANNOTATION: build} if build else {}


def deployment(spec: Spec, settings: KubernetesOverrides, namespace: str, name: str, image: Any,
               key_secret: str | None, build: str | None = None) -> dict:
    source = model_source(spec, settings)
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    init: list[dict[str, Any]] = []
    model_uri = BAKED_MODEL
    if source:
        # The model lives outside the image: an init container fetches it into a shared volume.
        volumes.append({"name": "model", "emptyDir": {}})
        mounts.append({"name": "model", "mountPath": MODEL_MOUNT, "readOnly": True})
        model_uri = MODEL_MOUNT
        init.append({
            "name": "fetch-model",
            "image": image,
            "command": ["mlfn-runtime", "fetch", source, MODEL_MOUNT],
            "volumeMounts": [{"name": "model", "mountPath": MODEL_MOUNT}, {"name": "tmp", "mountPath": "/tmp"}],
            "securityContext": security(),
            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
        })
    container = {
        "name": "model",
        "image": image,
        "args": ["serve"],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": container_env(spec, model_uri, key_secret),
        "resources": resources(spec),
        "volumeMounts": mounts,
        "securityContext": security(),
        **probes(),
    }
    pod: dict[str, Any] = {
        "containers": [container],
        "volumes": volumes,
        "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "fsGroup": RUN_AS},
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        **scheduling(spec, settings),
    }
    if init:
        pod["initContainers"] = init
    template: dict[str, Any] = {"labels": labels(spec, name)}
    if build:
        template["annotations"] = pod_annotations(build)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(spec, name)},
        "spec": {
            # No replicas: the HorizontalPodAutoscaler owns them; written here, every `up` would
            # scale the Deployment back to this number.
            "selector": {"matchLabels": selector(name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": template, "spec": pod},
        },
    }


def service(spec: Spec, settings: KubernetesOverrides, namespace: str, name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(spec, name)},
        "spec": {
            # key and public are exposed by an Ingress serving TLS, never by a plain-HTTP LoadBalancer.
            "type": "ClusterIP",
            "selector": selector(name),
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def ingress(spec: Spec, settings: KubernetesOverrides, namespace: str, name: str) -> dict | None:
    if spec.endpoint.auth == "private":
        return None
    rule: dict[str, Any] = {"http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": name, "port": {"number": SERVICE_PORT}}},
    }]}}
    if settings.ingress_host:
        rule["host"] = settings.ingress_host
    body: dict[str, Any] = {"rules": [rule]}
    if settings.tls_secret and settings.ingress_host:
        body["tls"] = [{"hosts": [settings.ingress_host], "secretName": settings.tls_secret}]
    if settings.ingress_class:
        body["ingressClassName"] = settings.ingress_class
    body_size = f"{c.DEFAULT_MAX_BODY_BYTES // (1024 * 1024)}m"
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(spec, name),
                     "annotations": {BODY_SIZE_ANNOTATION: body_size}},
        "spec": body,
    }


def hpa(spec: Spec, settings: KubernetesOverrides, namespace: str, name: str) -> dict:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(spec, name)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": max(1, spec.scaling.min),
            "maxReplicas": spec.scaling.max,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": settings.cpu_utilization},
            }}],
        },
    }


def pdb(spec: Spec, namespace: str, name: str) -> dict | None:
    if spec.scaling.min < 2:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(spec, name)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(name)}},
    }


def key_secret(spec: Spec, namespace: str, name: str, keys: Any) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{name}-api-keys"[:63], "namespace": namespace, "labels": labels(spec, name)},
        "type": "Opaque",
        "stringData": {KEY_SECRET_KEY: keys},
    }


def namespace_object(spec: Spec, namespace: str, name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels(spec, name)}}


#: KServe's raw mode: ``RawDeployment``, named ``Standard`` from KServe 0.17.
RAW_MODES = ("RawDeployment", "Standard")


def is_raw(settings: KubernetesOverrides) -> bool:
    return settings.deployment_mode in RAW_MODES


def inference_service(spec: Spec, settings: KubernetesOverrides, namespace: str, name: str, image: Any,
                      key_secret: str | None, build: str | None = None) -> dict:
    source = model_source(spec, settings)
    model_uri = MODEL_MOUNT if source else BAKED_MODEL
    raw = is_raw(settings)
    container: dict[str, Any] = {
        "name": "kserve-container",
        "image": image,
        "args": ["serve"],
        "ports": [{"containerPort": PORT, "protocol": "TCP"}],
        # Knative reserves PORT; raw mode needs none either (the runtime's default is 8080).
        "env": container_env(spec, model_uri, key_secret, port=False),
        "resources": resources(spec),
        "readinessProbe": probes()["readinessProbe"],
        "livenessProbe": probes()["livenessProbe"],
    }
    if raw:
        # A plain Deployment: a slow-loading model must not be restarted by liveness.
        container["startupProbe"] = probes()["startupProbe"]
    pod: dict[str, Any] = {}
    if raw:
        # Knative sets a revision's grace period itself (its timeout); raw mode's pods get ours.
        pod["terminationGracePeriodSeconds"] = GRACE_SECONDS
    if source:
        # KServe's storage initializer downloads STORAGE_URI into /mnt/models before the container starts.
        container["env"].append({"name": "STORAGE_URI", "value": source})
    predictor: dict[str, Any] = {
        "minReplicas": spec.scaling.min,
        "maxReplicas": spec.scaling.max,
        # Raw mode autoscales with an HPA: cpu or memory only (concurrency is rejected or dropped).
        "scaleMetric": "cpu" if raw else "concurrency",
        "scaleTarget": settings.cpu_utilization if raw else spec.scaling.concurrency,
        "containers": [container],
        **pod,
        **scheduling(spec, settings),
    }
    if build:
        predictor["annotations"] = pod_annotations(build)
    annotations = {"serving.kserve.io/deploymentMode": settings.deployment_mode or "Serverless"}
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels(spec, name),
                                "annotations": annotations}
    if spec.endpoint.auth == "private":
        # Reachable only inside the cluster: Knative's label in Serverless mode; raw mode ignores it
        # and creates an Ingress unless KServe's own label says cluster-local.
        key = "networking.kserve.io/visibility" if raw else "networking.knative.dev/visibility"
        metadata["labels"][key] = "cluster-local"
    return {"apiVersion": KSERVE_API, "kind": "InferenceService", "metadata": metadata,
            "spec": {"predictor": predictor}}
