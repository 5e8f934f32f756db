"""Cluster events: informer callbacks that keep the cache and queue true, and wake pods up.

Which pods a change can help (kube-scheduler's cluster events, without queueing hints):

    node added                            every unschedulable pod
    node labels/taints/cordon/allocatable every unschedulable pod   (heartbeats alone: none)
    bound pod added or relabelled         pods rejected by InterPodAffinity / PodTopologySpread
    bound pod deleted                     every unschedulable pod   (space, ports, anti-affinity)

Pending pods follow their own changes: an update to spec or metadata sends an unschedulable pod
back to be tried again; a status-only update (our own PodScheduled condition, say) does not.
While a pod's binding is in flight (it is *assumed*) its updates are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kybernetes.scheduler.scheduler import Scheduler

Obj = dict[str, Any]
AFFINITY_PLUGINS = frozenset({"InterPodAffinity", "PodTopologySpread"})
_IGNORED_META = ("resourceVersion", "generation", "managedFields")


def _key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def _node_name(pod: Obj) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


def _labels(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def pod_changed(old: Obj, new: Obj) -> bool:
    """Anything but status (and bookkeeping metadata) changed."""
    if old.get("spec") != new.get("spec"):
        return True
    om, nm = dict(old.get("metadata") or {}), dict(new.get("metadata") or {})
    for field in _IGNORED_META:
        om.pop(field, None)
        nm.pop(field, None)
    return om != nm


def node_changed(old: Obj, new: Obj) -> bool:
    """A change that can make a pod fit (not a heartbeat)."""
    os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
    return (_labels(old) != _labels(new) or os_.get("taints") != ns_.get("taints")
            or bool(os_.get("unschedulable")) != bool(ns_.get("unschedulable"))
            or (old.get("status") or {}).get("allocatable") != (new.get("status") or {}).get("allocatable"))


class ClusterEvents:
    def __init__(self, scheduler: Scheduler):
        self.s = scheduler

    def register(self) -> None:
        s = self.s
        s.node_informer.add_event_handler(self.node_added, self.node_updated, self.node_deleted)
        s.pod_informer.add_event_handler(self.pod_added, self.pod_updated, self.pod_deleted)

    # -- nodes -----------------------------------------------------------------------------------

    def node_added(self, node: Obj) -> None:
        self.s.cache.add_node(node)
        self.s.queue.move_all_to_active_or_backoff("NodeAdd")

    def node_updated(self, old: Obj, new: Obj) -> None:
        self.s.cache.update_node(new)
        if node_changed(old, new):
            self.s.queue.move_all_to_active_or_backoff("NodeUpdate")

    def node_deleted(self, node: Obj) -> None:
        self.s.cache.remove_node((node.get("metadata") or {}).get("name") or "")

    # -- pods ------------------------------------------------------------------------------------

    def pod_added(self, pod: Obj) -> None:
        s = self.s
        if _node_name(pod):
            s.queue.delete(_key(pod))
            s.cache.add_pod(s.pod_info(pod))
            s.queue.move_all_to_active_or_backoff("AssignedPodAdd", AFFINITY_PLUGINS)
        elif s.responsible_for(pod) and not (pod.get("metadata") or {}).get("deletionTimestamp"):
            s.queue.add(s.pod_info(pod))

    def pod_updated(self, old: Obj, new: Obj) -> None:
        s = self.s
        key = _key(new)
        if _node_name(new):
            was_bound = bool(_node_name(old))
            s.queue.delete(key)
            s.cache.update_pod(s.pod_info(new))
            if not was_bound or _labels(old) != _labels(new):
                s.queue.move_all_to_active_or_backoff("AssignedPodUpdate", AFFINITY_PLUGINS)
            return
        if s.cache.is_assumed(key):
            return  # its binding is in flight
        if not s.responsible_for(new) or (new.get("metadata") or {}).get("deletionTimestamp"):
            s.queue.delete(key)
            return
        info = s.pod_info(new)
        if key not in s.queue or pod_changed(old, new):
            s.queue.add(info)
        else:
            s.queue.update_unchanged(info)

    def pod_deleted(self, pod: Obj) -> None:
        s = self.s
        key = _key(pod)
        if _node_name(pod):
            s.cache.remove_pod(key)
            s.queue.move_all_to_active_or_backoff("AssignedPodDelete")
        else:
            s.queue.delete(key)
            s.cache.forget_pod(key)  # deleted while its binding was in flight
