"""The kinds registry: what resources exist, in which group and version, and how they behave.

One ResourceInfo per (group, version, resource). Discovery, routing, storage keys, tables,
field selectors and validation all start from here. Built-in kinds are listed in
``builtin_kinds.py``; custom resources are registered at run time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class SubresourceInfo:
    name: str  # "status", "scale", "binding", "log", "exec", ...
    kind: str  # the response kind, e.g. "Scale"
    group: str  # group of the response kind ("" for core)
    version: str
    verbs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    group: str  # "" for the core group
    version: str
    resource: str  # plural, lower case: "pods"
    kind: str  # "Pod"
    singular: str  # "pod"
    namespaced: bool
    verbs: tuple[str, ...] = ALL_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[SubresourceInfo, ...] = ()
    # The version objects are stored at (the hub); other versions of the same group share storage.
    storage_version: str = ""
    # Kinds whose spec changes bump metadata.generation (False for kinds without spec, e.g.
    # ConfigMap, where generation stays 1... the real server leaves it unset for those).
    has_generation: bool = True

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def has_status(self) -> bool:
        return any(s.name == "status" for s in self.subresources)

    def subresource(self, name: str) -> SubresourceInfo | None:
        for s in self.subresources:
            if s.name == name:
                return s
        return None


@dataclass
class GroupInfo:
    name: str  # "" for core
    versions: list[str] = field(default_factory=list)  # preferred first


class Registry:
    """Mutable registry of resources, ordered as discovery lists them."""

    def __init__(self, resources: Iterable[ResourceInfo] = ()):
        self._by_gvr: dict[tuple[str, str, str], ResourceInfo] = {}
        self._by_gvk: dict[tuple[str, str, str], ResourceInfo] = {}
        self._groups: dict[str, GroupInfo] = {}
        self.generation = 0  # bumped on every change so discovery caches can be invalidated
        for r in resources:
            self.register(r)

    def register(self, info: ResourceInfo) -> None:
        self._by_gvr[(info.group, info.version, info.resource)] = info
        self._by_gvk[(info.group, info.version, info.kind)] = info
        g = self._groups.setdefault(info.group, GroupInfo(info.group))
        if info.version not in g.versions:
            g.versions.append(info.version)
        self.generation += 1

    def unregister(self, group: str, version: str, resource: str) -> None:
        info = self._by_gvr.pop((group, version, resource), None)
        if info is None:
            return
        self._by_gvk.pop((group, version, info.kind), None)
        g = self._groups[group]
        if not any(k[0] == group and k[1] == version for k in self._by_gvr):
            g.versions.remove(version)
        if not g.versions:
            del self._groups[group]
        self.generation += 1

    def get(self, group: str, version: str, resource: str) -> ResourceInfo | None:
        return self._by_gvr.get((group, version, resource))

    def by_kind(self, group: str, version: str, kind: str) -> ResourceInfo | None:
        return self._by_gvk.get((group, version, kind))

    # Readers take snapshots (list(...) of a dict view is atomic in CPython), so a document
    # builder in another thread never sees a dict change size while a CRD is registered.
    def groups(self) -> list[GroupInfo]:
        return [GroupInfo(g.name, list(g.versions)) for g in list(self._groups.values())]

    def group(self, name: str) -> GroupInfo | None:
        return self._groups.get(name)

    def resources(self, group: str | None = None, version: str | None = None) -> list[ResourceInfo]:
        return [
            r for r in list(self._by_gvr.values())
            if (group is None or r.group == group) and (version is None or r.version == version)
        ]

    def __iter__(self):
        return iter(list(self._by_gvr.values()))
