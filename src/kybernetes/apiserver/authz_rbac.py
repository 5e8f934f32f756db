"""The RBAC authorizer: Roles, ClusterRoles and their bindings decide who may do what.

    store ──hub feeds (4 RBAC prefixes)──► RbacSource ──► RbacIndex
                                                            │ rules by role, bindings by subject
    request ──► RbacAuthorizer.authorize (memory only) ◄────┘

Authorization runs on every request, so it never reads the store: the index is kept in memory,
fed by the watch hub's shared feed of each RBAC resource (the same feeds the watch cache uses),
and answers with a few dict lookups and set memberships. Bindings are indexed by subject (the
user's name, each of their groups; a ServiceAccount subject is the user name it authenticates
as), so a request only looks at the bindings that can apply to its user.

A write through this apiserver must be visible to the very next request (a test or script
creates a RoleBinding, then uses it). The feed is asynchronous, so after every successful write
of an RBAC resource the server calls ``catch_up``: it re-lists the four prefixes from the store,
which cannot be older than the write that was just answered, before the response goes out.
Writes through another apiserver on the same store arrive through the feed, a moment later, as
on Kubernetes.

The decision is Kubernetes': ALLOW when any binding that names the user refers to a role with a
rule covering the request (authz_rbac_rules.py), else NO_OPINION, with a reason only when a
binding refers to a role that does not exist. ``rules_for`` lists the same bindings' rules for
one user and namespace (SelfSubjectRulesReview, rules_review.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.authn import UserInfo
from kybernetes.apiserver.authz import Attributes, Decision
from kybernetes.apiserver.authz_rbac_rules import CompiledRule, compile_rules, subject_key, subject_text
from kybernetes.apiserver.keys import resource_prefix
from kybernetes.store import EventType, ListResult, Store, StoreError

log = logging.getLogger(__name__)

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_RESOURCES = ("clusterroles", "clusterrolebindings", "roles", "rolebindings")


@dataclass(frozen=True)
class BindingEntry:
    """One subject of one binding: whose rules it grants, and to whom (for the allow reason)."""

    binding_kind: str  # "ClusterRoleBinding" | "RoleBinding"
    binding_name: str
    namespace: str  # "" for a ClusterRoleBinding
    role_kind: str  # "ClusterRole" | "Role"
    role_name: str
    subject: tuple[str, str]

    def describe(self) -> str:
        name = f"{self.binding_name}/{self.namespace}" if self.namespace else self.binding_name
        return (f'{self.binding_kind} "{name}" of {self.role_kind} "{self.role_name}" '
                f"to {subject_text(self.subject)}")


def _binding_entries(obj: dict[str, Any], kind: str) -> list[BindingEntry]:
    meta = obj.get("metadata") or {}
    namespace = (meta.get("namespace") or "") if kind == "RoleBinding" else ""
    ref = obj.get("roleRef") or {}
    role_kind, role_name = ref.get("kind"), ref.get("name")
    if role_kind not in ("ClusterRole", "Role") or not isinstance(role_name, str):
        return []
    if role_kind == "Role" and not namespace:
        return []
    entries = []
    for subject in obj.get("subjects") or []:
        key = subject_key(subject, namespace)
        if key is not None:
            entries.append(BindingEntry(kind, str(meta.get("name") or ""), namespace, role_kind, role_name, key))
    return entries


class RbacIndex:
    """What the authorizer reads: compiled rules by role, binding entries by subject."""

    def __init__(self) -> None:
        self.cluster_roles: dict[str, tuple[CompiledRule, ...]] = {}
        self.roles: dict[tuple[str, str], tuple[CompiledRule, ...]] = {}
        # (namespace or "", subject kind, subject name) -> {store key: [entries]}
        self.bindings: dict[tuple[str, str, str], dict[str, list[BindingEntry]]] = {}
        self._binding_keys: dict[str, list[tuple[str, str, str]]] = {}  # store key -> where indexed
        # ClusterRoles as stored (the aggregation reads labels and aggregationRule).
        self.cluster_role_objects: dict[str, dict[str, Any]] = {}

    # --- updates (store key, decoded object) ---------------------------------------------------

    def put(self, resource: str, key: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        if resource == "clusterroles":
            self.cluster_roles[name] = compile_rules(obj.get("rules"))
            self.cluster_role_objects[name] = obj
        elif resource == "roles":
            self.roles[(str(meta.get("namespace") or ""), name)] = compile_rules(obj.get("rules"))
        else:
            self._remove_binding(key)
            kind = "ClusterRoleBinding" if resource == "clusterrolebindings" else "RoleBinding"
            where: list[tuple[str, str, str]] = []
            for entry in _binding_entries(obj, kind):
                index_key = (entry.namespace, *entry.subject)
                self.bindings.setdefault(index_key, {}).setdefault(key, []).append(entry)
                where.append(index_key)
            self._binding_keys[key] = where

    def remove(self, resource: str, key: str) -> None:
        tail = key.rsplit("/", 2)
        if resource == "clusterroles":
            self.cluster_roles.pop(tail[-1], None)
            self.cluster_role_objects.pop(tail[-1], None)
        elif resource == "roles":
            self.roles.pop((tail[-2], tail[-1]), None)
        else:
            self._remove_binding(key)

    def clear(self, resource: str, prefix: str) -> None:
        if resource == "clusterroles":
            self.cluster_roles.clear()
            self.cluster_role_objects.clear()
        elif resource == "roles":
            self.roles.clear()
        else:
            for key in [k for k in self._binding_keys if k.startswith(prefix)]:
                self._remove_binding(key)

    def _remove_binding(self, key: str) -> None:
        for index_key in self._binding_keys.pop(key, ()):
            by_key = self.bindings.get(index_key)
            if by_key is not None:
                by_key.pop(key, None)
                if not by_key:
                    del self.bindings[index_key]

    # --- decisions -----------------------------------------------------------------------------

    def authorize(self, attrs: Attributes) -> Decision:
        user = attrs.user
        subjects = [("user", user.name), *(("group", g) for g in user.groups)]
        missing: list[str] = []
        scopes = ("", attrs.namespace) if attrs.namespace and attrs.is_resource_request else ("",)
        for scope in scopes:
            for kind, name in subjects:
                for entries in (self.bindings.get((scope, kind, name)) or {}).values():
                    for entry in entries:
                        rules = self._rules_of(entry)
                        if rules is None:
                            missing.append(_not_found(entry))
                        elif any(rule.allows(attrs) for rule in rules):
                            return Decision.allow(f"RBAC: allowed by {entry.describe()}")
        if missing:
            return Decision.no_opinion("RBAC: " + ", ".join(sorted(set(missing))))
        return Decision.no_opinion()

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[CompiledRule], list[str]]:
        """Every rule granted to ``user`` cluster-wide and, with a namespace, in it (Kubernetes'
        RulesFor): ClusterRoleBindings, then the namespace's RoleBindings, each binding once in
        name order, its role's rules in order. Also the errors met: roles that do not exist."""
        subjects = [("user", user.name), *(("group", g) for g in user.groups)]
        rules: list[CompiledRule] = []
        problems: list[str] = []
        for scope in ("", namespace) if namespace else ("",):
            applying: dict[str, BindingEntry] = {}
            for kind, name in subjects:
                for key, entries in (self.bindings.get((scope, kind, name)) or {}).items():
                    if entries:
                        applying.setdefault(key, entries[0])
            for key in sorted(applying):
                entry = applying[key]
                role_rules = self._rules_of(entry)
                if role_rules is None:
                    problems.append(_not_found(entry))
                else:
                    rules.extend(role_rules)
        return rules, problems

    def _rules_of(self, entry: BindingEntry) -> tuple[CompiledRule, ...] | None:
        if entry.role_kind == "ClusterRole":
            return self.cluster_roles.get(entry.role_name)
        return self.roles.get((entry.namespace, entry.role_name))


