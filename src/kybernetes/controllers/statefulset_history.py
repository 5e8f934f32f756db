"""A StatefulSet's revisions: which one is current, which one pods update to, and pruning.

    update revision   the set's template now: the newest revision if it already equals it; an
                      older equal revision renumbered to the top (a rollback, e.g. `kubectl
                      rollout undo`); otherwise a new revision "<set>-<hash>" numbered next
    current revision  status.currentRevision if that revision still exists, else the update
                      revision (a new set starts with both the same)
    history limit     revisions that are neither current, update, nor worn by a pod are
                      deleted, oldest first, until spec.revisionHistoryLimit (default 10) remain
"""

from __future__ import annotations

from typing import Any

from kybernetes.controllers import controllerrevision as cr
from kybernetes.controllers import podutil
from kybernetes.controllers.statefulset_pods import pod_revision

Obj = dict[str, Any]


def set_revision(sts: Obj, number: int, collision_count: int) -> Obj:
    """The revision object the set's current template makes (newRevision), annotations included
    (kubectl rollout history shows their kubernetes.io/change-cause)."""
    template = (sts.get("spec") or {}).get("template") or {}
    ref = podutil.new_controller_ref(sts, "apps/v1", "StatefulSet")
    revision = cr.new_revision(sts, ref, (template.get("metadata") or {}).get("labels"), cr.template_patch(sts),
                               number, collision_count)
    annotations = (sts.get("metadata") or {}).get("annotations")
    if annotations:
        revision["metadata"]["annotations"] = dict(annotations)
    return revision


async def resolve_revisions(history: cr.RevisionHistory, sts: Obj, revisions: list[Obj]) -> tuple[Obj, Obj, int]:
    """(current revision, update revision, collision count), creating or renumbering the update
    revision as needed (getStatefulSetRevisions). ``revisions`` must be sorted oldest first."""
    collision_count = int((sts.get("status") or {}).get("collisionCount") or 0)
    candidate = set_revision(sts, cr.next_revision(revisions), collision_count)
    equal = cr.find_equal_revisions(revisions, candidate)
    if equal and cr.equal_revision(revisions[-1], equal[-1]):
        update = revisions[-1]  # the template has not changed
    elif equal:
        update = await history.update_number(equal[-1], cr.revision_number(candidate))
    else:
        update, collision_count = await history.create(sts, candidate, collision_count)
    current_name = (sts.get("status") or {}).get("currentRevision")
    current = next((r for r in revisions if (r.get("metadata") or {}).get("name") == current_name), None)
    return (current or update), update, collision_count


def revisions_to_delete(sts: Obj, pods: list[Obj], revisions: list[Obj], current: Obj | None,
                        update: Obj | None) -> list[Obj]:
    """The oldest revisions nobody uses beyond spec.revisionHistoryLimit (truncateHistory)."""
    live = {pod_revision(p) for p in pods}
    for revision in (current, update):
        if revision is not None:
            live.add((revision.get("metadata") or {}).get("name"))
    old = [r for r in revisions if (r.get("metadata") or {}).get("name") not in live]
    limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    if limit < 0 or len(old) <= limit:
        return []
    return old[:len(old) - limit]
