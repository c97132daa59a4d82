"""The portable description of what to serve: ``mlfn.yaml``.

Every section is a pydantic model that forbids unknown fields, so a typo or a feature that
is not built yet (``traffic:``) is an error rather than something silently ignored.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from mlfn_runtime.contract import FORMATS
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._yaml import validate_file
from .errors import SpecError

SPEC_FILE = "mlfn.yaml"
GPU_TYPES = ("l4", "t4", "a10g", "a100", "h100")
PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13")
AUTH_MODES = ("private", "key", "public")

_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")
_HANDLER = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_UNITS = {
    None: 1 / 2**20,
    "Ki": 1 / 1024,
    "Mi": 1,
    "Gi": 1024,
    "Ti": 1024**2,
    "K": 1000 / 2**20,
    "M": 1000**2 / 2**20,
    "G": 1000**3 / 2**20,
    "T": 1000**4 / 2**20,
}

Format = Literal["sklearn", "onnx", "pytorch", "xgboost", "custom"]
GpuType = Literal["l4", "t4", "a10g", "a100", "h100"]
Auth = Literal["private", "key", "public"]
assert set(FORMATS) == set(Format.__args__)  # the runtime and the spec agree


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSection(_Section):
    """Where the trained model is and how to load it."""

    uri: str = Field(description="Local dir or file (relative to mlfn.yaml), s3://, gs:// or https:// URI.")
    format: Format = Field(description="sklearn | onnx | pytorch | xgboost | custom.")
    handler: str | None = Field(
        default=None,
        description="module:Class for custom pre/post-processing, or to load format: custom.",
    )

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        if "://" in v and not v.startswith(("s3://", "gs://", "https://", "http://")):
            raise ValueError("use a local path or an s3://, gs:// or https:// URI")
        return v

    @field_validator("handler")
    @classmethod
    def _handler(cls, v: str | None) -> str | None:
        if v is not None and not _HANDLER.match(v):
            raise ValueError("must look like module:Class, e.g. predictor:Predictor")
        return v

    @model_validator(mode="after")
    def _custom_needs_handler(self) -> ModelSection:
        if self.format == "custom" and not self.handler:
            raise ValueError("format custom needs handler: module:Class")
        return self

    @property
    def is_remote(self) -> bool:
        return "://" in self.uri


class RuntimeSection(_Section):
    """The serving container."""

    python: Literal["3.10", "3.11", "3.12", "3.13"] = Field(default="3.11", description="Python version of the image.")
    requirements: str | None = Field(default=None, description="requirements.txt of the model's libraries.")
    image: str | None = Field(default=None, description="A prebuilt image: skips the build.")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
        return v


class Gpu(_Section):
    type: GpuType = Field(description="l4 | t4 | a10g | a100 | h100.")
    count: int = Field(default=1, ge=1, le=8, description="GPUs per replica.")


class ComputeSection(_Section):
    """What one replica needs; the core catalog maps it to each cloud's machines."""

    cpu: float = Field(default=2, gt=0, le=192, description="vCPUs per replica.")
    memory: str = Field(default="4Gi", description="Memory per replica, e.g. 4Gi or 512Mi.")
    gpu: Gpu | None = Field(default=None, description="Accelerator, or null for CPU only.")

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, v: object) -> str:
        text = str(v).strip()
        m = _MEMORY.match(text)
        if not m:
            raise ValueError("must be a size like 512Mi, 4Gi or 16G")
        mib = float(m.group(1)) * _UNITS[m.group(2)]
        if mib < 128:
            raise ValueError("must be at least 128Mi")
        return text

    @property
    def memory_mib(self) -> int:
        m = _MEMORY.match(self.memory)
        assert m is not None
        return round(float(m.group(1)) * _UNITS[m.group(2)])

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024


class ScalingSection(_Section):
    min: int = Field(default=0, ge=0, le=1000, description="Minimum replicas; 0 scales to zero.")
    max: int = Field(default=4, ge=1, le=1000, description="Maximum replicas.")
    concurrency: int = Field(default=8, ge=1, le=1000, description="Target in-flight requests per replica.")

    @model_validator(mode="after")
    def _order(self) -> ScalingSection:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be at least min ({self.min})")
        return self


class EndpointSection(_Section):
    auth: Auth = Field(default="private", description="private | key | public (meaning per target: README).")


class MonitoringSection(_Section):
    capture: float = Field(default=0, ge=0, le=100, description="Percent of requests captured.")


class Spec(_Section):
    """mlfn.yaml: what to serve, independent of any cloud."""

    name: str = Field(description="DNS-safe name, 1-40 characters: lowercase letters, digits, '-'.")
    model: ModelSection
    runtime: RuntimeSection = Field(default_factory=RuntimeSection)
    compute: ComputeSection = Field(default_factory=ComputeSection)
    scaling: ScalingSection = Field(default_factory=ScalingSection)
    endpoint: EndpointSection = Field(default_factory=EndpointSection)
    monitoring: MonitoringSection = Field(default_factory=MonitoringSection)
    tags: dict[str, str] = Field(default_factory=dict, description="Tags/labels on every resource.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(
                "must be 1-40 characters of lowercase letters, digits and '-', "
                "starting with a letter and not ending with '-'"
            )
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not key or len(key) > 63:
                raise ValueError(f"tag key {key!r} must be 1-63 characters")
            if len(value) > 63:
                raise ValueError(f"tag {key!r}: value must be at most 63 characters")
        return v


def load_spec(path: str | Path) -> Spec:
    """Read and validate mlfn.yaml; errors name file:line, field, value and what is allowed."""
    return validate_file(Spec, Path(path), SpecError)


def json_schema() -> dict:
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlfn.yaml"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
