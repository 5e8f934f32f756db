"""Admission: the chain every write passes after authorization and before storage.

As in Kubernetes, mutating plugins run first (in order; each may change the object), then
validating plugins (in order; each may only refuse by raising ApiError). A plugin is any object
with ``name`` and one or both of ``async admit(attrs)`` / ``async validate(attrs)``; it declares
which operations it cares about with ``handles(operation)`` (all of them when absent).

NamespaceLifecycle is the first built-in: no new content in a namespace that does not exist or is
being terminated, and the system namespaces can never be deleted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kybernetes.api import errors
from kybernetes.api.registry import ResourceInfo

CREATE = "CREATE"
UPDATE = "UPDATE"
DELETE = "DELETE"
CONNECT = "CONNECT"

IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


@dataclass
class Attributes:
    operation: str  # CREATE UPDATE DELETE CONNECT
    info: ResourceInfo
    namespace: str | None
    name: str
    obj: dict[str, Any] | None  # the new object (None for DELETE)
    old_obj: dict[str, Any] | None = None  # the stored object (UPDATE, DELETE)
    subresource: str = ""
    user: Any = None  # the authenticated user (name, uid, groups)
    dry_run: bool = False
    options: dict[str, Any] = field(default_factory=dict)


class AdmissionPlugin(Protocol):
    name: str


class AdmissionChain:
    def __init__(self, plugins: Sequence[Any] = ()):
        self.plugins = list(plugins)

    def append(self, plugin: Any) -> None:
        self.plugins.append(plugin)

    @staticmethod
    def _wants(plugin: Any, attrs: Attributes) -> bool:
        handles = getattr(plugin, "handles", None)
        return handles is None or handles(attrs.operation)

    async def run(self, attrs: Attributes) -> None:
        """Mutate then validate; raises ApiError when a plugin refuses."""
        for plugin in self.plugins:
            admit = getattr(plugin, "admit", None)
            if admit is not None and self._wants(plugin, attrs):
                await admit(attrs)
        for plugin in self.plugins:
            validate = getattr(plugin, "validate", None)
            if validate is not None and self._wants(plugin, attrs):
                await validate(attrs)


NamespaceGetter = Callable[[str], Awaitable[dict[str, Any] | None]]


class NamespaceLifecycle:
    """Refuse content in missing or terminating namespaces; protect the system namespaces."""

    name = "NamespaceLifecycle"

    def __init__(self, get_namespace: NamespaceGetter):
        self._get_namespace = get_namespace

    def handles(self, operation: str) -> bool:
        return operation in (CREATE, DELETE)

    async def validate(self, attrs: Attributes) -> None:
        info = attrs.info
        if attrs.operation == DELETE:
            if info.group == "" and info.resource == "namespaces" and attrs.name in IMMORTAL_NAMESPACES:
                raise errors.forbidden(
                    f'namespaces "{attrs.name}" is forbidden: this namespace may not be deleted',
                    resource="namespaces", name=attrs.name,
                )
            return
        if not info.namespaced or not attrs.namespace or attrs.subresource:
            return
        ns = await self._get_namespace(attrs.namespace)
        if ns is None:
            raise errors.not_found("namespaces", attrs.namespace)
        terminating = (ns.get("status") or {}).get("phase") == "Terminating" or (
            (ns.get("metadata") or {}).get("deletionTimestamp")
        )
        if terminating:
            qualified = f"{info.resource}.{info.group}" if info.group else info.resource
            message = (f"unable to create new content in namespace {attrs.namespace} "
                       "because it is being terminated")
            err = errors.forbidden(f'{qualified} "{attrs.name}" is forbidden: {message}',
                                   resource=info.resource, name=attrs.name, group=info.group)
            err.causes = [errors.Cause("NamespaceTerminating", message, "metadata.namespace")]
            raise err
