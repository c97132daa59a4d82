"""Autoscaling around an endpoint update that changes the instance type.

SageMaker refuses UpdateEndpoint when it would change the instance type of a variant registered
with Application Auto Scaling: the variant must be deregistered first and registered again after
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html). A Pulumi graph
cannot say "before the endpoint's update" for a resource that must be created after the
endpoint, so the Endpoint carries resource hooks: ``before_update`` deregisters the variant when
the new config changes an instance type, ``after_update`` (and the error hook, when the update
failed and SageMaker kept the old config) registers it again with the same target and policy.
A change of model alone is allowed by SageMaker and leaves autoscaling as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


@dataclass
class Registration:
    """One variant's scalable target and its target-tracking policy, as the API takes them."""

    region: str
    resource_id: str
    min_capacity: int
    max_capacity: int
    policy_name: str
    policy: Mapping[str, Any]
    #: Set by ``before_update`` when it deregistered, so ``after_update`` knows to register again.
    deregistered: bool = field(default=False, compare=False)

    def _client(self, service: str):
        import boto3

        return boto3.client(service, region_name=self.region)

    def instance_types(self, config_name: str | None) -> dict[str, str]:
        if not config_name:
            return {}
        config = self._client("sagemaker").describe_endpoint_config(EndpointConfigName=config_name)
        return {v["VariantName"]: v.get("InstanceType", "") for v in config["ProductionVariants"]}

    def is_registered(self) -> bool:
        found = self._client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[self.resource_id], ScalableDimension=DIMENSION)
        return bool(found["ScalableTargets"])

    def deregister(self) -> None:
        """Deregister the variant (which deletes its scaling policies too)."""
        if self.is_registered():
            self._client("application-autoscaling").deregister_scalable_target(
                ServiceNamespace=NAMESPACE, ResourceId=self.resource_id, ScalableDimension=DIMENSION)
        self.deregistered = True

    def register(self) -> None:
        client = self._client("application-autoscaling")
        client.register_scalable_target(
            ServiceNamespace=NAMESPACE, ResourceId=self.resource_id, ScalableDimension=DIMENSION,
            MinCapacity=self.min_capacity, MaxCapacity=self.max_capacity)
        client.put_scaling_policy(
            PolicyName=self.policy_name, ServiceNamespace=NAMESPACE, ResourceId=self.resource_id,
            ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=dict(self.policy))
        self.deregistered = False

    # -- the hooks ---------------------------------------------------------------------------------

    def before_update(self, args) -> None:
        old = (args.old_inputs or {}).get("endpointConfigName")
        new = (args.new_inputs or {}).get("endpointConfigName")
        if old == new:
            return
        if self.instance_types(old) != self.instance_types(new):
            self.deregister()

    def after_update(self, args) -> None:
        if self.deregistered:
            self.register()

    def on_error(self, args) -> bool:
        """The update failed: SageMaker keeps the endpoint on its old config; scale it again. No retry."""
        if self.deregistered and getattr(args, "failed_operation", "") == "update":
            self.register()
        return False


def hooks(name: str, registration: Registration):
    """The Endpoint's ``ResourceOptions.hooks`` for ``registration`` (hook names: ``<name>-...``)."""
    import pulumi

    return pulumi.ResourceHookBinding(
        before_update=[pulumi.ResourceHook(f"{name}-deregister-scaling", registration.before_update)],
        after_update=[pulumi.ResourceHook(f"{name}-register-scaling", registration.after_update)],
        on_error=[pulumi.ErrorHook(f"{name}-register-scaling-on-error", registration.on_error)],
    )
