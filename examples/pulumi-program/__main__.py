"""An existing Pulumi program that adds an mlfn deployment beside its own resources.

`mlfn.Deployment.from_files` reads the same mlfn.yaml and stack file the mlfn CLI uses, so the
model is described once and can be deployed either way. Providers passed through `opts`
(`providers=[...]`) apply to every resource the deployment creates.
"""

import os
from pathlib import Path

import pulumi

import mlfn

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent / "iris-sklearn"
# Which stack file to import; defaults to the example's AWS stack.
STACK_FILE = Path(os.environ.get("MLFN_STACK_FILE", PROJECT / "stacks" / "aws.yaml"))

deployment = mlfn.Deployment.from_files(PROJECT / "mlfn.yaml", STACK_FILE)

pulumi.export("model_url", deployment.url)
pulumi.export("model_target", deployment.target)
pulumi.export("model_logs", deployment.logs)
