"""The adapter interface: what a cloud plug-in implements.

An adapter owns everything about its cloud, as typed data the core reads through this interface
and never by cloud name: its stack-file ``Location`` fields, its ``Overrides``, the ``Outputs``
that ``compile`` hands to ``invoke``/``logs``/``status``, its targets (one small ``Target``
object each), its tag style and naming rules, its catalog rows, the stack template ``mlfn init``
writes, its portable-region mapping and its ``doctor`` checks.

A new cloud is a copy of ``adapters/_template`` with those filled in. Optional abilities are
flags whose default says plainly that the ability is not there (``supports_logs = False``).
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from .names import NameRule
from .tags import TagStyle

if TYPE_CHECKING:
    import pulumi

    from .catalog import Catalog
    from .pricing import Pricing
    from .spec import Spec
    from .stack import ResolvedStack


#: The portable region vocabulary: a stack may say ``region: europe-west`` on any cloud and each
#: adapter maps it to its own region name (``Adapter.regions``).
PORTABLE_REGIONS: Mapping[str, str] = {
    "us-east": "the eastern United States",
    "us-west": "the western United States",
    "us-central": "the central United States",
    "europe-west": "western Europe",
    "europe-north": "northern Europe",
    "asia-southeast": "South-East Asia",
    "asia-northeast": "North-East Asia",
}


class Location(BaseModel):
    """Base of an adapter's stack-file location fields (``region``, ``project``...).

    Declare each field with ``setting()`` so it carries its description and environment fallbacks.
    A field without a default is required: missing from the stack file and from its environment
    variables, it is an error naming the field and the variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Overrides(BaseModel):
    """Base of an adapter's ``overrides.<cloud>`` settings: types, ranges and descriptions.

    The core validates ``overrides.<cloud>`` against it with file:line errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Outputs(BaseModel):
    """Base of what ``compile`` hands to ``invoke``, ``logs`` and ``status``.

    ``url``, ``logs`` and ``target`` are the component's own outputs; an adapter adds its ids
    (endpoint name, region...) as fields, and returns them from ``compile`` in ``CompileResult.extra``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="The endpoint's invoke URL.")
    logs: str = Field(default="", description="Where the logs are: a log group, a query or a console link.")
    target: str = Field(default="", description="The cloud target that serves it.")


def setting(
    description: str, *env: str, default: Any = ..., examples: Sequence[str] = ()
) -> Any:
    """A location field: its description, the environment variables it falls back to, its default.

    ``region: str = setting("AWS region, e.g. us-east-1", "AWS_REGION", "AWS_DEFAULT_REGION")``"""
    extra: dict[str, Any] = {"env": list(env)}
    return Field(default=default, description=description, examples=list(examples) or None,
                 json_schema_extra=extra)


def env_of(model: type[BaseModel], name: str) -> tuple[str, ...]:
    """The environment variables a location field falls back to."""
    extra = model.model_fields[name].json_schema_extra
    return tuple(extra.get("env", ())) if isinstance(extra, dict) else ()


def cli_home(env: Mapping[str, str]) -> Path:
    """The home folder a cloud CLI reads its configuration from (``env["HOME"]``, else the user's)."""
    return Path(env.get("HOME") or Path.home())


