"""SageMaker real-time and serverless endpoints."""

from __future__ import annotations

from typing import Any

import pulumi
from mlfn_runtime import contract as c

from mlfn.adapter import CompileContext, CompileResult
from mlfn.image import Registry, runtime_image
from mlfn.tags import tags_for

from . import policies, scaling
from .conventions import CATALOG, TAG_STYLE
from .naming import bucket_name, image_key, names_for, versioned
from .packaging import pack_model
from .runtime_env import runtime_env
from .targets import serverless_concurrency, serverless_memory_mb

VARIANT = "AllTraffic"
#: NVIDIA driver 535 / CUDA 12.2, on ml.g4dn, g5, g6, p4d, p5: what the GPU image (CUDA 12.2) needs.
GPU_AMI = "al2-ami-sagemaker-inference-gpu-2"


def startup_timeout(ctx: CompileContext) -> int:
    """Container start-up health-check timeout: longer for GPUs and big memory (big models)."""
    if ctx.overrides.startup_timeout is not None:
        return ctx.overrides.startup_timeout
    return 900 if ctx.spec.compute.gpu or ctx.spec.compute.memory_gib >= 16 else 300


def ecr_repository(ctx: CompileContext, name: str, tags: dict[str, str]):
    import pulumi_aws as aws

    repo = aws.ecr.Repository(
        ctx.child("repository"), name=name, force_delete=True, image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True}, tags=tags, opts=ctx.opts(),
    )
    token = aws.ecr.get_authorization_token_output(registry_id=repo.registry_id, opts=pulumi.InvokeOutputOptions(
        parent=ctx.parent))
    registry = Registry(
        repository=repo.repository_url,
        address=repo.repository_url.apply(lambda url: url.split("/", 1)[0]),
        username=token.user_name,
        password=pulumi.Output.secret(token.password),
    )
    return repo, registry


def log_group(ctx: CompileContext, name: str, tags: dict[str, str]):
    import pulumi_aws as aws

    return aws.cloudwatch.LogGroup(
        ctx.child("logs"), name=name, retention_in_days=ctx.overrides.log_retention_days,
        tags=tags, opts=ctx.opts(),
    )


