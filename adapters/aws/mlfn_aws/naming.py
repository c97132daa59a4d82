"""Names of the AWS resources of one deployment: stable, valid, and distinct per stack."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlfn.names import resource_name

from .conventions import NAME_RULES

#: S3 bucket names are global: a random suffix, created once and kept in the stack's state, makes
#: each stack's bucket its own (a hash of the account would be shared by two state folders).
BUCKET_SUFFIX_BYTES = 4


@dataclass(frozen=True)
class Names:
    base: str  # <deployment>-<stack>
    endpoint: str  # SageMaker model, endpoint config and endpoint
    function: str  # Lambda function
    role: str
    repository: str
    bucket: str  # the stem: "-<random suffix kept in state>" follows (bucket_suffix)
    prefix: str  # key prefix of this deployment's objects in the bucket

    @property
    def sagemaker_log_group(self) -> str:
        return f"/aws/sagemaker/Endpoints/{self.endpoint}"

    @property
    def lambda_log_group(self) -> str:
        return f"/aws/lambda/{self.function}"


def names_for(deployment: str, stack: str) -> Names:
    base = f"{deployment}-{stack}"
    return Names(
        base=base,
        endpoint=resource_name(base, NAME_RULES["sagemaker"]),
        function=resource_name(base, NAME_RULES["lambda"]),
        role=resource_name(base, NAME_RULES["iam_role"], "exec"),
        repository=resource_name(base, NAME_RULES["ecr"]),
        bucket=resource_name(base, replace(NAME_RULES["s3_bucket"], max_len=63 - 1 - 2 * BUCKET_SUFFIX_BYTES),
                             "models"),
        prefix=resource_name(base, NAME_RULES["sagemaker"]),
    )


#: Room left for "-<hash>" at the end of a versioned name.
_VERSION_LEN = 8


def digest_dir(root: Path) -> str:
    """sha256 of every file under ``root`` (paths and bytes), in a stable order: the digest the
    image builder tags the image with."""
    from mlfn.image import context_digest

    return context_digest(root)


def image_key(ctx, variant: str) -> str:
    """What identifies the image a deployment runs, known when the program runs: ``runtime.image``
    as written, else a digest of the build context mlfn wrote (its content-addressed tag comes
    from the same files). Call it after ``runtime_image`` wrote the context."""
    if ctx.spec.runtime.image:
        return hashlib.sha256(ctx.spec.runtime.image.encode()).hexdigest()[:16]
    from mlfn.image import context_dir

    return digest_dir(context_dir(ctx, variant))[:16]


def versioned(base: str, parts: Any) -> Any:
    """``<base>-<hash of parts>``: the name of a resource the cloud cannot change in place, from
    everything that forces its replacement (``parts`` may hold Outputs, at any depth). A new value
    gives a new name, so Pulumi creates the new resource before it deletes the old one."""
    import pulumi

    stem = base[: NAME_RULES["sagemaker"].max_len - _VERSION_LEN - 1].rstrip("-")

    def name(resolved: Any) -> str:
        text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), default=str)
        return f"{stem}-{hashlib.sha256(text.encode()).hexdigest()[:_VERSION_LEN]}"

    return pulumi.Output.from_input(parts).apply(name)


def bucket_name(ctx, stem: str) -> Any:
    """``<stem>-<8 hex>``: the suffix is a ``random.RandomId`` created on the first ``up`` and kept
    in the stack's state, so it is stable across ``up``s and differs between state folders."""
    import pulumi
    import pulumi_random as random

    suffix = random.RandomId(ctx.child("bucket-suffix"), byte_length=BUCKET_SUFFIX_BYTES, opts=ctx.opts())
    return pulumi.Output.concat(stem, "-", suffix.hex)
