"""Owner references as the garbage collector reads and rewrites them (pure functions, no I/O).

An ownerReference names its owner by apiVersion, kind, name and uid; the owner lives in the
dependent's namespace (or is cluster scoped). It counts only while an object of that name *with
that uid* exists: a re-created owner of the same name is a different owner, and the reference is
dangling. The patches here are JSON merge patches carrying the resourceVersion read, so they fail
with 409 instead of overwriting a change made meanwhile (the reconcile then runs again).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def meta_of(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def uid_of(obj: Obj) -> str:
    return str(meta_of(obj).get("uid") or "")


def owner_refs(obj: Obj) -> list[Obj]:
    return [r for r in meta_of(obj).get("ownerReferences") or [] if isinstance(r, dict) and r.get("uid")]


def finalizers(obj: Obj) -> list[str]:
    return list(meta_of(obj).get("finalizers") or [])


def is_deleting(obj: Obj) -> bool:
    return bool(meta_of(obj).get("deletionTimestamp"))


def is_deleting_dependents(obj: Obj) -> bool:
    """Being deleted in the foreground: the owner stays until its blocking dependents are gone."""
    return is_deleting(obj) and FOREGROUND_FINALIZER in finalizers(obj)


def is_orphaning(obj: Obj) -> bool:
    return is_deleting(obj) and ORPHAN_FINALIZER in finalizers(obj)


def ref_group(ref: Obj) -> str:
    """The API group of an ownerReference's apiVersion ("" for the core group)."""
    api_version = str(ref.get("apiVersion") or "")
    group, sep, _ = api_version.rpartition("/")
    return group if sep else ""


def ref_to(obj: Obj, owner_uid: str) -> Obj | None:
    for ref in owner_refs(obj):
        if ref.get("uid") == owner_uid:
            return ref
    return None


def blocks_owner(obj: Obj, owner_uid: str) -> bool:
    ref = ref_to(obj, owner_uid)
    return bool(ref and ref.get("blockOwnerDeletion"))


def propagation_for(obj: Obj) -> str:
    """Delete an object with no owners left the way its own finalizers ask (else Background)."""
    fins = finalizers(obj)
    if ORPHAN_FINALIZER in fins:
        return "Orphan"
    if FOREGROUND_FINALIZER in fins:
        return "Foreground"
    return "Background"


def remove_refs_patch(obj: Obj, uids: set[str]) -> Obj:
    """Merge patch dropping the ownerReferences to ``uids`` (the whole list is rewritten)."""
    kept = [r for r in meta_of(obj).get("ownerReferences") or [] if r.get("uid") not in uids]
    return {"metadata": {"ownerReferences": kept or None,
                         "resourceVersion": meta_of(obj).get("resourceVersion")}}


def unblock_refs_patch(obj: Obj, uids: set[str]) -> Obj:
    """Merge patch setting blockOwnerDeletion=false on the references to ``uids``."""
    refs = []
    for ref in meta_of(obj).get("ownerReferences") or []:
        ref = dict(ref)
        if ref.get("uid") in uids and ref.get("blockOwnerDeletion"):
            ref["blockOwnerDeletion"] = False
        refs.append(ref)
    return {"metadata": {"ownerReferences": refs, "resourceVersion": meta_of(obj).get("resourceVersion")}}


def remove_finalizer_patch(obj: Obj, finalizer: str) -> Obj:
    kept = [f for f in finalizers(obj) if f != finalizer]
    return {"metadata": {"finalizers": kept or None, "resourceVersion": meta_of(obj).get("resourceVersion")}}
