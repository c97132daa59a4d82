"""Finds adapters through the entry-point group ``mlfn.adapters``.

Built-in and third-party adapters load the same way. An entry point is imported only when
its cloud is asked for; one whose cloud SDK is missing does not break the others.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .adapter import Adapter
from .errors import AdapterConflict, AdapterNotInstalled

GROUP = "mlfn.adapters"
#: The distributions of the built-in clouds, for install hints when they are absent.
KNOWN_PACKAGES = {
    "aws": "mlfn-aws",
    "gcp": "mlfn-gcp",
    "azure": "mlfn-azure",
    "kubernetes": "mlfn-kubernetes",
}


def install_hint(package: str, root: Path | None = None) -> str:
    """The command that installs ``package`` from where mlfn itself is installed: the ``-e`` path of
    the adapter beside a checkout of mlfn (first-party adapters are published on no index), else
    ``pip install <package>``."""
    import os

    root = Path(__file__).resolve().parent.parent if root is None else root
    for cloud, dist in KNOWN_PACKAGES.items():
        if dist != package:
            continue
        folder = root / "adapters" / cloud
        if (folder / "pyproject.toml").exists():
            try:
                shown = os.path.relpath(folder)
            except ValueError:  # another drive
                shown = str(folder)
            return f"pip install -e {folder if shown.startswith('..') else shown}"
    return f"pip install {package}"


@dataclass(frozen=True)
class Installed:
    """One cloud whose adapter is installed, loaded or not."""

    name: str
    entry_point: metadata.EntryPoint

    @property
    def package(self) -> str:
        dist = getattr(self.entry_point, "dist", None)
        return dist.name if dist is not None else KNOWN_PACKAGES.get(self.name, self.name)


@functools.cache
def installed() -> dict[str, Installed]:
    """Every cloud with an entry point, without importing any adapter."""
    found: dict[str, Installed] = {}
    for ep in metadata.entry_points(group=GROUP):
        if ep.name in found and found[ep.name].entry_point.value != ep.value:
            raise AdapterConflict(
                f"two adapters claim cloud {ep.name!r}: {found[ep.name].entry_point.value} "
                f"({found[ep.name].package}) and {ep.value}; uninstall one of them"
            )
        found[ep.name] = Installed(ep.name, ep)
    return found


@functools.cache
def adapter_for(cloud: str) -> Adapter:
    """The adapter of ``cloud``; an error naming the package to install when it is absent."""
    entry = installed().get(cloud)
    if entry is None:
        package = KNOWN_PACKAGES.get(cloud)
        if package:
            raise AdapterNotInstalled(f"cloud {cloud!r} needs its adapter: {install_hint(package)}")
        names = ", ".join(["local", *sorted(installed())])
        raise AdapterNotInstalled(f"no adapter for cloud {cloud!r} is installed (installed: {names})")
    try:
        cls = entry.entry_point.load()
    except ImportError as e:
        raise AdapterNotInstalled(
            f"the adapter for cloud {cloud!r} ({entry.package}) cannot be imported: {e}. "
            f"Reinstall it: {install_hint(entry.package).replace('pip install', 'pip install --force-reinstall', 1)}"
        ) from e
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise AdapterNotInstalled(f"entry point {entry.entry_point.value} is not an mlfn Adapter class")
    if cls.name != cloud:
        raise AdapterConflict(
            f"entry point {cloud!r} loads an adapter named {cls.name!r}: they must agree"
        )
    return cls()


def reset() -> None:
    """Forget what was found (tests install and remove adapters)."""
    installed.cache_clear()
    adapter_for.cache_clear()
