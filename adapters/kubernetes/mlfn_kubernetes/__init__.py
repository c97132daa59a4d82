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
from typing import Any

from mlfn_runtime import contract as c

from mlfn.adapter import (
    Adapter,
    CompileContext,
    CompileResult,
    DoctorCheck,
    InvokeResponse,
    LocationSetting,
    LogsInfo,
    credentials_check,
    post,
)
from mlfn.errors import CatalogError, InvokeError
from mlfn.stack import ResolvedStack

from . import manifests as m
from .conventions import NAME_RULES, TAG_STYLE
from .pricing import PRICING

__all__ = ["KubernetesAdapter"]

EXPOSE = ("loadbalancer", "ingress")
DEPLOYMENT_MODES = ("Serverless", "RawDeployment")


def settings_of(stack: ResolvedStack) -> m.Settings:
    return m.Settings.from_overrides(stack.overrides)


class KubernetesAdapter(Adapter):
    name = "kubernetes"
    package = "mlfn-kubernetes"
    targets = ("kserve", "deployment")
    scale_to_zero_target = "kserve"
    managed_target = "deployment"
    location = {
        "namespace": LocationSetting(env=("MLFN_KUBERNETES_NAMESPACE",), required=False, default="default"),
        "context": LocationSetting(env=("MLFN_KUBERNETES_CONTEXT",), required=False),
        "registry": LocationSetting(env=("MLFN_REGISTRY",), required=False),
    }
    supports_logs = True
    tag_style = TAG_STYLE
    name_rules = NAME_RULES
    stack_template = "cloud: kubernetes\nnamespace: default\nregistry: ghcr.io/your-org\n"

    def doctor(self, env: Mapping[str, str]) -> list[DoctorCheck]:
        return [credentials_check(self.name, env, ("KUBECONFIG",), ("~/.kube/config",),
            "point KUBECONFIG at your cluster's kubeconfig")]

    def check(self, spec, stack: ResolvedStack) -> list[str]:
        problems: list[str] = []
        try:
            s = settings_of(stack)
        except (TypeError, ValueError) as e:
            return [str(e)]
        if stack.target == "kserve" and spec.scaling.min == 0 and s.deployment_mode == "RawDeployment":
            problems.append(
                "KServe scales to zero only in Serverless (Knative) mode: remove "
                "overrides.kubernetes.deployment_mode: RawDeployment, or set scaling.min: 1"
            )
        if s.deployment_mode is not None and s.deployment_mode not in DEPLOYMENT_MODES:
            problems.append(f"overrides.kubernetes.deployment_mode: {s.deployment_mode!r} is not one of "
                            f"{', '.join(DEPLOYMENT_MODES)}")
        if s.expose not in EXPOSE:
            problems.append(f"overrides.kubernetes.expose: {s.expose!r} is not one of {', '.join(EXPOSE)}")
        if stack.target == "kserve" and s.expose == "ingress" and spec.endpoint.auth != "private":
            problems.append("target kserve is exposed by Knative's own ingress: remove overrides.kubernetes.expose")
        if not spec.runtime.image and not stack.setting("registry"):
            problems.append(
                "Kubernetes has no registry of its own: set registry: in the stack file to one the cluster "
                "can pull from (e.g. ghcr.io/you; or MLFN_REGISTRY), or runtime.image to a prebuilt image"
            )
        if not 1 <= s.cpu_utilization <= 100:
            problems.append("overrides.kubernetes.cpu_utilization must be a percentage between 1 and 100")
        try:
            m.resources(spec)
        except CatalogError as e:  # pragma: no cover - Kubernetes takes any size today
            problems.append(str(e))
        return problems

    def notes(self, spec, stack: ResolvedStack) -> list[str]:
        out = []
        if stack.target == "kserve" and spec.scaling.min == 0:
            out.append("scaling.min: 0 works only in KServe's Serverless mode (Knative installed in the cluster)")
        if stack.target == "deployment" and spec.scaling.min == 0:
            out.append("a Deployment keeps at least one pod: scaling.min 0 runs as 1 (use target kserve to scale "
                       "to zero)")
        if spec.endpoint.auth == "private":
            out.append("endpoint.auth private: a ClusterIP service, reachable with kubectl port-forward "
                       "(mlfn invoke does it for you)")
        return out

    def compile(self, ctx: CompileContext) -> CompileResult:
        import pulumi
        import pulumi_kubernetes as k8s

        from mlfn.image import Registry, runtime_image

        spec, s = ctx.spec, settings_of(ctx.stack)
        ns = ctx.stack.setting("namespace") or "default"
        name = m.names(spec)
        provider_opts: dict[str, Any] = {}
        if ctx.stack.setting("context"):
            provider = k8s.Provider(ctx.child("provider"), context=ctx.stack.setting("context"), opts=ctx.opts())
            provider_opts["provider"] = provider
        depends: list[pulumi.Resource] = []
        if s.create_namespace:
            nso = m.namespace_object(spec, ns)
            depends.append(k8s.core.v1.Namespace(ctx.child("namespace"), metadata=nso["metadata"],
                                                 opts=ctx.opts(**provider_opts)))

        def opts(**kw: Any) -> pulumi.ResourceOptions:
            return ctx.opts(**provider_opts, depends_on=depends, **kw)

        bake = m.model_source(spec, s) is None
        registry = None if spec.runtime.image else Registry(repository=f"{ctx.stack.setting('registry')}/{name}")
        image = runtime_image(ctx, registry, variant="gpu" if spec.compute.gpu else "cpu", bake_model=bake)

        secret_name = None
        extra: dict[str, Any] = {"namespace": ns, "name": name}
        if spec.endpoint.auth == "key":
            import pulumi_random as random

            key = random.RandomPassword(ctx.child("api-key"), length=40, special=False, opts=ctx.opts())
            secret = m.key_secret(spec, ns, key.result)
            secret_name = secret["metadata"]["name"]
            k8s.core.v1.Secret(ctx.child("api-keys"), metadata=secret["metadata"], type=secret["type"],
                               string_data=secret["stringData"], opts=opts())
            extra["api_key"] = key.result

        if ctx.target == "kserve":
            isvc = m.inference_service(spec, s, ns, image, secret_name)
            k8s.apiextensions.CustomResource(
                ctx.child("inferenceservice"), api_version=isvc["apiVersion"], kind=isvc["kind"],
                metadata=isvc["metadata"], spec=isvc["spec"], opts=opts(),
            )
            domain = "svc.cluster.local" if spec.endpoint.auth == "private" else s.domain
            url: Any = f"http://{name}.{ns}.{domain}"
            extra["port_forward"] = f"svc/{name}-predictor"
        else:
            dep = m.deployment(spec, s, ns, image, secret_name)
            k8s.apps.v1.Deployment(ctx.child("deployment"), metadata=dep["metadata"], spec=dep["spec"], opts=opts())
            svc_obj = m.service(spec, s, ns)
            svc = k8s.core.v1.Service(ctx.child("service"), metadata=svc_obj["metadata"], spec=svc_obj["spec"],
                                      opts=opts())
            h = m.hpa(spec, s, ns)
            k8s.autoscaling.v2.HorizontalPodAutoscaler(ctx.child("hpa"), metadata=h["metadata"], spec=h["spec"],
                                                       opts=opts())
            budget = m.pdb(spec, ns)
            if budget:
                k8s.policy.v1.PodDisruptionBudget(ctx.child("pdb"), metadata=budget["metadata"],
                                                  spec=budget["spec"], opts=opts())
            ing = m.ingress(spec, s, ns)
            if ing:
                k8s.networking.v1.Ingress(ctx.child("ingress"), metadata=ing["metadata"], spec=ing["spec"],
                                          opts=opts())
                url = f"http://{s.ingress_host}" if s.ingress_host else f"http://{name}.{ns}.svc.cluster.local"
            elif svc_obj["spec"]["type"] == "LoadBalancer":
                url = svc.status.apply(_load_balancer_url)
            else:
                url = f"http://{name}.{ns}.svc.cluster.local"
            extra["port_forward"] = f"svc/{name}"
        return CompileResult(url=url, logs=_logs_command(ns, name, ctx.stack.setting("context")), extra=extra)

    # ------------------------------------------------------------------ invoke and logs
    def invoke(self, outputs: Mapping[str, Any], stack: ResolvedStack, body: bytes,
               content_type: str) -> InvokeResponse:
        details = outputs.get("details") or {}
        headers = {"content-type": content_type}
        if details.get("api_key"):
            headers["authorization"] = f"Bearer {details['api_key']}"
        given = os.environ.get("MLFN_INVOKE_URL")
        url = given or str(outputs.get("url", ""))
        if given or not url.endswith(".svc.cluster.local"):
            return post(url.rstrip("/") + c.INVOCATIONS, body, headers, timeout=60)
        with _port_forward(details.get("namespace", "default"), details.get("port_forward", ""),
                           stack.setting("context")) as local:
            return post(local + c.INVOCATIONS, body, headers, timeout=60)

    def logs(self, outputs: Mapping[str, Any], stack: ResolvedStack, lines: int = 50, spec=None) -> LogsInfo:
        details = outputs.get("details") or {}
        command = str(outputs.get("logs") or "")
        if not command and spec is not None:
            command = _logs_command(stack.setting("namespace") or "default", m.names(spec), stack.setting("context"))
        if not command:
            return LogsInfo(where="kubectl logs (the deployment has no outputs yet)")
        kubectl = shutil.which("kubectl")
        if kubectl is None or not details:
            return LogsInfo(where=command)
        args = [*command.split()[1:], f"--tail={lines}"]
        p = subprocess.run([kubectl, *args], capture_output=True, text=True, timeout=60)
        return LogsInfo(where=command, lines=tuple((p.stdout or p.stderr).splitlines()))

    pricing = PRICING


def _logs_command(ns: str, name: str, context: str | None) -> str:
    ctx = f" --context {context}" if context else ""
    return f"kubectl logs{ctx} -n {ns} -l app.kubernetes.io/name={name} --all-containers --prefix"


def _load_balancer_url(status: Any) -> str:
    """The external address of a LoadBalancer Service, once the cloud has assigned one."""
    if isinstance(status, Mapping):
        ingress = (status.get("load_balancer") or status.get("loadBalancer") or {}).get("ingress") or []
        if ingress:
            host = ingress[0].get("hostname") or ingress[0].get("ip")
            if host:
                return f"http://{host}"
    return "pending: the cloud has not assigned the load balancer an address yet"


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
