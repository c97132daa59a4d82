"""mlfn adapter for any Kubernetes cluster (EKS, GKE, AKS, on-prem).

Targets: ``kserve`` (a KServe InferenceService whose predictor is the mlfn runtime; the default
for ``scaling.min: 0``) and ``deployment`` (Deployment + Service + HorizontalPodAutoscaler; the
default for ``min >= 1``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping

from mlfn_runtime import contract as c

from mlfn.adapter import (
    Adapter,
    DoctorCheck,
    InvokeResponse,
    LogsInfo,
    credentials_check,
    post,
)
from mlfn.errors import CatalogError, InvokeError
from mlfn.stack import ResolvedStack

from . import manifests as m
from .conventions import NAME_RULES, TAG_STYLE
from .models import KubernetesLocation, KubernetesOutputs, KubernetesOverrides
from .pricing import PRICING
from .targets import Deployment, KServe, logs_command

__all__ = ["KubernetesAdapter", "KubernetesLocation", "KubernetesOutputs", "KubernetesOverrides"]


class KubernetesAdapter(Adapter):
    name = "kubernetes"
    package = "mlfn-kubernetes"
    targets = {"kserve": KServe(), "deployment": Deployment()}
    scale_to_zero_target = "kserve"
    managed_target = "deployment"
    Location = KubernetesLocation
    Overrides = KubernetesOverrides
    Outputs = KubernetesOutputs
    # Kubernetes has no regions: a cluster is wherever it runs.
    region_field = None
    regions: Mapping[str, str] = {}
    supports_logs = True
    tag_style = TAG_STYLE
    name_rules = NAME_RULES
    stack_template = "cloud: kubernetes\nnamespace: default\nregistry: ghcr.io/your-org\n"
    placeholders = {"registry": "ghcr.io/your-org"}

    def doctor(self, env: Mapping[str, str]) -> list[DoctorCheck]:
        return [credentials_check(self.name, env, ("KUBECONFIG",), ("~/.kube/config",),
            "point KUBECONFIG at your cluster's kubeconfig")]

    def check(self, spec, stack: ResolvedStack) -> list[str]:
        problems: list[str] = []
        if not spec.runtime.image and not stack.location.registry:
            problems.append(
                "Kubernetes has no registry of its own: set registry: in the stack file to one the cluster "
                "can pull from (e.g. ghcr.io/you; or MLFN_REGISTRY), or runtime.image to a prebuilt image"
            )
        try:
            m.resources(spec)
        except CatalogError as e:  # pragma: no cover - Kubernetes takes any size today
            problems.append(str(e))
        return problems + super().check(spec, stack)

    def notes(self, spec, stack: ResolvedStack) -> list[str]:
        out = super().notes(spec, stack)
        source = m.model_source(spec, stack.overrides)
        if source and "://" in source and not stack.overrides.service_account:
            out.append(f"the model at {source} is read with the node's identity: to read it with a role of its "
                       "own, name a ServiceAccount bound to it (IRSA, Workload Identity, KServe storage credentials) "
                       "in overrides.kubernetes.service_account")
        if spec.endpoint.auth == "private":
            out.append("endpoint.auth private: a ClusterIP service, reachable with kubectl port-forward "
                       "(mlfn invoke does it for you)")
        return out

    # ------------------------------------------------------------------ invoke and logs
    def invoke(self, outputs: KubernetesOutputs, stack: ResolvedStack, body: bytes,
               content_type: str) -> InvokeResponse:
        headers = {"content-type": content_type}
        if outputs.api_key:
            headers["authorization"] = f"Bearer {outputs.api_key}"
        given = os.environ.get("MLFN_INVOKE_URL")
        url = given or outputs.url
        if given or not url.endswith(".svc.cluster.local"):
            return post(url.rstrip("/") + c.INVOCATIONS, body, headers, timeout=60)
        if outputs.host:
            headers["host"] = outputs.host
        namespace = outputs.port_forward_namespace or outputs.namespace
        with _port_forward(namespace, outputs.port_forward, stack.location.context) as local:
            return post(local + c.INVOCATIONS, body, headers, timeout=60)

    def logs(self, outputs: KubernetesOutputs | None, stack: ResolvedStack, lines: int = 50,
             spec=None) -> LogsInfo:
        command = outputs.logs if outputs else ""
        if not command and spec is not None:
            command = logs_command(stack.location.namespace or "default", stack.target or "",
                                   m.names(spec, stack.name, stack.target or ""), stack.location.context)
        if not command:
            return LogsInfo(where="kubectl logs (the deployment has no outputs yet)")
        kubectl = shutil.which("kubectl")
        if kubectl is None or not outputs:
            return LogsInfo(where=command)
        args = [*command.split()[1:], f"--tail={lines}"]
        p = subprocess.run([kubectl, *args], capture_output=True, text=True, timeout=60)
        return LogsInfo(where=command, lines=tuple((p.stdout or p.stderr).splitlines()))

    pricing = PRICING


class _port_forward:  # noqa: N801 - used as a context manager like open()
    """``kubectl port-forward`` to a Service on a free local port, for the length of one request."""

    def __init__(self, namespace: str, target: str, context: str | None):
        self.args = ["port-forward", "-n", namespace, target, ":80"]
        if context:
            self.args[:0] = ["--context", context]

    def __enter__(self) -> str:
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise InvokeError("this endpoint is private to the cluster: install kubectl to port-forward, "
                              "or set MLFN_INVOKE_URL to an address that reaches it")
        self.proc = subprocess.Popen([kubectl, *self.args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        found = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not found:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.proc.kill()
            raise InvokeError(f"kubectl {' '.join(self.args)} failed: {line.strip() or err.strip()}")
        return f"http://127.0.0.1:{found.group(1)}"

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)
