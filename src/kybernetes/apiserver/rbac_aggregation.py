"""ClusterRole aggregation: a role with an aggregationRule holds the rules of the roles it selects.

``admin``, ``edit`` and ``view`` are empty shells with ``clusterRoleSelectors``; their rules are
the union of the rules of every other ClusterRole whose labels match one of the selectors, in
name order, without duplicates (Kubernetes' clusterrole-aggregation controller). Aggregated roles
may themselves be selected (view is labelled aggregate-to-edit), so the union is computed to a
fixed point in memory first and then only the roles whose rules changed are written.

It runs inside the apiserver, from the RBAC index's copy of the ClusterRoles
(authz_rbac.RbacIndex.cluster_role_objects): whenever ClusterRoles change, and synchronously
after a ClusterRole write through this server (rbac_setup.py), so ``kubectl get clusterrole view``
right after labelling a role already shows the new rules.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.selectors import LabelSelector, label_selector_from_spec

log = logging.getLogger(__name__)

RBAC_GROUP = "rbac.authorization.k8s.io"
_MAX_PASSES = 8  # chains of aggregated roles deeper than this are not expected


def normalized_rule(rule: Any) -> tuple:
    """A rule as a comparable value: the order of each list does not matter."""
    if not isinstance(rule, dict):
        return ()
    return tuple(tuple(sorted(str(v) for v in rule.get(f) or ()))
                 for f in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"))


def _selectors(role: dict[str, Any]) -> list[LabelSelector] | None:
    rule = role.get("aggregationRule")
    if not isinstance(rule, dict):
        return None
    out = []
    for spec in rule.get("clusterRoleSelectors") or []:
        try:
            out.append(label_selector_from_spec(spec))
        except ApiError:  # validation refuses these; a stored bad one selects nothing
            continue
    return out


def aggregated_rules(roles: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """For every aggregated role whose rules should change: its new rules."""
    current = {name: list(role.get("rules") or []) for name, role in roles.items()}
    selectors = {name: s for name, role in roles.items() if (s := _selectors(role)) is not None}
    for _ in range(_MAX_PASSES):
        moved = False
        for name, sels in sorted(selectors.items()):
            rules: list[dict[str, Any]] = []
            seen: set[tuple] = set()
            for other in sorted(roles):
                if other == name:
                    continue
                labels = (roles[other].get("metadata") or {}).get("labels") or {}
                if not any(s.matches(labels) for s in sels):
                    continue
                for rule in current[other]:
                    key = normalized_rule(rule)
                    if key not in seen:
                        seen.add(key)
                        rules.append(rule)
            if rules != current[name]:
                current[name] = rules
                moved = True
        if not moved:
            break
    return {name: current[name] for name in selectors if current[name] != (roles[name].get("rules") or [])}


class ClusterRoleAggregator:
    """Keeps aggregated ClusterRoles' rules current: ``run`` once, or ``trigger`` in the background."""

    def __init__(self, objects: Any, index: Any):
        self.objects = objects
        self.index = index
        self._task: asyncio.Task | None = None
        self._again = False
        self._lock = asyncio.Lock()
        self.stopped = False

    def trigger(self, resource: str = "clusterroles") -> None:
        if resource != "clusterroles" or self.stopped:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = loop.create_task(self._background(), name="clusterrole aggregation")

    async def _background(self) -> None:
        while not self.stopped:
            self._again = False
            try:
                await self.run()
            except Exception:  # keep serving; the next ClusterRole change retries
                log.exception("clusterrole aggregation failed")
            if not self._again:
                return

    async def run(self) -> bool:
        """Write the aggregated roles whose rules are stale; True when any was written."""
        async with self._lock:
            changes = aggregated_rules(dict(self.index.cluster_role_objects))
            info = self.objects.registry.get(RBAC_GROUP, "v1", "clusterroles")
            if info is None or not changes:
                return False
            for name, rules in changes.items():
                await self._write(info, name, rules)
            return True

    async def _write(self, info: Any, name: str, rules: list[dict[str, Any]]) -> None:
        def change(current: dict[str, Any]) -> dict[str, Any]:
            current["rules"] = rules
            current.setdefault("metadata", {}).pop("resourceVersion", None)
            return current

        try:
            await self.objects.update(info, None, name, change)
        except ApiError as e:
            if e.code != 404:  # deleted meanwhile: nothing to aggregate into
                log.warning("clusterrole aggregation: updating %s failed: %s", name, e)

    async def stop(self) -> None:
        self.stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
