"""Reconciling the default RBAC policy (rbac_bootstrap_policy.py) at apiserver start.

A missing role or binding is created. One that exists is brought up to date only while its
``rbac.authorization.kubernetes.io/autoupdate`` annotation is not "false" (an operator who
edits a default role and wants to keep it so sets it to "false", as on Kubernetes): missing
rules, labels, subjects and aggregation selectors are added, nothing the operator added is
taken away. An aggregated role's rules belong to the aggregation (rbac_aggregation.py), so
only its selectors are reconciled. Several apiservers on one store may do this at once: a
creation that loses the race (409) is fine, updates are retried on conflicts by ObjectStore.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.apiserver import codec, keys
from kybernetes.apiserver.objects import ObjectStore
from kybernetes.apiserver.rbac_aggregation import aggregated_rules, normalized_rule
from kybernetes.apiserver.rbac_bootstrap_policy import AUTOUPDATE, CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES
from kybernetes.apiserver.store_errors import translate
from kybernetes.store import StoreError

log = logging.getLogger(__name__)

RBAC_GROUP = "rbac.authorization.k8s.io"


def _merged_rules(existing: list, wanted: list) -> list:
    have = {normalized_rule(r) for r in existing}
    return existing + [r for r in wanted if normalized_rule(r) not in have]


def _merged_map(existing: Any, wanted: dict[str, str]) -> dict[str, str]:
    out = dict(existing) if isinstance(existing, dict) else {}
    for key, value in wanted.items():
        out.setdefault(key, value)
    return out


def reconciled_role(existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any] | None:
    """The role to store, or None when ``existing`` needs no change (or must not be changed)."""
    meta = existing.get("metadata") or {}
    if (meta.get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    new = {**existing, "metadata": dict(meta)}
    new["metadata"]["labels"] = _merged_map(meta.get("labels"), wanted["metadata"]["labels"])
    new["metadata"]["annotations"] = _merged_map(meta.get("annotations"), wanted["metadata"]["annotations"])
    if "aggregationRule" in wanted:
        rule = existing.get("aggregationRule") if isinstance(existing.get("aggregationRule"), dict) else {}
        selectors = list(rule.get("clusterRoleSelectors") or [])
        for selector in wanted["aggregationRule"]["clusterRoleSelectors"]:
            if selector not in selectors:
                selectors.append(selector)
        new["aggregationRule"] = {**rule, "clusterRoleSelectors": selectors}
        new.setdefault("rules", [])
    else:
        existing_rules = existing.get("rules") if isinstance(existing.get("rules"), list) else []
        new["rules"] = _merged_rules(existing_rules, wanted["rules"])
    return None if new == existing else new


def reconciled_binding(existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any] | None:
    meta = existing.get("metadata") or {}
    if (meta.get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    if existing.get("roleRef") != wanted["roleRef"]:
        log.warning("rbac bootstrap: %s %s refers to another role than the default; left alone",
                    wanted["kind"], wanted["metadata"]["name"])
        return None
    new = {**existing, "metadata": dict(meta)}
    new["metadata"]["labels"] = _merged_map(meta.get("labels"), wanted["metadata"]["labels"])
    new["metadata"]["annotations"] = _merged_map(meta.get("annotations"), wanted["metadata"]["annotations"])
    subjects = list(existing.get("subjects") or [])
    known = {(s.get("kind"), s.get("name"), s.get("namespace") or "") for s in subjects if isinstance(s, dict)}
    for subject in wanted["subjects"]:
        if (subject["kind"], subject["name"], subject.get("namespace") or "") not in known:
            subjects.append(subject)
    new["subjects"] = subjects
    return None if new == existing else new


async def _reconcile_kind(objects: ObjectStore, resource: str, wanted_all: list[dict[str, Any]],
                          reconcile: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]) -> None:
    info = objects.registry.get(RBAC_GROUP, "v1", resource)
    if info is None:
        return
    try:  # one list instead of a read per object: this runs at every start
        listed = await objects.store.list(keys.resource_prefix(info))
    except StoreError as e:
        raise translate(e, info, "") from None
    stored = {obj["metadata"].get("name"): obj for obj in map(codec.decode, listed.items)}
    await asyncio.gather(*(_reconcile_one(objects, info, stored.get(w["metadata"]["name"]), w, reconcile)
                           for w in wanted_all))


async def _reconcile_one(objects: ObjectStore, info: Any, existing: dict[str, Any] | None, wanted: dict[str, Any],
                         reconcile: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]) -> None:
    name = wanted["metadata"]["name"]
    if existing is None:
        try:
            await objects.create(info, None, _initial(wanted))
        except ApiError as e:
            if e.code != 409:  # another apiserver on the same store made it first
                raise
        return
    if reconcile(existing, wanted) is None:
        return

    def change(current: dict[str, Any]) -> dict[str, Any]:
        updated = reconcile(current, wanted)
        out = updated if updated is not None else current
        out.setdefault("metadata", {}).pop("resourceVersion", None)  # an unconditional update
        return out

    await objects.update(info, None, name, change)


async def reconcile_bootstrap_policy(objects: ObjectStore) -> None:
    """Create or update every default ClusterRole, then every default ClusterRoleBinding."""
    await _reconcile_kind(objects, "clusterroles", CLUSTER_ROLES, reconciled_role)
    await _reconcile_kind(objects, "clusterrolebindings", CLUSTER_ROLE_BINDINGS, reconciled_binding)


def _initial(wanted: dict[str, Any]) -> dict[str, Any]:
    """A default role as first created: an aggregated one already holds the default roles' rules,
    so a new cluster needs no aggregation pass (the aggregation still adds any other role's)."""
    obj = _copy(wanted)
    if "aggregationRule" in obj:
        obj["rules"] = _copy(_bootstrap_aggregates().get(obj["metadata"]["name"], []))
    return obj


_AGGREGATES: dict[str, list[dict[str, Any]]] = {}


def _bootstrap_aggregates() -> dict[str, list[dict[str, Any]]]:
    if not _AGGREGATES:
        _AGGREGATES.update(aggregated_rules({r["metadata"]["name"]: r for r in CLUSTER_ROLES}))
    return _AGGREGATES


def _copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    return obj
