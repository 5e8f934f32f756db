"""One sync of one Deployment: the ReplicaSet bookkeeping every strategy shares.

A ``Sync`` holds a working copy of the Deployment and the ReplicaSets it controls and does, with
the client, what Kubernetes' deployment/sync.go does:

    new_and_old(create)  find the ReplicaSet whose template is the Deployment's ("new"), bump
                         its revision past the old ones (a rollback reuses an old ReplicaSet this
                         way), or create it as <name>-<pod-template-hash> with 0 or more replicas
    scale_rs             set a ReplicaSet's replicas (+ desired/max-replicas annotations) and
                         record "Scaled up replica set web-7d4b9 from 0 to 3"
    scale                a change of spec.replicas: one active ReplicaSet takes it all; during a
                         rollout, every active one gets its proportion (largest first)
    cleanup              delete old, empty ReplicaSets beyond revisionHistoryLimit
    sync_status / sync_rollout_status   status, Available and Progressing conditions

The working Deployment copy carries the latest resourceVersion after each status write, so the
writes of one sync do not conflict with each other.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import deep_copy
from kybernetes.client.resource import DEPLOYMENTS, REPLICASETS
from kybernetes.controllers import deployment_util as du
from kybernetes.controllers.podutil import new_controller_ref

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class Sync:
    def __init__(self, controller: Any, deployment: Obj, rss: list[Obj]):
        self.client = controller.client
        self.events = controller.events
        self.clock = controller.clock
        self.requeue_after = controller.requeue_after
        self.d = deep_copy(deployment)
        self.rss = list(rss)
        meta = self.d["metadata"]
        self.key = f"{meta.get('namespace')}/{meta.get('name')}"

    # -- status writes ---------------------------------------------------------------------------

    async def write_status(self, status: Obj) -> None:
        self.d["status"] = status
        written = await self.client.update_status(DEPLOYMENTS, self.d)
        self.d["metadata"]["resourceVersion"] = written["metadata"]["resourceVersion"]

    def _set_revision(self, revision: str) -> bool:
        ann = self.d["metadata"].setdefault("annotations", {})
        if ann.get(du.REVISION) == revision:
            return False
        ann[du.REVISION] = revision  # written with the status (the apiserver keeps metadata there)
        return True

    # -- finding and creating the new ReplicaSet ---------------------------------------------------

    def old_rss(self, new_rs: Obj | None) -> list[Obj]:
        new_uid = (new_rs or {}).get("metadata", {}).get("uid")
        return [rs for rs in self.rss if rs["metadata"].get("uid") != new_uid]

    async def new_and_old(self, create: bool) -> tuple[Obj | None, list[Obj]]:
        new_rs = du.find_new_rs(self.d, self.rss)
        old = self.old_rss(new_rs)
        new_revision = str(du.max_revision(old) + 1)
        if new_rs is not None:
            new_rs = await self._sync_existing_new_rs(new_rs, new_revision)
        elif create:
            new_rs = await self._create_new_rs(old, new_revision)
        return new_rs, old

    async def _sync_existing_new_rs(self, rs: Obj, new_revision: str) -> Obj:
        copy = deep_copy(rs)
        changed = du.set_new_rs_annotations(self.d, copy, new_revision, exists=True)
        min_ready = (self.d["spec"].get("minReadySeconds") or 0)
        if changed or (copy["spec"].get("minReadySeconds") or 0) != min_ready:
            copy["spec"]["minReadySeconds"] = min_ready
            return self._replace(await self.client.update(REPLICASETS, copy))
        needs_update = self._set_revision(du.annotations(copy).get(du.REVISION, ""))
        status = deep_copy(self.d.get("status") or {})
        if du.has_progress_deadline(self.d) and du.get_condition(status, du.PROGRESSING) is None:
            du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.FOUND_NEW_RS,
                                                      f'Found new replica set "{copy["metadata"]["name"]}"',
                                                      self.clock.wall()))
            needs_update = True
        if needs_update:
            await self._write_revision_and_status(status)
        return copy

    async def _write_revision_and_status(self, status: Obj) -> None:
        # The revision annotation lives in metadata: update the object, then its status.
        ann = self.d["metadata"].get("annotations") or {}
        fresh = await self.client.patch(DEPLOYMENTS, self.d["metadata"]["name"],
                                        {"metadata": {"annotations": {du.REVISION: ann.get(du.REVISION)}}},
                                        self.d["metadata"]["namespace"])
        # Take the whole fresh metadata: the status write carries annotations, and a stale copy
        # would undo a user's concurrent `kubectl annotate`.
        self.d["metadata"] = fresh["metadata"]
        await self.write_status(status)

    async def _create_new_rs(self, old: list[Obj], new_revision: str) -> Obj | None:
        d = self.d
        meta, spec = d["metadata"], d["spec"]
        collision = (d.get("status") or {}).get("collisionCount")
        template = deep_copy(spec.get("template") or {})
        hash_value = du.template_hash(template, collision)
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), du.HASH_LABEL: hash_value}
        selector = deep_copy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), du.HASH_LABEL: hash_value}
        rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{meta['name']}-{hash_value}", "namespace": meta["namespace"],
                         "labels": dict(tmeta["labels"]),
                         "ownerReferences": [new_controller_ref(d, "apps/v1", "Deployment")]},
            "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds") or 0, "selector": selector,
                     "template": template},
        }
        rs["spec"]["replicas"] = self.new_rs_replicas([*old, rs], rs)
        du.set_new_rs_annotations(d, rs, new_revision, exists=False)
        status = deep_copy(d.get("status") or {})
        already_exists = False
        try:
            created = await self.client.create(REPLICASETS, rs, meta["namespace"])
        except ApiError as e:
            if e.code == 409 and e.reason == "AlreadyExists":
                existing = await self.client.get_or_none(REPLICASETS, rs["metadata"]["name"], meta["namespace"])
                ref = (existing or {}).get("metadata", {}).get("ownerReferences") or []
                mine = any(r.get("controller") and r.get("uid") == meta["uid"] for r in ref)
                if existing is not None and mine and du.equal_ignore_hash(existing["spec"].get("template"),
                                                                            spec.get("template")):
                    created, already_exists = existing, True
                else:
                    # A different template hashed to the same name: count the collision so the
                    # next hash differs, and try again.
                    status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                    await self.write_status(status)
                    raise
            else:
                message = f'Failed to create new replica set "{rs["metadata"]["name"]}": {e.message}'
                if du.has_progress_deadline(d):
                    du.set_condition(status, du.new_condition(du.PROGRESSING, "False", du.FAILED_RS_CREATE,
                                                              message, self.clock.wall()))
                    await self.write_status(status)
                await self.events.warning(d, du.FAILED_RS_CREATE, message)
                raise
        replicas = du.replicas_of(created)
        if not already_exists and replicas > 0:
            await self.events.normal(d, "ScalingReplicaSet",
                                     f"Scaled up replica set {created['metadata']['name']} from 0 to {replicas}")
        needs_update = self._set_revision(new_revision)
        if not already_exists and du.has_progress_deadline(d):
            du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_CREATED,
                                                      f'Created new replica set "{created["metadata"]["name"]}"',
                                                      self.clock.wall()))
            needs_update = True
        self.rss.append(created)
        if needs_update:
            await self._write_revision_and_status(status)
        return created

    def new_rs_replicas(self, all_rss: list[Obj], new_rs: Obj) -> int:
        """How many replicas the new ReplicaSet may have now (NewRSNewReplicas)."""
        desired = du.replicas_of(self.d)
        if not du.is_rolling(self.d):
            return desired
        current_new = du.replicas_of(new_rs)
        max_total = desired + du.max_surge(self.d)
        current = du.sum_spec(all_rss)
        if current >= max_total:
            return current_new
        return current_new + min(max_total - current, desired - current_new)

    # -- scaling ---------------------------------------------------------------------------------

    def _replace(self, rs: Obj) -> Obj:
        uid = rs["metadata"].get("uid")
        self.rss = [rs if r["metadata"].get("uid") == uid else r for r in self.rss]
        return rs

    async def scale_rs(self, rs: Obj, new_scale: int, operation: str | None = None) -> tuple[bool, Obj]:
        """Set ``rs`` to ``new_scale`` replicas; (whether the size changed, the ReplicaSet now)."""
        old_scale = du.replicas_of(rs)
        if operation is None:
            if old_scale == new_scale:
                return False, rs
            operation = "up" if old_scale < new_scale else "down"
        desired = du.replicas_of(self.d)
        maximum = desired + du.max_surge(self.d)
        size_changes = old_scale != new_scale
        if not size_changes and not du.replicas_annotations_need_update(rs, desired, maximum):
            return False, rs
        copy = deep_copy(rs)
        copy["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(copy, desired, maximum)
        updated = self._replace(await self.client.update(REPLICASETS, copy))
        if size_changes:
            await self.events.normal(self.d, "ScalingReplicaSet",
                                     f"Scaled {operation} replica set {rs['metadata']['name']} "
                                     f"from {old_scale} to {new_scale}")
        return size_changes, updated

    def is_scaling_event(self, new_rs: Obj | None, old: list[Obj]) -> bool:
        desired = du.replicas_of(self.d)
        for rs in du.active([*old, new_rs]):
            value = du.annotations(rs).get(du.DESIRED_REPLICAS)
            if value is not None and value.isdigit() and int(value) != desired:
                return True
        return False

    async def scale(self, new_rs: Obj | None, old: list[Obj]) -> None:
        desired = du.replicas_of(self.d)
        target = _active_or_latest(new_rs, old)
        if target is not None:
            if du.replicas_of(target) != desired:
                await self.scale_rs(target, desired)
            return
        if _saturated(self.d, new_rs):
            for rs in du.active(old):
                await self.scale_rs(rs, 0)
            return
        if not du.is_rolling(self.d):
            return
        all_rss = du.active([*old, new_rs])
        allowed = desired + du.max_surge(self.d) if desired > 0 else 0
        to_add = allowed - du.sum_spec(all_rss)
        operation = "up" if to_add > 0 else "down"
        if to_add != 0:
            all_rss = du.by_size(all_rss, newer_first=to_add > 0)
        sizes: dict[str, int] = {}
        added = 0
        for rs in all_rss:
            if to_add != 0:
                share = _proportion(rs, self.d, to_add, added)
                sizes[rs["metadata"]["name"]] = du.replicas_of(rs) + share
                added += share
            else:
                sizes[rs["metadata"]["name"]] = du.replicas_of(rs)
        for i, rs in enumerate(all_rss):
            name = rs["metadata"]["name"]
            if i == 0 and to_add != 0:  # leftovers go to the largest
                sizes[name] = max(sizes[name] + to_add - added, 0)
            await self.scale_rs(rs, sizes[name], operation)

    # -- history ---------------------------------------------------------------------------------

    async def cleanup(self, old: list[Obj]) -> None:
        """Delete the oldest empty ReplicaSets beyond spec.revisionHistoryLimit."""
        if not du.has_revision_history_limit(self.d):
            return
        alive = [rs for rs in old if not rs["metadata"].get("deletionTimestamp")]
        surplus = len(alive) - int(self.d["spec"]["revisionHistoryLimit"])
        for rs in du.by_revision(alive)[:max(surplus, 0)]:
            meta = rs["metadata"]
            if (du.status_int(rs, "replicas") != 0 or du.replicas_of(rs) != 0
                    or int(meta.get("generation") or 0) > du.status_int(rs, "observedGeneration")):
                continue
            try:
                await self.client.delete(REPLICASETS, meta["name"], meta["namespace"])
            except ApiError as e:
                if e.code != 404:
                    raise

    # -- status ----------------------------------------------------------------------------------

    def calculate_status(self, all_rss: list[Obj | None], new_rs: Obj | None) -> Obj:
        d = self.d
        available = du.sum_status(all_rss, "availableReplicas")
        total = du.sum_spec(all_rss)
        old = d.get("status") or {}
        status: Obj = {
            "observedGeneration": d["metadata"].get("generation"),
            "replicas": du.sum_status(all_rss, "replicas"),
            "updatedReplicas": du.sum_status([new_rs], "replicas"),
            "readyReplicas": du.sum_status(all_rss, "readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": max(total - available, 0),
        }
        status = {k: v for k, v in status.items() if v}
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        if old.get("conditions"):
            status["conditions"] = deep_copy(old["conditions"])
        now = self.clock.wall()
        if available >= du.replicas_of(d) - du.max_unavailable(d):
            du.set_condition(status, du.new_condition(du.AVAILABLE, "True", du.MIN_AVAILABLE,
                                                      "Deployment has minimum availability.", now))
        else:
            du.set_condition(status, du.new_condition(du.AVAILABLE, "False", du.MIN_UNAVAILABLE,
                                                      "Deployment does not have minimum availability.", now))
        return status

    async def sync_status(self, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
        status = self.calculate_status(all_rss, new_rs)
        if status != (self.d.get("status") or {}):
            await self.write_status(status)

    async def sync_rollout_status(self, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
        d = self.d
        status = self.calculate_status(all_rss, new_rs)
        if not du.has_progress_deadline(d):
            du.remove_condition(status, du.PROGRESSING)
        current = du.get_condition(d.get("status") or {}, du.PROGRESSING)
        complete = (status.get("replicas", 0) == status.get("updatedReplicas", 0) and current is not None
                    and current.get("reason") == du.NEW_RS_AVAILABLE)
        now = self.clock.wall()
        subject = (f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs is not None
                   else f'Deployment "{d["metadata"]["name"]}"')
        if du.has_progress_deadline(d) and not complete:
            if du.deployment_complete(d, status):
                du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE,
                                                          f"{subject} has successfully progressed.", now))
            elif du.deployment_progressing(d, status):
                cond = du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED, f"{subject} is progressing.", now)
                if current is not None:
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime", cond["lastTransitionTime"])
                    du.remove_condition(status, du.PROGRESSING)
                du.set_condition(status, cond)
            elif du.deployment_timed_out(d, status, now):
                du.set_condition(status, du.new_condition(du.PROGRESSING, "False", du.TIMED_OUT,
                                                          f"{subject} has timed out progressing.", now))
        failure = _replica_failure(all_rss, new_rs)
        if failure is not None:
            du.set_condition(status, failure)
        else:
            du.remove_condition(status, du.REPLICA_FAILURE)
        if status == (d.get("status") or {}):
            self._requeue_stuck(status)
            return
        await self.write_status(status)

    def _requeue_stuck(self, status: Obj) -> None:
        """No progress to report: look again when the progress deadline would pass."""
        if du.deployment_complete(self.d, status):
            return
        deadline = du.progress_deadline_at(self.d, self.d.get("status") or {})
        if deadline is None:
            return
        after = (deadline - self.clock.wall()).total_seconds()
        self.requeue_after(self.key, after + 1 if after >= 1 else 0.5)


def _active_or_latest(new_rs: Obj | None, old: list[Obj]) -> Obj | None:
    if new_rs is None and not old:
        return None
    newest_first = du.by_creation(old, newest_first=True)
    candidates = du.active([*newest_first, new_rs])
    if not candidates:
        return new_rs if new_rs is not None else newest_first[0]
    return candidates[0] if len(candidates) == 1 else None


def _saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    value = du.annotations(rs).get(du.DESIRED_REPLICAS, "")
    desired = du.replicas_of(d)
    return (value.isdigit() and int(value) == desired and du.replicas_of(rs) == desired
            and du.status_int(rs, "availableReplicas") == desired)


def _proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    if du.replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    allowed = to_add - added
    fraction = _fraction(rs, d)
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _fraction(rs: Obj, d: Obj) -> int:
    size = du.replicas_of(rs)
    if du.replicas_of(d) == 0:
        return -size
    target = du.replicas_of(d) + du.max_surge(d)
    value = du.annotations(rs).get(du.MAX_REPLICAS, "")
    annotated = int(value) if value.isdigit() else du.status_int(d, "replicas")
    if annotated == 0:
        return 0
    exact = size * target / annotated
    return int(exact + 0.5) - size  # round half away from zero (sizes are positive)


def _replica_failure(all_rss: list[Obj | None], new_rs: Obj | None) -> Obj | None:
    ordered = ([new_rs] if new_rs is not None else []) + [rs for rs in all_rss if rs is not None and rs is not new_rs]
    for rs in ordered:
        for cond in (rs.get("status") or {}).get("conditions") or []:
            if cond.get("type") == du.REPLICA_FAILURE:
                return {"type": du.REPLICA_FAILURE, "status": cond.get("status"),
                        "lastUpdateTime": cond.get("lastTransitionTime"),
                        "lastTransitionTime": cond.get("lastTransitionTime"),
                        "reason": cond.get("reason"), "message": cond.get("message")}
    return None