def _not_found(entry: BindingEntry) -> str:
    return f'{entry.role_kind.lower()}.{RBAC_GROUP} "{entry.role_name}" not found'


class RbacSource:
    """One RBAC resource's objects, fed by the hub's shared feed of its prefix (a feed listener:
    ``on_events`` and ``on_feed_end``), loaded from a store list."""

    def __init__(self, resource: str, prefix: str, index: RbacIndex, on_change: Callable[[str], None]):
        self.resource = resource
        self.prefix = prefix
        self.index = index
        self.on_change = on_change
        self.applied = 0
        self.ready = False
        self.feed: Any = None
        self._pending: list[tuple[EventType, str, bytes, int]] = []

    def on_events(self, batch: list[Any]) -> None:
        # Copy out what is needed now: the feed releases its events after dispatch.
        events = [(e.type, e.key, e.event.kv.value, e.revision) for e in batch]
        if not self.ready:
            self._pending.extend(events)
            return
        self._apply(events)

    def on_feed_end(self) -> None:
        self.feed = None
        self.on_change(self.resource)

    def load(self, listed: ListResult) -> None:
        """The store's state at ``listed.revision``; later events still apply, older ones not."""
        self.index.clear(self.resource, self.prefix)
        for kv in listed.items:
            self._put(kv.key, kv.value)
        self.applied = listed.revision  # events that came during the list are pending: newer ones apply
        self.ready = True
        pending, self._pending = self._pending, []
        self._apply(pending)
        self.on_change(self.resource)

    def load_pending(self) -> None:
        """A re-list failed: keep the index as it was and apply what came meanwhile."""
        self.ready = True
        pending, self._pending = self._pending, []
        self._apply(pending)

    def _apply(self, events: list[tuple[EventType, str, bytes, int]]) -> None:
        changed = False
        for type_, key, value, revision in events:
            if revision <= self.applied:
                continue
            if type_ is EventType.DELETE:
                self.index.remove(self.resource, key)
            else:
                self._put(key, value)
            self.applied = revision
            changed = True
        if changed:
            self.on_change(self.resource)

    def _put(self, key: str, value: bytes) -> None:
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError:
            log.warning("rbac: %s holds no JSON object; ignored", key)
            return
        if isinstance(obj, dict):
            self.index.put(self.resource, key, obj)


