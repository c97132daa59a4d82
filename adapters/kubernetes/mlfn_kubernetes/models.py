"""The Kubernetes adapter's typed settings: stack-file location fields, ``overrides.kubernetes``,
and the outputs ``compile`` hands to ``invoke``/``logs``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mlfn.adapter import Location, Outputs, Overrides, setting

#: An RFC 1123 label: a namespace or a Service name.
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"


class KubernetesLocation(Location):
    """Where in which cluster: a namespace, a kubeconfig context, a registry the cluster pulls from."""

    namespace: str = setting("The namespace to deploy into, e.g. ml.", "MLFN_KUBERNETES_NAMESPACE",
                             default="default")
    context: str | None = setting("The kubeconfig context to use; default: the current one.",
                                  "MLFN_KUBERNETES_CONTEXT", default=None)
    registry: str | None = setting(
        "Where the runtime image is pushed and the cluster pulls from, e.g. ghcr.io/you "
        "(not needed with runtime.image).", "MLFN_REGISTRY", default=None)


class KubernetesOverrides(Overrides):
    """``overrides: {kubernetes: {...}}`` in a stack file."""

    create_namespace: bool = Field(default=False, description="Create the namespace (and own it).")
    expose: Literal["loadbalancer", "ingress"] | None = Field(
        default=None,
        description="deployment: how a key or public endpoint is exposed; only ingress (the default) serves "
        "TLS: a LoadBalancer Service would serve plain HTTP, and is refused.")
    ingress_host: str | None = Field(default=None, description="deployment key/public: the Ingress host name.")
    ingress_class: str | None = Field(default=None, description="deployment key/public: the Ingress class name.")
    tls_secret: str | None = Field(
        default=None, pattern=rf"^{_LABEL}$",
        description="deployment key/public: a kubernetes.io/tls Secret in the namespace holding ingress_host's "
        "certificate (e.g. issued by cert-manager); the Ingress serves HTTPS with it.")
    external_tls: bool = Field(
        default=False,
        description="kserve key/public: the cluster serves KServe's external hosts over HTTPS (Knative "
        "external-domain-tls with cert-manager; raw mode: TLS on KServe's ingress); the URL is then https.")
    node_selector: dict[str, str] = Field(default_factory=dict,
                                          description="Node labels the pods must run on.")
    tolerations: list[dict[str, Any]] = Field(default_factory=list,
                                              description="Taints the pods tolerate (Kubernetes tolerations).")
    image_pull_secret: str | None = Field(default=None,
                                          description="A Secret in the namespace to pull the image with.")
    service_account: str | None = Field(
        default=None, pattern=rf"^{_LABEL}$",
        description="A ServiceAccount in the namespace for the pods: the identity that reads a remote model "
        "(s3://, gs://, storage_uri): IRSA on EKS, Workload Identity on GKE, or KServe storage credentials.")
    storage_uri: str | None = Field(
        default=None, description="kserve: where the cluster reads the model (s3://, gs://, pvc://...).")
    deployment_mode: Literal["Serverless", "RawDeployment", "Standard"] | None = Field(
        default=None, description="kserve: Serverless (Knative; default) or raw mode, named RawDeployment "
        "(KServe 0.16 and before) or Standard (KServe 0.17 on).")
    local_gateway: str = Field(
        default="istio-system/knative-local-gateway", pattern=rf"^{_LABEL}/{_LABEL}$",
        description="kserve Serverless: Knative's cluster-local gateway Service, as namespace/name, which "
        "mlfn invoke port-forwards to (Istio: istio-system/knative-local-gateway; Kourier: "
        "kourier-system/kourier-internal).")
    cpu_utilization: int = Field(
        default=70, ge=1, le=100,
        description="deployment, and kserve in raw mode: the HPA's CPU utilization target, percent.")
    domain: str = Field(
        default="example.com",
        description="kserve: the cluster's domain for external hosts (Knative's in Serverless mode, KServe's "
        "ingressDomain in raw mode; both default to example.com).")


class KubernetesOutputs(Outputs):
    """What ``compile`` hands to ``invoke`` and ``logs``."""

    namespace: str = Field(description="The namespace the deployment runs in.")
    name: str = Field(description="The name of its Kubernetes objects.")
    port_forward: str = Field(description="The Service `kubectl port-forward` reaches it through, e.g. svc/iris.")
    port_forward_namespace: str | None = Field(
        default=None, description="The namespace of that Service, when it is not the deployment's (a gateway's).")
    host: str | None = Field(default=None, description="The Host header that routes a request through that "
                             "Service to this deployment (Knative's gateway routes by host).")
    api_key: str | None = Field(default=None, description="The API key (endpoint.auth key).")
