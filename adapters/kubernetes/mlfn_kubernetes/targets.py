"""The two targets of the Kubernetes adapter, one object each: ``kserve`` and ``deployment``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlfn.adapter import CompileContext, CompileResult, ContainerRun, Target

from . import manifests as m


@dataclass
class _Common:
    """What both targets create first: the provider, the namespace, the image and the key secret."""

    name: str
    namespace: str
    image: Any
    secret_name: str | None
    build: str | None
    provider_opts: dict[str, Any]
    depends: list[Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def opts(self, ctx: CompileContext, **kw: Any):
        return ctx.opts(**self.provider_opts, depends_on=self.depends, **kw)


def logs_command(ns: str, target: str, name: str, context: str | None) -> str:
    ctx = f" --context {context}" if context else ""
    return f"kubectl logs{ctx} -n {ns} -l {m.pod_selector(target, name)} --all-containers --prefix"


def build_digest(ctx: CompileContext, variant: str, bake: bool) -> str | None:
    """A digest of what the runtime image is built from, or None for a prebuilt runtime.image.

    The pods run the build's ``ref`` (tag@digest), so a real ``up`` rolls them out on a new
    build; the offline plan answers ``ref`` with a fixed placeholder, so this digest, written on
    the pod template, is what shows the rollout in a plan (and tells ``kubectl describe`` which
    build a pod runs)."""
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    from mlfn.manifest import model_files

    spec = ctx.spec
    if spec.runtime.image:
        return None
    try:
        runtime = version("mlfn-runtime")
    except PackageNotFoundError:  # pragma: no cover - the adapter depends on it
        runtime = ""
    h = hashlib.sha256()
    for part in (variant, spec.runtime.python, spec.model.format, spec.model.handler or "", runtime):
        h.update(part.encode() + b"\0")
    requirements = ctx.project_dir / spec.runtime.requirements if spec.runtime.requirements else None
    h.update(requirements.read_bytes() if requirements and requirements.is_file() else b"")
    model = ctx.model_path()
    if bake:
        h.update((model_files(model).digest if model else spec.model.uri).encode())
    return h.hexdigest()[:16]


def _common(ctx: CompileContext) -> _Common:
    import pulumi_kubernetes as k8s

    from mlfn.image import Registry, runtime_image

    spec, s, loc = ctx.spec, ctx.stack.overrides, ctx.stack.location
    ns = loc.namespace or "default"
    name = m.names(spec, ctx.stack.name, ctx.target)
    provider_opts: dict[str, Any] = {}
    if loc.context:
        provider = k8s.Provider(ctx.child("provider"), context=loc.context, opts=ctx.opts())
        provider_opts["provider"] = provider
    depends: list[Any] = []
    if s.create_namespace:
        nso = m.namespace_object(spec, ns, name)
        depends.append(k8s.core.v1.Namespace(ctx.child("namespace"), metadata=nso["metadata"],
                                             opts=ctx.opts(**provider_opts)))
    bake = m.model_source(spec, s) is None
    registry = None if spec.runtime.image else Registry(repository=f"{loc.registry}/{m.app_name(spec)}")
    variant = "gpu" if spec.compute.gpu else "cpu"
    # The deployment's fetch-model init container runs this image's runtime against the store (KServe's
    # storage initializer is its own image and mounts files): it needs that store's client.
    store = m.model_source(spec, s) if ctx.target == "deployment" else None
    image = runtime_image(ctx, registry, variant=variant, bake_model=bake, model_store=store)
    build = build_digest(ctx, variant, bake)
    common = _Common(name, ns, image, None, build, provider_opts, depends, {"namespace": ns, "name": name})
    if spec.endpoint.auth == "key":
        import pulumi_random as random

        key = random.RandomPassword(ctx.child("api-key"), length=40, special=False, opts=ctx.opts())
        secret = m.key_secret(spec, ns, name, key.result)
        common.secret_name = secret["metadata"]["name"]
        k8s.core.v1.Secret(ctx.child("api-keys"), metadata=secret["metadata"], type=secret["type"],
                           string_data=secret["stringData"], opts=common.opts(ctx))
        common.extra["api_key"] = key.result
    return common


class KServe(Target):
    """A KServe InferenceService whose predictor is the mlfn runtime container."""

    name = "kserve"
    supports_scale_to_zero = True
    supports_gpu = True

    def check(self, spec, stack) -> list[str]:
        s = stack.overrides
        problems = []
        if spec.scaling.min == 0 and m.is_raw(s):
            problems.append(
                "KServe scales to zero only in Serverless (Knative) mode: remove "
                f"overrides.kubernetes.deployment_mode: {s.deployment_mode}, or set scaling.min: 1"
            )
        if s.expose is not None and spec.endpoint.auth != "private":
            problems.append("target kserve is exposed by Knative's own ingress: remove overrides.kubernetes.expose")
        host = f"{m.names(spec, stack.name, self.name)}-predictor-{stack.location.namespace}"
        if m.is_raw(s) and len(host) > 63:
            problems.append(
                f"KServe's raw mode names the predictor's host {host}, one DNS label of at most 63 characters "
                f"({len(host)} here): use a shorter namespace, stack file name or model name")
        if spec.endpoint.auth != "private" and not s.external_tls:
            problems.append(
                f"target kserve with endpoint.auth {spec.endpoint.auth}: Knative serves the InferenceService's "
                "external host over plain HTTP unless the cluster enables TLS for it (Knative external-domain-tls "
                "with cert-manager; raw mode: TLS on KServe's ingress). Enable it and set "
                "overrides.kubernetes.external_tls: true, or use endpoint.auth private")
        return problems

    def notes(self, spec, stack) -> list[str]:
        out = []
        if spec.scaling.min == 0:
            out.append("scaling.min: 0 works only in KServe's Serverless mode (Knative installed in the cluster)")
        if m.is_raw(stack.overrides):
            out.append(f"KServe's raw mode scales on CPU (an HPA at {stack.overrides.cpu_utilization}% utilization, "
                       "overrides.kubernetes.cpu_utilization), not on scaling.concurrency: only Knative scales on "
                       "concurrency")
        return out

    def local_container(self, spec, stack, model_dir: Path) -> ContainerRun:
        from .local_run import kserve_run

        return kserve_run(spec, stack, model_dir)

    def compile(self, ctx: CompileContext) -> CompileResult:
        import pulumi_kubernetes as k8s

        spec, s = ctx.spec, ctx.stack.overrides
        c = _common(ctx)
        isvc = m.inference_service(spec, s, c.namespace, c.name, c.image, c.secret_name, c.build)
        k8s.apiextensions.CustomResource(
            ctx.child("inferenceservice"), api_version=isvc["apiVersion"], kind=isvc["kind"],
            metadata=isvc["metadata"], spec=isvc["spec"], opts=c.opts(ctx),
        )
        predictor = f"{c.name}-predictor"
        if spec.endpoint.auth != "private":
            # The external host: KServe's domainTemplate in raw mode ({name}-{namespace}.{domain} by
            # default), Knative's in Serverless mode ({name}.{namespace}.{domain}).
            sep = "-" if m.is_raw(s) else "."
            url = f"https://{c.name}{sep}{c.namespace}.{s.domain}"
        elif m.is_raw(s):
            # Raw mode: a plain Service with a selector, and no top-level host.
            url = f"http://{predictor}.{c.namespace}.svc.cluster.local"
        else:
            url = f"http://{c.name}.{c.namespace}.svc.cluster.local"
        if m.is_raw(s):
            c.extra["port_forward"] = f"svc/{predictor}"
        else:
            # Knative's route Service has no selector, so kubectl cannot forward to it: forward to
            # the cluster-local gateway (it has pods, and wakes a revision scaled to zero) and
            # name the predictor's cluster-local host.
            gateway_ns, gateway = s.local_gateway.split("/")
            c.extra.update(port_forward=f"svc/{gateway}", port_forward_namespace=gateway_ns,
                           host=f"{predictor}.{c.namespace}.svc.cluster.local")
        return CompileResult(url=url, logs=logs_command(c.namespace, self.name, c.name, ctx.stack.location.context),
                             extra=c.extra)


class Deployment(Target):
    """Deployment + Service + HorizontalPodAutoscaler (+ PodDisruptionBudget, Ingress)."""

    name = "deployment"
    supports_gpu = True

    def check(self, spec, stack) -> list[str]:
        s, auth = stack.overrides, spec.endpoint.auth
        if auth == "private":
            return []
        what = "the API key" if auth == "key" else "every request and response"
        if s.expose == "loadbalancer":
            return [f"endpoint.auth {auth}: a LoadBalancer Service serves plain HTTP on port 80, so {what} would "
                    "cross the network in cleartext: remove overrides.kubernetes.expose (an Ingress serving TLS) "
                    "and set ingress_host and tls_secret"]
        return [f"endpoint.auth {auth} is served by an Ingress over TLS: set overrides.kubernetes.{field} ({why})"
                for field, why in (("ingress_host", "the host name clients call"),
                                   ("tls_secret", "a kubernetes.io/tls Secret in the namespace with that host's "
                                    "certificate, e.g. issued by cert-manager"))
                if not getattr(s, field)]

    def notes(self, spec, stack) -> list[str]:
        if spec.scaling.min == 0:
            return ["a Deployment keeps at least one pod: scaling.min 0 runs as 1 (use target kserve to scale "
                    "to zero)"]
        return []

    def local_container(self, spec, stack, model_dir: Path) -> ContainerRun:
        from .local_run import deployment_run

        return deployment_run(spec, stack, model_dir)

    def compile(self, ctx: CompileContext) -> CompileResult:
        import pulumi_kubernetes as k8s

        spec, s = ctx.spec, ctx.stack.overrides
        c = _common(ctx)
        name, ns = c.name, c.namespace
        dep = m.deployment(spec, s, ns, name, c.image, c.secret_name, c.build)
        k8s.apps.v1.Deployment(ctx.child("deployment"), metadata=dep["metadata"], spec=dep["spec"],
                               opts=c.opts(ctx))
        svc_obj = m.service(spec, s, ns, name)
        k8s.core.v1.Service(ctx.child("service"), metadata=svc_obj["metadata"], spec=svc_obj["spec"],
                                  opts=c.opts(ctx))
        h = m.hpa(spec, s, ns, name)
        k8s.autoscaling.v2.HorizontalPodAutoscaler(ctx.child("hpa"), metadata=h["metadata"], spec=h["spec"],
                                                   opts=c.opts(ctx))
        budget = m.pdb(spec, ns, name)
        if budget:
            k8s.policy.v1.PodDisruptionBudget(ctx.child("pdb"), metadata=budget["metadata"],
                                              spec=budget["spec"], opts=c.opts(ctx))
        ing = m.ingress(spec, s, ns, name)
        url: Any = f"http://{name}.{ns}.svc.cluster.local"
        if ing:
            k8s.networking.v1.Ingress(ctx.child("ingress"), metadata=ing["metadata"], spec=ing["spec"],
                                      opts=c.opts(ctx))
            url = f"https://{s.ingress_host}"
        c.extra["port_forward"] = f"svc/{name}"
        return CompileResult(url=url, logs=logs_command(ns, self.name, name, ctx.stack.location.context), extra=c.extra)
