"""Routing pod events to the controller that owns (or may adopt) the pod.

ReplicaSets, ReplicationControllers and DaemonSets react to their pods the same way, as in
Kubernetes: a pod seen created credits "creations expected" of its controller, a pod seen
deleted (or marked for deletion) credits "deletions expected", a pod whose controller
reference or labels changed wakes the old owner and whoever may adopt it now, and a pod that
turned ready wakes its owner again after minReadySeconds so availability is counted.

A controller mixes in ``PodOwnerEvents`` and provides ``kind``, ``owners`` (its informer),
``selector_of(owner)``, ``expectations`` (podutil.Expectations), ``queue``, ``enqueue`` and
``requeue_after`` (the last three come with controllers.base.Controller).
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client.indexer import BY_NAMESPACE, object_key
from kybernetes.controllers import podutil

Obj = dict[str, Any]


class PodOwnerEvents:
    kind: str
    owners: Any
    expectations: podutil.Expectations
    queue: Any

    # and selector_of(owner), enqueue(obj), requeue_after(key, seconds) from the controller

    def watch_pods(self, pods: Any) -> None:
        pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)

    def _owner_deleted(self, owner: Obj) -> None:
        key = object_key(owner)
        self.expectations.forget(key)
        self.queue.add(key)

    def _owner_for(self, pod: Obj, ref: Obj | None = None) -> Obj | None:
        """The controller named by the pod's controller ref, if it is one of ours and still the
        same object (same uid)."""
        ref = ref if ref is not None else podutil.controller_of(pod)
        if ref is None or ref.get("kind") != self.kind:
            return None
        owner = self.owners.get_by_name((pod.get("metadata") or {}).get("namespace"), ref.get("name", ""))
        if owner is None or (owner.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return owner

    def _owners_selecting(self, pod: Obj) -> list[Obj]:
        meta = pod.get("metadata") or {}
        found = []
        for owner in self.owners.indexer.by_index(BY_NAMESPACE, meta.get("namespace", "")):
            try:
                selector = self.selector_of(owner)
            except ApiError:
                continue
            if not selector.empty and selector.matches(meta.get("labels")):
                found.append(owner)
        return found

    def _pod_added(self, pod: Obj) -> None:
        if podutil.is_terminating(pod):
            # Already being deleted (e.g. seen for the first time after a restart): a deletion.
            self._pod_deleted(pod)
            return
        if podutil.controller_of(pod) is not None:
            owner = self._owner_for(pod)
            if owner is not None:
                key = object_key(owner)
                self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        for owner in self._owners_selecting(pod):  # an orphan: whoever selects it may adopt it
            self.enqueue(owner)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        old_meta, cur_meta = old.get("metadata") or {}, cur.get("metadata") or {}
        if old_meta.get("resourceVersion") == cur_meta.get("resourceVersion"):
            return  # a resync: nothing changed
        labels_changed = old_meta.get("labels") != cur_meta.get("labels")
        if podutil.is_terminating(cur):
            self._pod_deleted(cur)
            if labels_changed:
                self._pod_deleted(old)
            return
        old_ref, cur_ref = podutil.controller_of(old), podutil.controller_of(cur)
        ref_changed = (old_ref or {}).get("uid") != (cur_ref or {}).get("uid")
        if ref_changed and old_ref is not None:
            owner = self._owner_for(old, old_ref)
            if owner is not None:
                self.enqueue(owner)
        if cur_ref is not None:
            owner = self._owner_for(cur, cur_ref)
            if owner is None:
                return
            self.enqueue(owner)
            min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not podutil.is_pod_ready(old) and podutil.is_pod_ready(cur):
                # Ready now, available in minReadySeconds: look again then (plus a second, as
                # Kubernetes does, so the check lands after the boundary).
                self.requeue_after(object_key(owner), min_ready + 1)
            return
        if labels_changed or ref_changed:
            for owner in self._owners_selecting(cur):
                self.enqueue(owner)

    def _pod_deleted(self, pod: Obj) -> None:
        owner = self._owner_for(pod)
        if owner is None:
            return
        key = object_key(owner)
        self.expectations.deletion_observed(key, object_key(pod))
        self.queue.add(key)