def ini_values(path: Path, wanted: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """For ``Adapter.ambient``: values of an INI file (a cloud CLI's configuration) by location field,
    ``{"region": ("default", "region")}`` = option ``region`` of section ``[default]``. Fields the file
    does not set are left out; a missing or unreadable file gives ``{}``."""
    import configparser

    config = configparser.ConfigParser()
    try:
        config.read(path)
    except (OSError, configparser.Error):
        return {}
    found = {name: config.get(section, option, fallback=None) for name, (section, option) in wanted.items()}
    return {name: value for name, value in found.items() if value}


@dataclass(frozen=True)
class DoctorCheck:
    """One line of ``mlfn doctor``: what was checked, whether it is fine, and how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    #: Whether a failure fails ``mlfn doctor`` (False: a warning, e.g. a cloud no stack uses).
    required: bool = True


def credentials_check(cloud: str, env: Mapping[str, str], variables: Sequence[str], files: Sequence[str],
                      fix: str) -> DoctorCheck:
    """The usual doctor check: any of ``variables`` set, or any of ``files`` (``~`` = HOME) present."""
    found = [v for v in variables if env.get(v)]
    home = env.get("HOME", str(Path.home()))
    found += [f for f in files if Path(f.replace("~", home, 1)).exists()]
    ok = bool(found)
    detail = f"credentials: {', '.join(found)}" if found else "no credentials found"
    return DoctorCheck(f"{cloud} credentials", ok, detail, "" if ok else fix)


@dataclass
class CompileContext:
    """What ``Adapter.compile`` gets: the description, the stack and the parent component."""

    name: str
    spec: Spec
    stack: ResolvedStack
    project_dir: Path
    parent: pulumi.ComponentResource

    @property
    def target(self) -> str:
        assert self.stack.target is not None
        return self.stack.target

    @property
    def overrides(self) -> Any:
        """``overrides.<cloud>`` as the adapter's ``Overrides`` model (read its fields)."""
        return self.stack.overrides

    def child(self, suffix: str) -> str:
        """The logical name of a child resource: ``<deployment>-<suffix>``."""
        return f"{self.name}-{suffix}"

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """ResourceOptions with ``parent`` set, so host-program providers apply to children."""
        import pulumi

        return pulumi.ResourceOptions(parent=self.parent, **kwargs)

    def model_path(self) -> Path | None:
        """The model on this machine, or None when model.uri is remote."""
        if self.spec.model.is_remote:
            return None
        return (self.project_dir / self.spec.model.uri).resolve()


@dataclass
class CompileResult:
    """What ``compile`` returns; the component turns these into its typed outputs."""

    url: Any
    logs: Any
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InvokeResponse:
    status: int
    body: bytes
    content_type: str = "application/json"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class LogsInfo:
    """Where a deployment's logs are, and the recent lines where a client library allows."""

    where: str
    link: str | None = None
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerRun:
    """How a target's platform runs its image, so that ``mlfn up --local`` runs the same image the
    same way on this machine (with the Docker engine): what ``Target.local_container`` returns.

    The image is the one ``up`` would push (the plan's own build context), so the model is already
    in it where the target bakes it; where the platform hands the model over at start (a model
    store, a volume), ``mounts`` puts this machine's copy where the platform would."""

    #: The container's environment, as the target's ``compile`` sets it (secrets left out).
    env: Mapping[str, str]
    #: The port the container listens on (published on 127.0.0.1).
    port: int
    #: GET this path answers 200 once the model is loaded; None: the container has no health route
    #: (running is all that can be told).
    health: str | None
    #: The path ``mlfn invoke`` posts to.
    predict: str
    #: The arguments after the entrypoint (Docker's CMD); empty: the image's own.
    command: tuple[str, ...] = ()
    #: Replaces the image's entrypoint; None: the image's own.
    entrypoint: tuple[str, ...] | None = None
    #: ``{path on this machine: path in the container}``, always mounted read-only.
    mounts: Mapping[str, str] = field(default_factory=dict)
    #: A read-only root filesystem, with ``tmpfs`` the only writable folders.
    read_only: bool = True
    tmpfs: tuple[str, ...] = ("/tmp",)
    #: The user the platform runs the container as; None: the image's own.
    user: str | None = None
    #: Seconds the platform waits after SIGTERM before it kills the container.
    stop_grace_s: int = 10
    #: Wraps one request (body, headers) into the platform's own (e.g. a function platform's event);
    #: None: the body is posted to ``predict`` as is.
    wrap: Callable[[bytes, Mapping[str, str]], tuple[bytes, dict[str, str]]] | None = None
    #: Unwraps the platform's answer to ``wrap``'s request into the endpoint's response.
    unwrap: Callable[[InvokeResponse], InvokeResponse] | None = None

    def fingerprint(self) -> dict[str, Any]:
        """What the running container was made from (the hooks excepted): a change replaces it."""
        return {"env": dict(sorted(self.env.items())), "port": self.port, "command": list(self.command),
                "entrypoint": None if self.entrypoint is None else list(self.entrypoint),
                "mounts": dict(sorted(self.mounts.items())), "read_only": self.read_only,
                "tmpfs": list(self.tmpfs), "user": self.user}


class Target:
    """One target inside a cloud (``sagemaker``, ``cloudrun``...): its rules, its resources, its flags.

    An adapter lists one instance per target in ``Adapter.targets``; the default ``Adapter.check``
    and ``Adapter.compile`` hand over to the stack's target."""

    #: The value of ``target:`` in stack files.
    name: ClassVar[str] = ""
    #: Whether ``scaling.min: 0`` really scales this target to zero.
    supports_scale_to_zero: ClassVar[bool] = False
    #: Whether this target can run GPUs.
    supports_gpu: ClassVar[bool] = False
    #: Resource types (Pulumi type tokens) whose live state a controller outside mlfn changes after
    #: the deployment is made, such as an autoscaler's instance count, and which the program leaves
    #: alone with ``ignore_changes``. Pulumi sends an ignored property's value *from the state* when
    #: it updates the resource for another reason (pulumi.com/docs/iac/concepts/options/ignorechanges),
    #: so a provider that sends the whole resource on update would undo the controller's work. The
    #: engine refreshes these resources from the cloud just before an update, so that what it sends
    #: is what the controller last set. Empty (the default): nothing is refreshed.
    refreshed_before_update: ClassVar[tuple[str, ...]] = ()

    def check(self, spec: Spec, stack: ResolvedStack) -> list[str]:
        """This target's rules; each problem says what to change."""
        return []

    def notes(self, spec: Spec, stack: ResolvedStack) -> list[str]:
        return []

    def machine(self, spec: Spec, stack: ResolvedStack) -> str | None:
        """The machine this target runs (an instance type, a profile...), for the plan's summary."""
        return None

    def compile(self, ctx: CompileContext) -> CompileResult:
        raise NotImplementedError(f"target {self.name} does not compile")

    def local_container(self, spec: Spec, stack: ResolvedStack, model_dir: Path) -> ContainerRun | None:
        """How this target's platform runs the image, for ``mlfn up --local``: the environment,
        command, mounts, port and routes its ``compile`` gives the platform. ``model_dir`` is the model
        laid out on this machine as the build lays it out (files + manifest): mount it where the
        platform puts a model it does not bake into the image. None: the target runs no container
        of mlfn's image (``up --local`` says so)."""
        return None


class Adapter(ABC):
    """Compiles a portable description into one cloud's Pulumi resources."""

    #: The cloud name used in stack files (``cloud: aws``) and the entry point name.
    name: ClassVar[str]
    #: The distribution that provides this adapter, for install hints.
    package: ClassVar[str] = ""
    #: Hidden from ``mlfn targets``, ``doctor`` and every listing a user sees (test and template adapters).
    hidden: ClassVar[bool] = False
    #: Targets inside the cloud, by name: ``{"sagemaker": SageMaker(), ...}`` (a tuple of names is
    #: accepted from adapters that implement ``check``/``compile`` themselves).
    targets: ClassVar[Mapping[str, Target] | tuple[str, ...]]
    #: The default-target rule's choices: ``scaling.min: 0`` picks the first, ``min >= 1`` the second.
    scale_to_zero_target: ClassVar[str]
    managed_target: ClassVar[str]
    #: The stack file's location fields of this cloud (a ``Location`` subclass).
    Location: ClassVar[type[Location] | None] = None
    #: ``overrides.<cloud>`` (an ``Overrides`` subclass).
    Overrides: ClassVar[type[Overrides] | None] = None
    #: What ``compile`` hands to ``invoke``/``logs``/``status`` (an ``Outputs`` subclass).
    Outputs: ClassVar[type[Outputs] | None] = None
    #: The location field that names a region (``region``, ``location``), and the portable regions
    #: (keys of ``PORTABLE_REGIONS``) mapped to this cloud's names.
    region_field: ClassVar[str | None] = None
    regions: ClassVar[Mapping[str, str]] = {}
    #: How this cloud writes tags/labels (``mlfn.tags.TagStyle``).
    tag_style: ClassVar[TagStyle | None] = None
    #: Naming rules of the resources it names, by kind (``mlfn.names.NameRule``).
    name_rules: ClassVar[Mapping[str, NameRule]] = {}
    #: Its rows of the compute catalog (``mlfn.catalog.Catalog``), or None.
    catalog: ClassVar[Catalog | None] = None
    #: Its price rows and per-target cost arithmetic (``mlfn.pricing.Pricing``), or None: unknown cost.
    pricing: ClassVar[Pricing | None] = None
    #: The stack file ``mlfn init`` writes for this cloud (``{name}`` is the deployment's name).
    #: It must compile with its default target.
    stack_template: ClassVar[str] = ""
    #: Location values in ``stack_template`` the user must replace (``{"project": "my-project"}``):
    #: ``validate`` and ``up`` refuse them.
    placeholders: ClassVar[Mapping[str, str]] = {}
    #: What the offline plan answers for the provider functions (invokes) ``compile`` calls, by
    #: token, e.g. ``{"aws:index/getCallerIdentity:getCallerIdentity": {"accountId": "123456789012"}}``.
    #: Tokens not listed get ``{"id", "arn", "name"}`` placeholders.
    plan_calls: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: Optional abilities.
    supports_logs: ClassVar[bool] = False
    supports_status: ClassVar[bool] = False

    # -- typed settings, derived once per class -------------------------------------------------

    @classmethod
    def location_model(cls) -> type[Location]:
        """The stack's location fields (none when the adapter declares no ``Location``)."""
        return cls.Location if cls.Location is not None else Location

    @classmethod
    def overrides_model(cls) -> type[Overrides]:
        """``overrides.<cloud>`` (no setting accepted when the adapter declares no ``Overrides``)."""
        return cls.Overrides if cls.Overrides is not None else Overrides

    @classmethod
    def target_names(cls) -> tuple[str, ...]:
        return tuple(cls.targets)

    def target(self, name: str) -> Target | None:
        targets = self.targets
        return targets.get(name) if isinstance(targets, Mapping) else None

    def outputs_of(self, raw: Mapping[str, Any]) -> Outputs:
        """The deployed stack's outputs, typed by ``Outputs`` (``details`` flattened in)."""
        flat = {k: v for k, v in raw.items() if k != "details"}
        flat.update(raw.get("details") or {})
        return (self.Outputs or Outputs).model_validate(flat)

    # -- the verbs ------------------------------------------------------------------------------

    def check(self, spec: Spec, stack: ResolvedStack) -> list[str]:
        """Portable rules this target cannot honour, each saying what to change. Empty: fine."""
        t = self.target(stack.target or "")
        return t.check(spec, stack) if t is not None else []

    def notes(self, spec: Spec, stack: ResolvedStack) -> list[str]:
        """Things the user should know about how the target honours the description (not errors),
        e.g. "reachable only inside the environment's network". Printed by validate, plan and up."""
        t = self.target(stack.target or "")
        return t.notes(spec, stack) if t is not None else []

    def compile(self, ctx: CompileContext) -> CompileResult:
        """Create the Pulumi resources as children of ``ctx.parent`` (use ``ctx.opts()``)."""
        t = self.target(ctx.target)
        if t is None:
            raise NotImplementedError(f"cloud {self.name} has no compile for target {ctx.target}")
        return t.compile(ctx)

    def invoke(self, outputs: Any, stack: ResolvedStack, body: bytes, content_type: str) -> InvokeResponse:
        """Sign and send one prediction request to a deployed endpoint (``outputs``: ``Outputs``)."""
        raise NotImplementedError(f"cloud {self.name} cannot invoke")

    def logs(self, outputs: Any, stack: ResolvedStack, lines: int = 50,
             spec: Spec | None = None) -> LogsInfo:
        """Where the logs are; only called when ``supports_logs`` is True.

        After a failed first ``up`` there are no outputs yet (``outputs`` is None): ``spec`` lets the
        adapter say where the logs of this deployment go all the same."""
        raise NotImplementedError(f"cloud {self.name} does not report logs")

    def status(self, outputs: Any, stack: ResolvedStack) -> dict[str, Any]:
        """The endpoint's state; only called when ``supports_status`` is True."""
        raise NotImplementedError(f"cloud {self.name} does not report status")

    def doctor(self, env: Mapping[str, str]) -> list[DoctorCheck]:
        """What ``mlfn doctor`` checks for this cloud (credentials, CLIs); each with its fix."""
        return []

    def ambient(self, env: Mapping[str, str]) -> Mapping[str, Any]:
        """Location defaults from the cloud CLI's own configuration (its config files under
        ``env["HOME"]``), for fields the stack file and the environment leave out. Never raises:
        a file that cannot be read gives nothing."""
        return {}


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float = 120) -> InvokeResponse:
    """POST one request to an endpoint; the same for every adapter and the local engine."""
    import httpx

    from .errors import InvokeError

    try:
        r = httpx.post(url, content=body, headers=dict(headers), timeout=timeout)
    except httpx.TransportError as e:
        raise InvokeError(f"{url} did not answer: {e}") from e
    return InvokeResponse(r.status_code, r.content, r.headers.get("content-type", ""))


def unknown_overrides(cloud: str, overrides: Mapping[str, Any], known: Mapping[str, str]) -> list[str]:
    """A problem naming the settings of ``overrides.<cloud>`` that the adapter does not know."""
    unknown = sorted(set(overrides) - set(known))
    if not unknown:
        return []
    return [f"overrides.{cloud}: {', '.join(unknown)} is not a setting (settings: {', '.join(sorted(known))})"]
