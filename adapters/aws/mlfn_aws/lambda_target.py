"""Lambda: a container-image function (the runtime behind Mangum, model baked in) and a Function URL."""

from __future__ import annotations

from typing import Any

import pulumi
from mlfn_runtime import contract as c

from mlfn.adapter import CompileContext, CompileResult
from mlfn.image import runtime_image
from mlfn.tags import tags_for

from . import policies
from .conventions import TAG_STYLE
from .lambda_image import LAMBDA, lambda_python
from .naming import image_key, names_for
from .runtime_env import runtime_env
from .sagemaker import ecr_repository, log_group

AUTH_TYPES = {"private": "AWS_IAM", "key": "NONE", "public": "NONE"}


def compile_lambda(ctx: CompileContext) -> CompileResult:
    import pulumi_aws as aws

    spec = ctx.spec
    region = ctx.stack.location.region
    n = names_for(spec.name, ctx.stack.name)
    tags = tags_for(spec.name, spec.tags, TAG_STYLE)
    pull_policy: list = []
    if spec.runtime.image:
        image: Any = pulumi.Output.from_input(spec.runtime.image)
    else:
        repo, registry = ecr_repository(ctx, n.repository, tags)
        image = runtime_image(ctx, registry, variant=LAMBDA, bake_model=True, python=lambda_python(spec))
        # Lambda pulls the image with its own service principal: the repository says so itself
        # rather than relying on CreateFunction's caller being allowed to edit repository policies.
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=ctx.parent))
        pull_policy = [aws.ecr.RepositoryPolicy(
            ctx.child("repository-lambda-pull"), repository=repo.name,
            policy=identity.account_id.apply(lambda account: policies.lambda_pull(region, account, n.function)),
            opts=ctx.opts())]
    # The image (with the model baked in) as a content digest, so a plan shows which image the
    # function runs: its image_uri is the pushed image's digest, known only after the build.
    description = f"mlfn {spec.name} on stack {ctx.stack.name}: image {image_key(ctx, 'lambda')}"
    logs = log_group(ctx, n.lambda_log_group, tags)
    # The platform's limits first: runtime.env may tune them; the model's identity is mlfn's.
    environment = {**runtime_env("lambda", spec.compute), **spec.runtime.env, **c.container_env(
        model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler)}
    secret_arn: Any = None
    secret_value: list = []
    extra: dict[str, Any] = {}
    if spec.endpoint.auth == "key":
        import pulumi_random as random

        key = random.RandomPassword(ctx.child("api-key"), length=40, special=False, opts=ctx.opts())
        secret = aws.secretsmanager.Secret(ctx.child("api-keys"), name=f"{n.function}-api-keys",
                                           recovery_window_in_days=0, tags=tags, opts=ctx.opts())
        secret_value = [aws.secretsmanager.SecretVersion(ctx.child("api-keys-value"), secret_id=secret.id,
                                                         secret_string=key.result, opts=ctx.opts())]
        secret_arn = secret.arn
        environment[c.API_KEYS_AWS_SECRET] = secret.arn
        extra["api_key"] = key.result
    role = aws.iam.Role(ctx.child("role"), name=n.role, assume_role_policy=policies.assume_role(
        "lambda.amazonaws.com"), tags=tags, opts=ctx.opts())
    policy = pulumi.Output.all(logs.arn, secret_arn).apply(lambda a: policies.lambda_execution(a[0], a[1]))
    role_policy = aws.iam.RolePolicy(ctx.child("role-policy"), role=role.id, name="mlfn-serving", policy=policy,
                                     opts=ctx.opts())
    function = aws.lambda_.Function(
        ctx.child("function"), name=n.function, description=description, package_type="Image", image_uri=image,
        role=role.arn,
        memory_size=spec.compute.memory_mib, timeout=ctx.overrides.timeout,
        architectures=["x86_64"], environment={"variables": environment},
        logging_config={"log_format": "Text", "log_group": logs.name}, tags=tags,
        # The runtime reads the keys when it starts: the function waits for the secret's value.
        opts=ctx.opts(depends_on=[role_policy, logs, *secret_value, *pull_policy]),
    )
    auth_type = AUTH_TYPES[spec.endpoint.auth]
    url = aws.lambda_.FunctionUrl(ctx.child("url"), function_name=function.name, authorization_type=auth_type,
                                  opts=ctx.opts())
    if auth_type == "NONE":
        # An open Function URL still needs a resource policy that lets anyone call it: since October
        # 2025 both lambda:InvokeFunctionUrl and lambda:InvokeFunction (through the URL only).
        aws.lambda_.Permission(ctx.child("url-public"), action="lambda:InvokeFunctionUrl", function=function.name,
                               principal="*", function_url_auth_type="NONE", opts=ctx.opts())
        aws.lambda_.Permission(ctx.child("url-public-invoke"), action="lambda:InvokeFunction",
                               function=function.name, principal="*", invoked_via_function_url=True,
                               opts=ctx.opts())
    console = (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
               f"#logsV2:log-groups/log-group/{n.lambda_log_group.replace('/', '$252F')}")
    return CompileResult(
        url=url.function_url,
        logs=logs.name,
        extra={"function_name": function.name, "function_arn": function.arn, "region": region,
               "target": "lambda", "log_group": logs.name, "console": console, "auth_type": auth_type, **extra},
    )