class RbacAuthorizer:
    """The Authorizer (authz.py) of RBAC, over an RbacIndex kept current from the store."""

    def __init__(self, store: Store, hub: Any, registry: Any):
        self.store = store
        self.hub = hub
        self.index = RbacIndex()
        # Called (synchronously) with the resource name whenever the index changed.
        self.listeners: list[Callable[[str], None]] = []
        self.sources: dict[str, RbacSource] = {}
        for resource in RBAC_RESOURCES:
            info = _find(registry, resource)
            if info is not None:
                self.sources[resource] = RbacSource(resource, resource_prefix(info), self.index, self._changed)
        self._stopped = False
        self._restart: asyncio.Task | None = None

    def authorize(self, attrs: Attributes) -> Decision:
        return self.index.authorize(attrs)

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[CompiledRule], list[str]]:
        """The rules RBAC grants ``user`` in ``namespace`` and the errors met (RbacIndex.rules_for)."""
        return self.index.rules_for(user, namespace)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopped = False
        for source in self.sources.values():
            try:
                await self._subscribe(source)
            except StoreError as exc:
                log.warning("rbac: watching %s failed (%s); retrying", source.resource, exc)
                self._schedule_restart()

    async def stop(self) -> None:
        self._stopped = True
        for source in self.sources.values():
            feed, source.feed = source.feed, None
            if feed is not None and source in feed.listeners:
                feed.listeners.remove(source)
        if self._restart is not None:
            self._restart.cancel()
            try:
                await self._restart
            except (asyncio.CancelledError, Exception):
                pass

    async def catch_up(self, *resources: str) -> None:
        """Make the index of ``resources`` (default: all four) at least as new as the store is
        now: after a write of this server, only the written resource needs re-reading."""
        for source in self.sources.values():
            if resources and source.resource not in resources:
                continue
            try:
                if source.feed is None:
                    await self._subscribe(source)
                else:
                    source.ready = False  # events during the list wait for it
                    try:
                        listed = await self.store.list(source.prefix)
                    except BaseException:
                        source.load_pending()
                        raise
                    source.load(listed)
            except StoreError as exc:  # the feed will still bring the change
                log.warning("rbac: re-reading %s failed: %s", source.resource, exc)

    async def _subscribe(self, source: RbacSource) -> None:
        feed = await self.hub.shared_feed(source.prefix)
        if source not in feed.listeners:
            feed.listeners.append(source)
        source.feed = feed
        source.ready = False
        try:
            listed = await self.store.list(source.prefix)
        except BaseException:
            if source in feed.listeners:
                feed.listeners.remove(source)
            source.feed = None
            source.load_pending()
            raise
        source.load(listed)

    def _changed(self, resource: str) -> None:
        source = self.sources.get(resource)
        if source is not None and source.feed is None and not self._stopped:
            self._schedule_restart()
        for listener in list(self.listeners):
            listener(resource)

    def _schedule_restart(self) -> None:
        if self._restart is not None and not self._restart.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._restart = loop.create_task(self._resubscribe(), name="rbac re-watch")

    async def _resubscribe(self) -> None:
        delay = 0.2
        while not self._stopped:
            try:
                for source in self.sources.values():
                    if source.feed is None:
                        await self._subscribe(source)
                return
            except StoreError as exc:
                log.warning("rbac: re-watching failed (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def _find(registry: Any, resource: str) -> ResourceInfo | None:
    for info in registry.resources(RBAC_GROUP):
        if info.group == RBAC_GROUP and info.resource == resource:
            return info
    return None
