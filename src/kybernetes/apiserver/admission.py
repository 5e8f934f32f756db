"""Admission: the chain every write passes after authorization and before storage.

    objects.py:  defaults ─► chain.admit (mutating: built-ins, then webhooks)
                          ─► schema/field validation (422)
                          ─► chain.validate (validating: built-ins, webhooks, ResourceQuota)
                          ─► store

As in Kubernetes, mutating plugins run first (in order; each may change the object), then
validating plugins (in order; each may only refuse by raising ApiError). A plugin is any object
with ``name`` and one or both of ``async admit(attrs)`` / ``async validate(attrs)``; it declares
which operations it cares about with ``handles(operation)`` (all of them when absent), and may
have ``async start()`` / ``async stop()`` that the server calls around serving.

Plugins that have something to say without refusing call ``attrs.warn(text)``: the text reaches
the client as a ``Warning`` header (admission_context.py carries the request to the chain).

NamespaceLifecycle is the first built-in: no new content in a namespace that does not exist or is
being terminated, and the system namespaces can never be deleted. It runs in the mutating phase,
as upstream, so no webhook is ever called for an object in a namespace that cannot hold it.
The chain the server uses is assembled in admission_chain.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kybernetes.api import errors
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.admission_context import warn_current_request

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
    # The kind and resource the client asked for, when they differ from ``info`` (a subresource
    # such as pods/binding names a kind of its own); webhooks report them as requestKind.
    kind: str = ""
    warnings: list[str] = field(default_factory=list)
    # Set by a mutating plugin that changed ``obj``: the object store then puts back what
    # admission may not change and defaults the object again.
    mutated: bool = False
    # The store's revision when the plugins' first read was made: every later read of the same
    # admission is served at that revision or a newer one (admission_resources.py).
    read_revision: int = 0

    def warn(self, text: str) -> None:
        """Tell the client something without failing the request (a Warning header)."""
        if text and text not in self.warnings:
            self.warnings.append(text)
            warn_current_request(text)

    @property
    def effective_kind(self) -> str:
        return self.kind or self.info.kind


class AdmissionPlugin(Protocol):
    name: str


class AdmissionChain:
    def __init__(self, plugins: Sequence[Any] = (), services: Sequence[Any] = ()):
        self.plugins = list(plugins)
        # What plugins share and must start and stop with the server (a webhook configuration
        # watch, an HTTP client); each has ``async start()`` and/or ``async stop()``.
        self.services = list(services)

    def append(self, plugin: Any) -> None:
        self.plugins.append(plugin)

    @staticmethod
    def _wants(plugin: Any, attrs: Attributes) -> bool:
        handles = getattr(plugin, "handles", None)
        return handles is None or handles(attrs.operation)

    async def admit(self, attrs: Attributes) -> None:
        """The mutating phase: each plugin may change ``attrs.obj`` in place (or replace it)."""
        for plugin in self.plugins:
            admit = getattr(plugin, "admit", None)
            if admit is not None and self._wants(plugin, attrs):
                await admit(attrs)

    async def validate(self, attrs: Attributes) -> None:
        """The validating phase: plugins may only refuse, by raising ApiError."""
        for plugin in self.plugins:
            validate = getattr(plugin, "validate", None)
            if validate is not None and self._wants(plugin, attrs):
                await validate(attrs)

    async def run(self, attrs: Attributes) -> None:
        """Mutate then validate; raises ApiError when a plugin refuses."""
        await self.admit(attrs)
        await self.validate(attrs)

    async def start(self) -> None:
        for plugin in [*self.services, *self.plugins]:
            start = getattr(plugin, "start", None)
            if start is not None:
                await start()

    async def stop(self) -> None:
        for plugin in reversed([*self.services, *self.plugins]):
            stop = getattr(plugin, "stop", None)
            if stop is not None:
                await stop()


def forbidden(attrs: Attributes, messages: list[str]) -> errors.ApiError:
    """A plugin's refusal as upstream's admission.NewForbidden words it:
    ``<resource> "<name>" is forbidden: <message>`` (several messages as ``[m1, m2]``)."""
    detail = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    info = attrs.info
    name = attrs.name or ((attrs.obj or {}).get("metadata") or {}).get("generateName") or ""
    qualified = f"{info.resource}.{info.group}" if info.group else info.resource
    return errors.forbidden(f'{qualified} "{name}" is forbidden: {detail}', resource=info.resource,
                            name=name, group=info.group)


NamespaceGetter = Callable[[str, Attributes], Awaitable[dict[str, Any] | None]]


class NamespaceLifecycle:
    """Refuse content in missing or terminating namespaces; protect the system namespaces."""

    name = "NamespaceLifecycle"

    def __init__(self, get_namespace: NamespaceGetter):
        self._get_namespace = get_namespace

    def handles(self, operation: str) -> bool:
        return operation in (CREATE, DELETE)

    async def admit(self, attrs: Attributes) -> None:
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
        ns = await self._get_namespace(attrs.namespace, attrs)
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
