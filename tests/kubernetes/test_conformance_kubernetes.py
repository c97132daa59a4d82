"""The Kubernetes adapter against the conformance suite every adapter runs (mlfn.testing)."""

from helpers import EXAMPLES, ROOT

from mlfn.testing import AdapterConformance, Lifecycle

STACKS = ROOT / "stacks"
BASE = "cloud: kubernetes\nregistry: ghcr.io/example\n"

ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
NAMESPACE = "kubernetes:core/v1:Namespace"

class TestKubernetesConformance(AdapterConformance):
    cloud = "kubernetes"
    project = EXAMPLES / "iris-sklearn"
    reference_stacks = (STACKS / "kubernetes-deployment.yaml", STACKS / "kubernetes-kserve.yaml",
                        STACKS / "kubernetes-kserve-gpu.yaml")
    taggable = (ISVC, DEPLOYMENT, SERVICE, HPA)
    bad_overrides = (
        ({"expose": "nodeport"}, "expose"),
        ({"deployment_mode": "Knative"}, "deployment_mode"),
        ({"cpu_utilization": "a month"}, "cpu_utilization"),
        ({"cpu_utilization": 0}, "cpu_utilization"),
        ({"node_selector": ["gpu"]}, "node_selector"),
        ({"local_gateway": "knative-local-gateway"}, "local_gateway"),
        ({"tls_secret": "Not A Secret"}, "tls_secret"),
        ({"replicas": 3}, "replicas"),
    )
    unhonourable = (
        ("cloud: kubernetes\n", "", "Kubernetes has no registry of its own"),
        (BASE + "target: kserve\noverrides: {kubernetes: {deployment_mode: RawDeployment}}\n", "",
         "KServe scales to zero only in Serverless (Knative) mode"),
        (BASE + "target: kserve\noverrides: {kubernetes: {expose: ingress}}\n", "endpoint: {auth: public}\n",
         "target kserve is exposed by Knative's own ingress"),
        (BASE + "target: kserve\n", "endpoint: {auth: key}\n", "set overrides.kubernetes.external_tls: true"),
        (BASE + "target: deployment\noverrides: {kubernetes: {expose: loadbalancer}}\n", "endpoint: {auth: key}\n",
         "a LoadBalancer Service serves plain HTTP on port 80"),
        (BASE + "target: deployment\n", "endpoint: {auth: public}\n", "set overrides.kubernetes.tls_secret"),
    )
    lifecycle = {
        # The InferenceService holds the URL: its name stays; a new image or model rolls out a new
        # revision of the same InferenceService. (kubernetes-kserve-gpu reads its model from
        # storage_uri, which mlfn does not upload: a new local model file cannot reach it.)
        "kserve": Lifecycle("kubernetes-kserve",
                            changes={"model": [ISVC], "requirements": [ISVC], "compute": [ISVC]},
                            stays=[ISVC]),
        # The Deployment rolls its pods over (maxUnavailable 0); the Service holds the address.
        "deployment": Lifecycle("kubernetes-deployment",
                                changes={"model": [DEPLOYMENT], "requirements": [DEPLOYMENT],
                                         "compute": [DEPLOYMENT]},
                                stays=[DEPLOYMENT, SERVICE, HPA, NAMESPACE]),
    }