def compile_sagemaker(ctx: CompileContext) -> CompileResult:
    import pulumi_aws as aws

    spec, serverless = ctx.spec, ctx.target == "sagemaker-serverless"
    region = ctx.stack.location.region
    n = names_for(spec.name, ctx.stack.name)
    tags = tags_for(spec.name, spec.tags, TAG_STYLE)

    # The model: packed and uploaded to a bucket this stack owns (or a given one), or an s3:// URI.
    if spec.model.is_remote:
        model_bucket, _, key = spec.model.uri[len("s3://"):].partition("/")
        prefix = key.rsplit("/", 1)[0] if "/" in key else ""
        model_url: Any = spec.model.uri
        bucket_arn: Any = f"arn:aws:s3:::{model_bucket}"
        capture_bucket: Any = model_bucket
    else:
        if ctx.overrides.bucket:
            model_bucket = ctx.overrides.bucket
            bucket_id: Any = model_bucket
            bucket_arn = f"arn:aws:s3:::{model_bucket}"
        else:
            bucket = aws.s3.Bucket(ctx.child("bucket"), bucket=bucket_name(ctx, n.bucket), force_destroy=True,
                                   tags=tags, opts=ctx.opts())
            aws.s3.BucketPublicAccessBlock(
                ctx.child("bucket-private"), bucket=bucket.id, block_public_acls=True, block_public_policy=True,
                ignore_public_acls=True, restrict_public_buckets=True, opts=ctx.opts(),
            )
            bucket_id, bucket_arn, model_bucket = bucket.id, bucket.arn, bucket.bucket
        path, digest = pack_model(ctx, ctx.project_dir / ".mlfn" / "build" / ctx.stack.pulumi_stack)
        prefix = n.prefix
        obj = aws.s3.BucketObjectv2(
            ctx.child("model"), bucket=bucket_id, key=f"{prefix}/model-{digest[:16]}.tar.gz",
            source=pulumi.FileAsset(str(path)), tags=tags, opts=ctx.opts(),
        )
        model_url = pulumi.Output.concat("s3://", obj.bucket, "/", obj.key)
        capture_bucket = model_bucket

    # The image: the runtime with the model left to SageMaker (unpacked into /opt/ml/model).
    variant_name = "gpu" if spec.compute.gpu else "cpu"
    if spec.runtime.image:
        image = pulumi.Output.from_input(spec.runtime.image)
        repository_arn: Any = policies.ecr_repository_arn(spec.runtime.image)  # check() made sure it is ECR
    else:
        repo, registry = ecr_repository(ctx, n.repository, tags)
        image = runtime_image(ctx, registry, variant=variant_name, bake_model=False)
        repository_arn = repo.arn

    logs = log_group(ctx, n.sagemaker_log_group, tags)
    capture = (not serverless) and spec.monitoring.capture > 0
    # Deployment guardrails read the rollback alarms with the execution role: they come first.
    alarms = [] if serverless else _alarms(ctx, n.endpoint, tags)
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=ctx.parent))
    role = aws.iam.Role(ctx.child("role"), name=n.role, assume_role_policy=identity.account_id.apply(
        lambda account: policies.assume_role("sagemaker.amazonaws.com", source_account=account)),
        tags=tags, opts=ctx.opts())
    policy_doc = pulumi.Output.all(bucket_arn, repository_arn, logs.arn, [a.arn for a in alarms]).apply(
        lambda a: policies.sagemaker_execution(a[0], prefix, a[1], a[2], capture, alarm_arns=a[3]))
    role_policy = aws.iam.RolePolicy(ctx.child("role-policy"), role=role.id, name="mlfn-serving",
                                     policy=policy_doc, opts=ctx.opts())

    # The platform's limits first: runtime.env may tune them; the model's identity is mlfn's.
    environment = {**runtime_env(ctx.target, spec.compute), **spec.runtime.env, **c.container_env(
        model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler)}
    # SageMaker cannot change a Model or an EndpointConfig in place: each is named from a hash of
    # what forces its replacement, so a new version is created beside the old one, the endpoint is
    # updated to it (blue/green, with rollback), and only then is the old one deleted.
    container = {"image": image, "model_data_url": model_url, "environment": environment}
    model = aws.sagemaker.Model(
        ctx.child("model-def"),
        name=versioned(n.endpoint, {**container, "image_key": image_key(ctx, variant_name), "role": role.arn}),
        execution_role_arn=role.arn, primary_container=container,
        tags=tags, opts=ctx.opts(depends_on=[role_policy]),
    )

    variant: dict[str, Any] = {"variant_name": VARIANT, "model_name": model.name}
    if serverless:
        variant["serverless_config"] = {
            "memory_size_in_mb": serverless_memory_mb(spec.compute.memory_mib),
            "max_concurrency": serverless_concurrency(spec.scaling),
        }
    else:
        instance_type = ctx.overrides.instance_type or CATALOG.pick("sagemaker", spec.compute).name
        variant.update(
            instance_type=instance_type,
            initial_instance_count=max(1, spec.scaling.min),
            container_startup_health_check_timeout_in_seconds=startup_timeout(ctx),
            model_data_download_timeout_in_seconds=startup_timeout(ctx),
        )
        if spec.compute.gpu:
            # Without it ml.g4dn/g5/p4d run NVIDIA driver 470 (CUDA 11.4): the CUDA 12 image would
            # not see the GPU and PyTorch would fall back to the CPU without a word.
            variant["inference_ami_version"] = ctx.overrides.inference_ami_version or GPU_AMI
    config_args: dict[str, Any] = {"production_variants": [variant]}
    if capture:
        config_args["data_capture_config"] = {
            "enable_capture": True,
            "initial_sampling_percentage": max(1, round(spec.monitoring.capture)),
            "destination_s3_uri": pulumi.Output.concat("s3://", capture_bucket, "/", policies.under(prefix),
                                                       "capture"),
            "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
        }
    config = aws.sagemaker.EndpointConfiguration(
        ctx.child("endpoint-config"), name=versioned(n.endpoint, config_args), **config_args, tags=tags,
        opts=ctx.opts())

    endpoint_args: dict[str, Any] = {"name": n.endpoint, "endpoint_config_name": config.name, "tags": tags}
    endpoint_opts = ctx.opts()
    if not serverless:
        # Blue/green: the new fleet takes all traffic at once, then the old one is kept for 10 minutes
        # while the alarms watch; any alarm rolls back.
        endpoint_args["deployment_config"] = {
            "blue_green_update_policy": {
                "traffic_routing_configuration": {"type": "ALL_AT_ONCE", "wait_interval_in_seconds": 300},
                "termination_wait_in_seconds": 600,
                "maximum_execution_timeout_in_seconds": 3600,
            },
            "auto_rollback_configuration": {"alarms": [{"alarm_name": a.name} for a in alarms]},
        }
        per_instance = ctx.overrides.invocations_per_instance or spec.scaling.concurrency * 60
        registration = scaling.Registration(
            region=region, resource_id=f"endpoint/{n.endpoint}/variant/{VARIANT}",
            min_capacity=max(1, spec.scaling.min), max_capacity=spec.scaling.max,
            policy_name=f"{n.endpoint}-invocations",
            policy={"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                    "TargetValue": float(per_instance), "ScaleInCooldown": 300, "ScaleOutCooldown": 60},
        )
        endpoint_opts = ctx.opts(hooks=scaling.hooks(ctx.child("endpoint"), registration))
    endpoint = aws.sagemaker.Endpoint(ctx.child("endpoint"), **endpoint_args, opts=endpoint_opts)

    if not serverless:
        resource_id = pulumi.Output.concat("endpoint/", endpoint.name, "/variant/", VARIANT)
        target = aws.appautoscaling.Target(
            ctx.child("scaling-target"), service_namespace="sagemaker", resource_id=resource_id,
            scalable_dimension=scaling.DIMENSION, min_capacity=registration.min_capacity,
            max_capacity=registration.max_capacity, tags=tags, opts=ctx.opts(),
        )
        aws.appautoscaling.Policy(
            ctx.child("scaling-policy"), name=registration.policy_name, policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace, resource_id=target.resource_id,
            scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration={
                "predefined_metric_specification": {
                    "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"},
                "target_value": float(per_instance),
                "scale_in_cooldown": 300,
                "scale_out_cooldown": 60,
            },
            opts=ctx.opts(),
        )

    url = pulumi.Output.concat("https://runtime.sagemaker.", region, ".amazonaws.com/endpoints/", endpoint.name,
                               "/invocations")
    console = (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
               f"#logsV2:log-groups/log-group/{n.sagemaker_log_group.replace('/', '$252F')}")
    return CompileResult(
        url=url,
        logs=logs.name,
        extra={"endpoint_name": endpoint.name, "endpoint_arn": endpoint.arn, "region": region,
               "target": ctx.target, "log_group": logs.name, "console": console},
    )


def _alarms(ctx: CompileContext, endpoint: str, tags: dict[str, str]) -> list:
    import pulumi_aws as aws

    dims = {"EndpointName": endpoint, "VariantName": VARIANT}
    errors = aws.cloudwatch.MetricAlarm(
        ctx.child("alarm-5xx"), name=f"{endpoint}-invocation-5xx", namespace="AWS/SageMaker",
        metric_name="Invocation5XXErrors", dimensions=dims, statistic="Sum", period=60, evaluation_periods=2,
        threshold=1.0, comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
        alarm_description="mlfn: roll back a deployment whose endpoint answers 5XX", tags=tags, opts=ctx.opts(),
    )
    latency = aws.cloudwatch.MetricAlarm(
        ctx.child("alarm-latency"), name=f"{endpoint}-model-latency", namespace="AWS/SageMaker",
        metric_name="ModelLatency", dimensions=dims, extended_statistic="p99", period=60, evaluation_periods=3,
        threshold=5_000_000.0,  # microseconds: p99 over 5 s for 3 minutes
        comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
        alarm_description="mlfn: roll back a deployment whose p99 model latency passes 5 s", tags=tags,
        opts=ctx.opts(),
    )
    return [errors, latency]
