"""The adapter conformance suite (mlfn.testing.AdapterConformance) on the AWS adapter."""

import yaml
from helpers import EXAMPLES, ROOT

from mlfn import testing
from mlfn.testing import AdapterConformance, Lifecycle

STACKS = ROOT / "stacks"
BUCKET = "aws:s3/bucket:Bucket"
REPOSITORY = "aws:ecr/repository:Repository"
IMAGE = "docker-build:index:Image"
MODEL = "aws:sagemaker/model:Model"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
FUNCTION = "aws:lambda/function:Function"
URL = "aws:lambda/functionUrl:FunctionUrl"
SCALING = "aws:appautoscaling/target:Target"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


class TestAwsConformance(AdapterConformance):
    cloud = "aws"
    project = EXAMPLES / "iris-sklearn"
    reference_stacks = tuple(sorted(STACKS.glob("aws-*.yaml")))
    taggable = (BUCKET, REPOSITORY, ROLE, MODEL, CONFIG, ENDPOINT, ALARM, SCALING, LOG_GROUP, FUNCTION,
                "aws:secretsmanager/secret:Secret", "aws:s3/bucketObjectv2:BucketObjectv2")
    bad_overrides = (
        ({"log_retention_days": "a month"}, "log_retention_days"),
        ({"log_retention_days": 31}, "log_retention_days"),
        ({"timeout": 901}, "timeout"),
        ({"startup_timeout": 30}, "startup_timeout"),
        ({"invocations_per_instance": 0}, "invocations_per_instance"),
        ({"instance_type": "ml.nonexistent.huge"}, "instance_type"),
        ({"bucket": "Not_A_Bucket"}, "bucket"),
        ({"inference_ami_version": "al2-ami-sagemaker-inference-neuron-2"}, "inference_ami_version"),
        ({"instance_count": 3}, "instance_count"),
    )
    unhonourable = (
        ("cloud: aws\nregion: us-east-1\n", "compute: {cpu: 4, memory: 16Gi, gpu: {type: t4}}\n",
         "GPUs on AWS cannot scale to zero: set scaling.min: 1"),
        ("cloud: aws\nregion: us-east-1\ntarget: sagemaker-serverless\n",
         "compute: {cpu: 4, memory: 16Gi, gpu: {type: t4}}\nscaling: {min: 1}\n", "SageMaker Serverless has no GPUs"),
        ("cloud: aws\nregion: us-east-1\ntarget: sagemaker-serverless\n", "compute: {cpu: 1, memory: 8Gi}\n",
         "SageMaker Serverless offers at most 6144 MB: lower compute.memory"),
        ("cloud: aws\nregion: us-east-1\ntarget: sagemaker\n", "endpoint: {auth: public}\n",
         "set endpoint.auth: private, or use target lambda"),
        ("cloud: aws\nregion: us-east-1\ntarget: lambda\n", "monitoring: {capture: 10}\n",
         "Lambda has no request capture: set monitoring.capture: 0"),
        ("cloud: aws\nregion: us-east-1\ntarget: lambda\n", "compute: {cpu: 2, memory: 12Gi}\n",
         "Lambda memory is 128-10240 MB"),
    )
    lifecycle = {
        "sagemaker": Lifecycle(
            "aws-sagemaker",
            changes={"model": [MODEL, CONFIG, ENDPOINT], "requirements": [IMAGE, MODEL, CONFIG, ENDPOINT],
                     "compute": [CONFIG, ENDPOINT]},
            replaced={"model": [MODEL, CONFIG], "requirements": [MODEL, CONFIG], "compute": [CONFIG]},
            stays=[BUCKET, REPOSITORY, ENDPOINT, LOG_GROUP, ROLE, SCALING, ALARM],
        ),
        "sagemaker-serverless": Lifecycle(
            "aws-serverless",
            changes={"model": [MODEL, CONFIG, ENDPOINT], "requirements": [IMAGE, MODEL, CONFIG, ENDPOINT],
                     "compute": [CONFIG, ENDPOINT]},
            replaced={"model": [MODEL, CONFIG], "requirements": [MODEL, CONFIG], "compute": [CONFIG]},
            stays=[BUCKET, REPOSITORY, ENDPOINT, LOG_GROUP, ROLE],
        ),
        "lambda": Lifecycle(
            "aws-lambda",
            changes={"model": [IMAGE, FUNCTION], "requirements": [IMAGE, FUNCTION], "compute": [FUNCTION]},
            stays=[REPOSITORY, FUNCTION, URL, LOG_GROUP, ROLE],
        ),
    }

    def test_lifecycle(self, lifecycle_case, tmp_path, monkeypatch):
        # The suite's compute case asks for 8Gi, more than SageMaker Serverless offers (6144 MB,
        # a check() error): serverless gets a change it can run, 2Gi -> 4Gi.
        if lifecycle_case == ("sagemaker-serverless", "compute"):
            monkeypatch.setattr(testing, "change_project", _serverless_compute)
        super().test_lifecycle(lifecycle_case, tmp_path)


def _serverless_compute(project, case):
    spec_file = project / "mlfn.yaml"
    data = yaml.safe_load(spec_file.read_text())
    data.setdefault("compute", {})["memory"] = "4Gi"
    spec_file.write_text(yaml.safe_dump(data, sort_keys=False))
