"""The GCP adapter against the rules every adapter honours (mlfn.testing.AdapterConformance)."""

from helpers import EXAMPLES, ROOT

from mlfn.testing import AdapterConformance, Lifecycle

STACKS = ROOT / "stacks"
P = "cloud: gcp\nproject: my-gcp-project\nregion: us-central1\n"

IMAGE = "docker-build:index:Image"
SERVICE = "gcp:cloudrunv2/service:Service"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
ACCOUNT = "gcp:serviceaccount/account:Account"
BUCKET = "gcp:storage/bucket:Bucket"
OBJECT = "gcp:storage/bucketObject:BucketObject"
ENDPOINT = "gcp:vertex/aiEndpoint:AiEndpoint"
DEPLOYMENT = "pulumi-python:dynamic:Resource"  # mlfn's Vertex upload + deploy


class TestGcpConformance(AdapterConformance):
    cloud = "gcp"
    project = EXAMPLES / "iris-sklearn"
    reference_stacks = (STACKS / "gcp-cloudrun.yaml", STACKS / "gcp-cloudrun-gpu.yaml", STACKS / "gcp-vertex-gpu.yaml")
    taggable = (SERVICE, REPOSITORY, BUCKET, ENDPOINT)
    bad_overrides = (
        ({"scale_to_zero": "a month"}, "scale_to_zero"),
        ({"deploy_timeout_minutes": "a month"}, "deploy_timeout_minutes"),
        ({"deploy_timeout_minutes": 121}, "deploy_timeout_minutes"),
        ({"machine_type": "N1 STANDARD 8"}, "machine_type"),
        ({"bucket": "Models_Bucket"}, "bucket"),
        ({"min_instances": 1}, "min_instances"),
    )
    unhonourable = (
        (P + "target: vertex\n", "", "set scaling.min: 1, use target cloudrun"),
        (P + "target: vertex\nscaling: {min: 1, max: 2}\n", "endpoint: {auth: key}\n",
         "set endpoint.auth: private, or use target cloudrun"),
        (P + "target: vertex\nscaling: {min: 1, max: 2}\n", "compute: {cpu: 4, memory: 16Gi, gpu: {type: a10g}}\n",
         "vertex offers no a10g GPU"),
        (P + "target: cloudrun\n", "compute: {cpu: 4, memory: 16Gi, gpu: {type: t4}}\n",
         "Cloud Run offers no t4 GPU: use compute.gpu.type l4, or target vertex"),
        (P.replace("us-central1", "us-west2") + "target: cloudrun\n",
         "compute: {cpu: 4, memory: 16Gi, gpu: {type: l4}}\n",
         "region us-west2 offers no Cloud Run GPUs"),
    )
    lifecycle = {
        # The model is baked into the image: a new model or requirements is a new image, which the
        # service's template references (a new revision); compute is the service's limits.
        "cloudrun": Lifecycle(
            "gcp-cloudrun",
            changes={"model": [IMAGE, SERVICE], "requirements": [IMAGE, SERVICE], "compute": [SERVICE]},
            stays=[SERVICE, REPOSITORY, ACCOUNT],
        ),
        # The model lives in GCS under a prefix named from its digest: new objects, and the
        # deployment (upload + deploy, then undeploy the old one) points at them.
        "vertex": Lifecycle(
            "gcp-vertex-gpu",
            # compute: the case lowers memory 16Gi -> 8Gi at 4 vCPU + one L4, which the same
            # g2-standard-4 serves: nothing must change.
            changes={"model": [OBJECT, DEPLOYMENT], "requirements": [IMAGE, DEPLOYMENT]},
            replaced={"model": [OBJECT]},
            stays=[BUCKET, ENDPOINT, REPOSITORY, ACCOUNT],
        ),
    }
