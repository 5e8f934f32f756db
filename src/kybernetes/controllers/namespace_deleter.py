"""Emptying a Terminating namespace (Kubernetes' namespaced_resources_deleter).

One pass over every namespaced resource discovery lists (custom resources included):

    deletecollection (Background), or list + delete each where the collection verb is missing
    list again: what is left?   pods still running:      wait about their grace period
                                objects with finalizers:  wait ~15 s (controllers finish them)
                                anything else:            an error (retried with backoff)

The outcome is written as the namespace's status conditions, with the reasons and messages
Kubernetes uses (NamespaceDeletionDiscoveryFailure, NamespaceDeletionGroupVersionParsingFailure,
NamespaceDeletionContentFailure, NamespaceContentRemaining, NamespaceFinalizersRemaining), so
``kubectl describe namespace`` explains what a namespace stuck in Terminating is waiting for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import format_rfc3339
from kybernetes.client.rest import ApiClient
from kybernetes.controllers.garbagecollector_discovery import ApiResource, discover
from kybernetes.util.clock import Clock

Obj = dict[str, Any]

FINALIZER_ESTIMATE_SECONDS = 15  # assumed time for finalizers on remaining content to complete
DEFAULT_POD_GRACE_SECONDS = 30

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"
CONDITION_TYPES = (DISCOVERY_FAILURE, PARSING_FAILURE, CONTENT_FAILURE, CONTENT_REMAINING,
                   FINALIZERS_REMAINING)
# The "all is well" variant of each condition.
_OK = {
    DISCOVERY_FAILURE: ("ResourcesDiscovered", "All resources successfully discovered"),
    PARSING_FAILURE: ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
    CONTENT_FAILURE: ("ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    CONTENT_REMAINING: ("ContentRemoved", "All content successfully removed"),
    FINALIZERS_REMAINING: ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


@dataclass
class ContentReport:
    """What one pass over a namespace found."""

    estimate: int = 0  # seconds until the remaining content is expected to be gone
    discovery_failures: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    remaining: dict[str, int] = field(default_factory=dict)  # group resource -> objects left
    finalizers: dict[str, int] = field(default_factory=dict)  # finalizer -> objects holding it

    def failing_conditions(self) -> dict[str, tuple[str, str]]:
        """type -> (reason, message) for each condition that is True."""
        out: dict[str, tuple[str, str]] = {}
        if self.discovery_failures:
            detail = ", ".join(f"{gv}: {msg}" for gv, msg in sorted(self.discovery_failures.items()))
            out[DISCOVERY_FAILURE] = ("DiscoveryFailed", f"Discovery failed for some groups, "
                                      f"{len(self.discovery_failures)} failing: {detail}")
        if self.errors:
            joined = self.errors[0] if len(self.errors) == 1 else "[" + ", ".join(self.errors) + "]"
            out[CONTENT_FAILURE] = ("ContentDeletionFailed", f"Failed to delete all resource types, "
                                    f"{len(self.errors)} remaining: {joined}")
        if self.remaining:
            parts = [f"{gr} has {n} resource instances" for gr, n in sorted(self.remaining.items())]
            out[CONTENT_REMAINING] = ("SomeResourcesRemain", "Some resources are remaining: " + ", ".join(parts))
        if self.finalizers:
            parts = [f"{f} in {n} resource instances" for f, n in sorted(self.finalizers.items())]
            out[FINALIZERS_REMAINING] = ("SomeFinalizersRemain",
                                         "Some content in the namespace has finalizers remaining: "
                                         + ", ".join(parts))
        return out


def updated_conditions(current: list[Obj], report: ContentReport, now: str) -> tuple[list[Obj], bool]:
    """The namespace's conditions after ``report``; a condition's lastTransitionTime moves only
    when its status, reason or message changes. Returns (conditions, changed)."""
    conditions = [dict(c) for c in current or [] if isinstance(c, dict)]
    failing = report.failing_conditions()
    changed = False
    for ctype in CONDITION_TYPES:
        status = "True" if ctype in failing else "False"
        reason, message = failing.get(ctype) or _OK[ctype]
        old = next((c for c in conditions if c.get("type") == ctype), None)
        if old is None:
            conditions.append({"type": ctype, "status": status, "lastTransitionTime": now,
                               "reason": reason, "message": message})
            changed = True
        elif (old.get("status"), old.get("reason"), old.get("message")) != (status, reason, message):
            old.update(status=status, reason=reason, message=message, lastTransitionTime=now)
            changed = True
    return conditions, changed


class NamespaceContentDeleter:
    def __init__(self, client: ApiClient, clock: Clock):
        self.client = client
        self.clock = clock

    async def delete_all_content(self, namespace: str) -> ContentReport:
        found = await discover(self.client)
        report = ContentReport(discovery_failures=dict(found.failed))
        for api in found.resources:
            if not api.resource.namespaced or not api.supports("delete"):
                continue
            try:
                await self._delete_resource(api, namespace, report)
            except ApiError as e:
                report.errors.append(f"{api.group_resource}: {e.message}")
        return report

    async def _delete_resource(self, api: ApiResource, namespace: str, report: ContentReport) -> None:
        r = api.resource
        done = False
        if api.supports("deletecollection"):
            try:
                await self.client.delete_collection(r, namespace, propagation_policy="Background")
                done = True
            except ApiError as e:
                if e.code not in (404, 405):
                    raise
        if not api.supports("list"):
            return
        if not done:
            for obj in await self._list(api, namespace):
                m = obj.get("metadata") or {}
                if m.get("deletionTimestamp"):
                    continue
                try:
                    await self.client.delete(r, m["name"], namespace, propagation_policy="Background")
                except ApiError as e:
                    if e.code != 404:
                        raise
        left = await self._list(api, namespace)
        if not left:
            return
        estimate = _pods_estimate(left) if r.group == "" and r.resource == "pods" else 0
        finalizers: dict[str, int] = {}
        for obj in left:
            for f in (obj.get("metadata") or {}).get("finalizers") or []:
                finalizers[f] = finalizers.get(f, 0) + 1
        report.remaining[api.group_resource] = report.remaining.get(api.group_resource, 0) + len(left)
        for f, n in finalizers.items():
            report.finalizers[f] = report.finalizers.get(f, 0) + n
        if estimate == 0 and finalizers:
            estimate = FINALIZER_ESTIMATE_SECONDS
        if estimate == 0:
            report.errors.append(f"unexpected items still remain in namespace: {namespace} for gvr: "
                                 f"{r.group}/{r.version}, Resource={r.resource}")
        report.estimate = max(report.estimate, estimate)

    async def _list(self, api: ApiResource, namespace: str) -> list[Obj]:
        try:
            return list((await self.client.list_all(api.resource, namespace)).get("items") or [])
        except ApiError as e:
            if e.code in (404, 405):
                return []
            raise


def _pods_estimate(pods: list[Obj]) -> int:
    """The longest grace period of the pods still running: how long their kubelets may take."""
    estimate = 0
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        grace = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", DEFAULT_POD_GRACE_SECONDS)
        if isinstance(grace, int):
            estimate = max(estimate, grace)
    return estimate


def now_text(clock: Clock) -> str:
    return format_rfc3339(clock.wall())
