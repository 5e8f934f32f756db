"""The DaemonSet controller: one pod on every eligible node.

    DaemonSet informer ─┐
    Pod informer ───────┼─► queue "ns/name" ─► reconcile:
    Node informer ──────┘  (a node added or changed wakes every DaemonSet)
        1. read the DaemonSet (gone: forget expectations; being deleted: leave it to the GC)
        2. current and old ControllerRevisions (daemonset_history); the current one's hash is
           the controller-revision-hash label new pods get
        3. claim pods and group them by target node (spec.nodeName, or the metadata.name
           node-affinity term of a pod the scheduler has not bound yet)
        4. unless earlier creations/deletions are still unseen (expectations):
           manage: per node, create the missing pod / delete failed, duplicate or misplaced ones
           (daemonset_update.plan_node; daemonset_nodes decides eligibility); then, once
           settled, one RollingUpdate step (plan_rolling); prune old revisions
        5. write the status (daemonset_status); observedGeneration only after a full sync

New pods carry the daemon tolerations and a required node affinity on metadata.name, so the
scheduler binds each to its node. Creations go in slow-start batches; failed pods are deleted
with a per-node backoff (1 s doubling to 15 min) so a kubelet that keeps rejecting a pod is not
hammered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy
from kybernetes.api.selectors import label_selector_from_spec
from kybernetes.client.indexer import BY_NAMESPACE, object_key, split_key
from kybernetes.client.resource import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from kybernetes.controllers import controllerrevision as cr
from kybernetes.controllers import daemonset_nodes as dn
from kybernetes.controllers import daemonset_update as du
from kybernetes.controllers import podutil
from kybernetes.controllers.base import Controller, ControllerContext
from kybernetes.controllers.daemonset_history import DaemonSetHistory
from kybernetes.controllers.daemonset_status import calculate_status, store_status
from kybernetes.controllers.pod_owner_events import PodOwnerEvents

log = logging.getLogger(__name__)

Obj = dict[str, Any]

BURST_REPLICAS = 250
FAILED_BACKOFF_INITIAL, FAILED_BACKOFF_MAX = 1.0, 15 * 60.0


class _Expectations(podutil.Expectations):
    def expect(self, key: str, creations: int, deletion_keys: list[str]) -> None:
        self.expect_creations(key, creations)
        self._items[key].delete_keys = set(deletion_keys)


class DaemonSetController(PodOwnerEvents, Controller):
    name = "daemonset-controller"
    kind = "DaemonSet"
    resource = DAEMONSETS
    burst_replicas = BURST_REPLICAS

    def __init__(self, ctx: ControllerContext):
        super().__init__(ctx)
        self.expectations = _Expectations(self.clock)
        self.daemonsets = self.owners = ctx.informer(DAEMONSETS)
        self.pods = ctx.informer(PODS)
        self.nodes = ctx.informer(NODES)
        self.revisions = ctx.informer(CONTROLLERREVISIONS)
        self.history = DaemonSetHistory(self.client, cr.RevisionHistory(self.client, self.revisions), self.events)
        self._failed_backoff: dict[tuple[str, str], tuple[float, float]] = {}  # -> (delay, last update)
        self.daemonsets.add_event_handler(on_add=self.enqueue, on_update=lambda _o, n: self.enqueue(n),
                                          on_delete=self._owner_deleted)
        self.watch_pods(self.pods)
        self.nodes.add_event_handler(on_add=lambda _n: self._enqueue_all(),
                                     on_update=self._node_updated, on_delete=lambda _n: self._enqueue_all())

    def selector_of(self, ds: Obj):
        return label_selector_from_spec((ds.get("spec") or {}).get("selector"))

    # -- event handlers --------------------------------------------------------------------------

    def _enqueue_all(self) -> None:
        for ds in self.daemonsets.list():
            self.enqueue(ds)

    def _node_updated(self, old: Obj, cur: Obj) -> None:
        if _node_view(old) != _node_view(cur):
            self._enqueue_all()

    # -- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        namespace, _name = split_key(key)
        ds = self.daemonsets.get(key)
        if ds is None:
            self.expectations.forget(key)
            return
        spec = ds.get("spec") or {}
        try:
            selector = label_selector_from_spec(spec.get("selector"))
        except ApiError as e:
            log.warning("DaemonSet %s has an invalid selector: %s", key, e.message)
            return
        if selector.empty:
            await self.events.warning(ds, "SelectingAll",
                                      "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        if podutil.is_terminating(ds):
            return
        can_adopt = podutil.recheck_owner(self.client, DAEMONSETS, ds)
        current, old = await self.history.construct(ds, selector, can_adopt)
        hash_ = ((current.get("metadata") or {}).get("labels") or {}).get(cr.REVISION_HASH_LABEL, "")
        candidates = self.pods.indexer.by_index(BY_NAMESPACE, namespace)
        ref = podutil.new_controller_ref(ds, "apps/v1", "DaemonSet")
        pods = await podutil.claim_objects(self.client, PODS, ds, ref, selector, candidates, can_adopt)
        nodes = self.nodes.list()
        if not self.expectations.satisfied(key):
            await self._store_status(ds, nodes, pods, hash_, observe=False)
            return
        error: Exception | None = None
        try:
            await self._sync(key, ds, nodes, pods, hash_, old)
        except Exception as e:  # noqa: BLE001 - the status is still written, then we retry
            error = e
        await self._store_status(ds, nodes, pods, hash_, observe=True)
        if error is not None:
            raise error

    async def _store_status(self, ds: Obj, nodes: list[Obj], pods: list[Obj], hash_: str, observe: bool) -> None:
        counts = calculate_status(ds, nodes, _by_node(_live(pods)), hash_, self.clock.wall(),
                                  lambda node: dn.node_should_run(node, ds)[0])
        await store_status(self.client, ds, counts, observe)
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready > 0 and counts["numberReady"] != counts["numberAvailable"]:
            self.requeue_after(object_key(ds), min_ready)

    async def _sync(self, key: str, ds: Obj, nodes: list[Obj], pods: list[Obj], hash_: str, old: list[Obj]) -> None:
        await self._manage(key, ds, nodes, pods, hash_)
        strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")
        if self.expectations.satisfied(key) and strategy == "RollingUpdate":
            by_name = {(n.get("metadata") or {}).get("name", ""): n for n in nodes}
            to_delete, to_create = du.plan_rolling(ds, _by_node(_live(pods)), by_name, hash_, self.clock.wall(),
                                                   lambda node: dn.node_should_run(node, ds)[0])
            await self._sync_nodes(key, ds, to_delete, to_create, hash_)
        await self.history.cleanup(ds, old, pods)

    async def _manage(self, key: str, ds: Obj, nodes: list[Obj], pods: list[Obj], hash_: str) -> None:
        node_to_pods = _by_node(_live(pods))
        now = self.clock.wall()
        to_create: list[str] = []
        to_delete: list[Obj] = []
        known = set()
        for node in nodes:
            name = (node.get("metadata") or {}).get("name", "")
            known.add(name)
            should_run, should_keep = dn.node_should_run(node, ds)
            create, delete = du.plan_node(ds, should_run, should_keep, node_to_pods.get(name, []), hash_, now,
                                          lambda pod, n=name: self._may_delete_failed(key, ds, n, pod))
            if create:
                to_create.append(name)
            to_delete.extend(delete)
        for name, on_node in node_to_pods.items():
            if name not in known:  # pods for a node that is gone and never got bound
                to_delete.extend(p for p in on_node if not (p.get("spec") or {}).get("nodeName")
                                 and not podutil.is_terminating(p))
        for pod in to_delete:
            if (pod.get("status") or {}).get("phase") == "Failed":
                meta = pod.get("metadata") or {}
                await self.events.warning(ds, "FailedDaemonPod",
                                          f"Found failed daemon pod {meta.get('namespace')}/{meta.get('name')} on "
                                          f"node {dn.target_node(pod)}, will try to kill it")
        await self._sync_nodes(key, ds, to_delete, to_create, hash_)

    def _may_delete_failed(self, key: str, ds: Obj, node: str, pod: Obj) -> bool:
        now = self.clock.now()
        entry = self._failed_backoff.get((key, node))
        if entry is not None and now - entry[1] < entry[0]:
            self.requeue_after(key, entry[0] - (now - entry[1]))
            return False
        if entry is None or now - entry[1] > 2 * FAILED_BACKOFF_MAX:
            delay = FAILED_BACKOFF_INITIAL
        else:
            delay = min(entry[0] * 2, FAILED_BACKOFF_MAX)
        self._failed_backoff[(key, node)] = (delay, now)
        return True

    async def _sync_nodes(self, key: str, ds: Obj, to_delete: list[Obj], to_create: list[str], hash_: str) -> None:
        to_create = to_create[:self.burst_replicas]
        to_delete = to_delete[:self.burst_replicas]
        if not to_create and not to_delete:
            return
        self.expectations.expect(key, len(to_create), [object_key(p) for p in to_delete])
        template = _pod_template(ds, hash_)
        ref = podutil.new_controller_ref(ds, "apps/v1", "DaemonSet")
        error: Exception | None = None
        done = 0
        for size in podutil.slow_start_batches(len(to_create)):
            batch = to_create[done:done + size]
            done += size
            results = await asyncio.gather(*(self._create(key, ds, template, ref, n) for n in batch),
                                           return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                error = failures[0] if isinstance(failures[0], Exception) else RuntimeError(str(failures[0]))
                break
        if len(to_create) - done > 0:
            self.expectations.lower_creations(key, len(to_create) - done)
        results = await asyncio.gather(*(self._delete(key, ds, p) for p in to_delete), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception) and error is None:
                error = result
        if error is not None:
            raise error

    async def _create(self, key: str, ds: Obj, template: Obj, ref: Obj, node_name: str) -> None:
        pod_template = deep_copy(template)
        spec = pod_template.setdefault("spec", {})
        spec["affinity"] = dn.pin_to_node(spec.get("affinity"), node_name)
        pod = podutil.pod_from_template(pod_template, ds, ref)
        try:
            created = await self.client.create(PODS, pod, (ds.get("metadata") or {}).get("namespace"))
        except ApiError as e:
            self.expectations.lower_creations(key)
            if e.code == 403 and "being terminated" in (e.message or ""):
                return
            await self.events.warning(ds, "FailedCreate", f"Error creating: {e.message}")
            raise
        await self.events.normal(ds, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete(self, key: str, ds: Obj, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        try:
            await self.client.delete(PODS, meta["name"], meta.get("namespace"))
        except ApiError as e:
            self.expectations.deletion_observed(key, object_key(pod))
            if e.code == 404:
                return
            await self.events.warning(ds, "FailedDelete", f"Error deleting: {e.message}")
            raise
        await self.events.normal(ds, "SuccessfulDelete", f"Deleted pod: {meta['name']}")


def _pod_template(ds: Obj, hash_: str) -> Obj:
    """The DaemonSet's template with the daemon tolerations and its revision labels (CreatePodTemplate)."""
    template = deep_copy((ds.get("spec") or {}).get("template") or {})
    dn.add_daemon_tolerations(template.setdefault("spec", {}))
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    generation = du.template_generation(ds)
    if generation is not None:
        labels[du.TEMPLATE_GENERATION_LABEL] = generation
    if hash_:
        labels[cr.REVISION_HASH_LABEL] = hash_
    return template


def _live(pods: list[Obj]) -> list[Obj]:
    """Pods minus finished ones already being deleted (getNodesToDaemonPods without them)."""
    return [p for p in pods if not (podutil.is_terminating(p)
                                    and (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"))]


def _by_node(pods: list[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = {}
    for pod in pods:
        node = dn.target_node(pod)
        if node:
            out.setdefault(node, []).append(pod)
    return out


def _node_view(node: Obj) -> tuple[Any, ...]:
    """What about a node can change where daemons run (heartbeats and versions cannot)."""
    conditions = [(c.get("type"), c.get("status")) for c in (node.get("status") or {}).get("conditions") or []
                  if isinstance(c, dict)]
    spec = node.get("spec") or {}
    return ((node.get("metadata") or {}).get("labels"), spec.get("taints"), spec.get("unschedulable"), conditions)
