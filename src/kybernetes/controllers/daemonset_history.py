"""A DaemonSet's revisions: find or make the current one, number it, prune the old ones.

    current revision  the revision whose data equals the DaemonSet's template patch; if none,
                      a new one "<ds>-<template hash>" labelled controller-revision-hash=<hash>
                      (the label its pods get), numbered one above the old ones; if several
                      (a race), the newest is kept and the others' pods relabelled onto it
    old revisions     the rest; beyond spec.revisionHistoryLimit the oldest ones no pod wears
                      are deleted

A name collision (same hash, different template) bumps status.collisionCount and fails the sync,
so the next one tries the next name (snapshot).
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.selectors import LabelSelector
from kybernetes.client.resource import CONTROLLERREVISIONS, DAEMONSETS, PODS
from kybernetes.controllers import controllerrevision as cr
from kybernetes.controllers import podutil

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def _labels(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def matches_template(ds: Obj, revision: Obj) -> bool:
    return cr.canonical_json(cr.template_patch(ds)) == cr.canonical_json(revision.get("data"))


class DaemonSetHistory:
    def __init__(self, client: Any, history: cr.RevisionHistory, events: Any):
        self.client = client
        self.history = history
        self.events = events

    async def construct(self, ds: Obj, selector: LabelSelector, can_adopt: Any) -> tuple[Obj, list[Obj]]:
        """(current revision, old revisions) of ``ds``."""
        ref = podutil.new_controller_ref(ds, "apps/v1", "DaemonSet")
        revisions = await self.history.claim(ds, ref, selector, can_adopt)
        current: list[Obj] = []
        old: list[Obj] = []
        for revision in revisions:
            if cr.REVISION_HASH_LABEL not in _labels(revision):
                revision = await self._label_with_name(revision)
            (current if matches_template(ds, revision) else old).append(revision)
        number = cr.max_revision(old) + 1
        if not current:
            return await self.snapshot(ds, number), old
        cur = await self._dedup(ds, current)
        if cr.revision_number(cur) < number:
            cur = await self.history.update_number(cur, number)
        return cur, old

    async def _label_with_name(self, revision: Obj) -> Obj:
        meta = revision.get("metadata") or {}
        patch = {"metadata": {"labels": {cr.REVISION_HASH_LABEL: meta["name"]}}}
        return await self.client.patch(CONTROLLERREVISIONS, meta["name"], patch, meta.get("namespace"),
                                       patch_type="merge")

    async def snapshot(self, ds: Obj, number: int) -> Obj:
        meta = ds.get("metadata") or {}
        template = (ds.get("spec") or {}).get("template") or {}
        collision_count = int((ds.get("status") or {}).get("collisionCount") or 0)
        hash_ = cr.hash_template(template, collision_count)
        labels = {**((template.get("metadata") or {}).get("labels") or {}), cr.REVISION_HASH_LABEL: hash_}
        rev_meta: Obj = {"name": cr.revision_name(meta.get("name", ""), hash_), "namespace": meta.get("namespace"),
                         "labels": labels,
                         "ownerReferences": [podutil.new_controller_ref(ds, "apps/v1", "DaemonSet")]}
        if meta.get("annotations"):
            rev_meta["annotations"] = dict(meta["annotations"])
        revision = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": rev_meta,
                    "data": cr.template_patch(ds), "revision": number}
        try:
            return await self.client.create(CONTROLLERREVISIONS, revision, meta.get("namespace"))
        except ApiError as e:
            if e.code != 409:
                raise
            existing = await self.client.get(CONTROLLERREVISIONS, rev_meta["name"], meta.get("namespace"))
            if matches_template(ds, existing):
                return existing
            fresh = await self.client.get(DAEMONSETS, meta["name"], meta.get("namespace"))
            fresh_count = int((fresh.get("status") or {}).get("collisionCount") or 0)
            if fresh_count != collision_count:
                raise RuntimeError(f"found a stale collision count ({collision_count}, expected {fresh_count}) "
                                   f"of DaemonSet {meta['name']!r} while processing; will retry") from e
            fresh.setdefault("status", {})["collisionCount"] = fresh_count + 1
            await self.client.update_status(DAEMONSETS, fresh)
            log.info("hash collision for DaemonSet %s: collisionCount now %d", meta["name"], fresh_count + 1)
            raise

    async def _dedup(self, ds: Obj, current: list[Obj]) -> Obj:
        """Keep the newest of several equal revisions; move pods wearing the others onto it."""
        ordered = cr.sort_revisions(current)
        keep = ordered[-1]
        keep_hash = _labels(keep).get(cr.REVISION_HASH_LABEL, "")
        namespace = (ds.get("metadata") or {}).get("namespace")
        for duplicate in ordered[:-1]:
            dup_hash = _labels(duplicate).get(cr.REVISION_HASH_LABEL)
            if dup_hash and dup_hash != keep_hash:
                pods = (await self.client.list(PODS, namespace,
                                               label_selector=f"{cr.REVISION_HASH_LABEL}={dup_hash}"))["items"]
                for pod in pods:
                    await self.client.patch(PODS, pod["metadata"]["name"],
                                            {"metadata": {"labels": {cr.REVISION_HASH_LABEL: keep_hash}}},
                                            namespace, patch_type="merge")
            await self.history.delete(duplicate)
        return keep

    async def cleanup(self, ds: Obj, old: list[Obj], pods: list[Obj]) -> None:
        limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        to_kill = len(old) - limit
        if to_kill <= 0:
            return
        live = {_labels(p).get(cr.REVISION_HASH_LABEL) for p in pods} - {None, ""}
        for revision in cr.sort_revisions(old):
            if to_kill <= 0:
                break
            if _labels(revision).get(cr.REVISION_HASH_LABEL) in live:
                continue
            await self.history.delete(revision)
            to_kill -= 1
