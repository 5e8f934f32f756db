"""ControllerRevisions: the template history StatefulSets and DaemonSets keep (pkg/controller/history).

A revision is an immutable snapshot of the owner's pod template, stored as the strategic merge
patch that puts it back:

    ControllerRevision "<owner>-<hash>"        labels: the template's labels + the hash label
        ownerReferences: [owner, controller]    revision: 1, 2, 3 ... (the history order)
        data: {"spec": {"template": {..., "$patch": "replace"}}}

kubectl reads ``data`` exactly so: ``rollout history --revision=N`` applies it to the owner to
show the template, ``rollout undo`` PATCHes the owner with it (strategic merge), after which the
controller sees a template equal to an older revision and, rather than store a duplicate, gives
that revision the next number (a rollback is a new head of history).

    template_patch(owner)               the data of the owner's current template
    apply_revision(owner, revision)     the owner as that revision describes it
    new_revision(...)                   a revision object, named "<owner>-<hash of data>"
    equal_revision / find_equal         "is this template already in the history?"
    sort_revisions / next_revision      history order and the next number
    RevisionHistory                     the API half: list owned (from the cache), adopt,
                                        create (resolving name collisions), renumber, delete

Names carry a hash so they are stable; two different templates can collide on the hash, so the
owner's status.collisionCount is mixed in and bumped until the name is free.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from kybernetes.api.errors import ApiError
from kybernetes.api.meta import GENERATE_NAME_ALPHABET, deep_copy
from kybernetes.api.selectors import LabelSelector
from kybernetes.client.indexer import BY_NAMESPACE
from kybernetes.client.resource import CONTROLLERREVISIONS
from kybernetes.controllers import podutil

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# On StatefulSet revisions (history.ControllerRevisionHashLabel).
HISTORY_HASH_LABEL = "controller.kubernetes.io/hash"
# On pods of both kinds and on DaemonSet revisions (apps/v1 ControllerRevisionHashLabelKey).
REVISION_HASH_LABEL = "controller-revision-hash"
# Kubernetes cuts the owner's name so "<prefix>-<hash>" stays a valid object name.
_MAX_PREFIX = 223


# -- hashing ---------------------------------------------------------------------------------------

def fnv32(data: bytes) -> int:
    """FNV-1, 32 bit (hash/fnv New32): what revision names hash with."""
    h = 0x811C9DC5
    for byte in data:
        h = ((h * 0x01000193) & 0xFFFFFFFF) ^ byte
    return h


def fnv32a(data: bytes) -> int:
    """FNV-1a, 32 bit (New32a): what pod template hashes use."""
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """Each character mapped onto consonants and digits (rand.SafeEncodeString): never a word."""
    return "".join(GENERATE_NAME_ALPHABET[ord(c) % len(GENERATE_NAME_ALPHABET)] for c in text)


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys, as Go marshals a map: the same value always hashes the same."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def hash_revision_data(data: Any, collision_count: int | None = None) -> str:
    """The name hash of a revision (HashControllerRevision): its data, then the collision count."""
    raw = canonical_json(data) if data is not None else b""
    if collision_count is not None:
        raw += str(int(collision_count)).encode()
    return safe_encode(str(fnv32(raw)))


def hash_template(template: Any, collision_count: int | None = None) -> str:
    """A pod template's hash (controller.ComputeHash): the DaemonSet's revision and pod label."""
    raw = canonical_json(template or {})
    if collision_count is not None:
        raw += (int(collision_count) & 0xFFFFFFFF).to_bytes(4, "little")
    return safe_encode(str(fnv32a(raw)))


def revision_name(prefix: str, hash_: str) -> str:
    return f"{prefix[:_MAX_PREFIX]}-{hash_}"


# -- the data: a patch that restores the template ----------------------------------------------------

def template_patch(owner: Obj) -> Obj:
    """``{"spec": {"template": {..., "$patch": "replace"}}}`` for the owner's current template."""
    template = deep_copy(((owner.get("spec") or {}).get("template")) or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def apply_revision(owner: Obj, revision: Obj) -> Obj:
    """A copy of ``owner`` with the template ``revision`` stores (the patch replaces it whole)."""
    out = deep_copy(owner)
    data = revision.get("data") or {}
    template = ((data.get("spec") or {}).get("template")) if isinstance(data, dict) else None
    if isinstance(template, dict):
        restored = {k: v for k, v in deep_copy(template).items() if k != "$patch"}
        out.setdefault("spec", {})["template"] = restored
    return out


def revision_number(revision: Obj | None) -> int:
    try:
        return int((revision or {}).get("revision") or 0)
    except (TypeError, ValueError):
        return 0


def new_revision(owner: Obj, controller_ref: Obj, template_labels: dict[str, str] | None, data: Obj,
                 number: int, collision_count: int | None, hash_label: str = HISTORY_HASH_LABEL) -> Obj:
    """A ControllerRevision for ``owner`` holding ``data`` (NewControllerRevision)."""
    meta = owner.get("metadata") or {}
    hash_ = hash_revision_data(data, collision_count)
    labels = dict(template_labels or {})
    labels[hash_label] = hash_
    rev_meta: Obj = {"name": revision_name(meta.get("name", ""), hash_), "labels": labels,
                     "ownerReferences": [dict(controller_ref)]}
    if meta.get("namespace"):
        rev_meta["namespace"] = meta["namespace"]
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": rev_meta,
            "data": data, "revision": int(number)}


def equal_revision(a: Obj | None, b: Obj | None) -> bool:
    """Same stored template (the data compared; names and numbers do not matter)."""
    if a is None or b is None:
        return a is b
    return canonical_json(a.get("data")) == canonical_json(b.get("data"))


def find_equal_revisions(revisions: list[Obj], needle: Obj) -> list[Obj]:
    return [r for r in revisions if equal_revision(r, needle)]


def sort_revisions(revisions: list[Obj]) -> list[Obj]:
    """Oldest first: by revision number, then creation time, then name."""
    return sorted(revisions, key=lambda r: (revision_number(r),
                                            (r.get("metadata") or {}).get("creationTimestamp") or "",
                                            (r.get("metadata") or {}).get("name") or ""))


def next_revision(sorted_revisions: list[Obj]) -> int:
    return revision_number(sorted_revisions[-1]) + 1 if sorted_revisions else 1


def max_revision(revisions: list[Obj]) -> int:
    return max((revision_number(r) for r in revisions), default=0)


# -- the API half ----------------------------------------------------------------------------------

class RevisionHistory:
    """Reads revisions from the shared informer cache and writes them through the client."""

    def __init__(self, client: Any, informer: Any):
        self.client = client
        self.informer = informer

    def owned(self, owner: Obj, selector: LabelSelector) -> list[Obj]:
        """Revisions in the owner's namespace that its selector matches and that it controls or
        nobody controls (ListControllerRevisions; orphans are candidates for adoption)."""
        meta = owner.get("metadata") or {}
        uid = meta.get("uid")
        found = []
        for rev in self.informer.indexer.by_index(BY_NAMESPACE, meta.get("namespace", "")):
            rmeta = rev.get("metadata") or {}
            if not selector.matches(rmeta.get("labels")):
                continue
            ref = podutil.controller_of(rev)
            if ref is None or ref.get("uid") == uid:
                found.append(rev)
        return found

    async def claim(self, owner: Obj, controller_ref: Obj, selector: LabelSelector,
                    can_adopt: Any = None) -> list[Obj]:
        """The revisions ``owner`` controls after adopting matching orphans and releasing owned
        ones that stopped matching (ClaimControllerRevisions)."""
        namespace = (owner.get("metadata") or {}).get("namespace", "")
        candidates = list(self.informer.indexer.by_index(BY_NAMESPACE, namespace))
        return await podutil.claim_objects(self.client, CONTROLLERREVISIONS, owner, controller_ref, selector,
                                           candidates, can_adopt)

    async def adopt(self, revision: Obj, controller_ref: Obj) -> Obj:
        meta = revision.get("metadata") or {}
        return await self.client.patch(CONTROLLERREVISIONS, meta["name"],
                                       podutil.adopt_patch(revision, controller_ref), meta.get("namespace"),
                                       patch_type="strategic")

    async def create(self, owner: Obj, revision: Obj, collision_count: int,
                     hash_label: str = HISTORY_HASH_LABEL) -> tuple[Obj, int]:
        """Create ``revision``; on a name taken by different data, bump the collision count and
        try the next name. Returns the stored revision and the collision count used."""
        namespace = (owner.get("metadata") or {}).get("namespace")
        owner_name = (owner.get("metadata") or {}).get("name", "")
        for _ in range(100):
            candidate = deep_copy(revision)
            hash_ = hash_revision_data(revision.get("data"), collision_count)
            candidate["metadata"]["name"] = revision_name(owner_name, hash_)
            try:
                created = await self.client.create(CONTROLLERREVISIONS, candidate, namespace)
            except ApiError as e:
                if e.code != 409:
                    raise
                existing = await self.client.get(CONTROLLERREVISIONS, candidate["metadata"]["name"], namespace)
                if canonical_json(existing.get("data")) == canonical_json(candidate.get("data")):
                    return existing, collision_count
                collision_count += 1
                continue
            return created, collision_count
        raise RuntimeError(f"could not find a free ControllerRevision name for {owner_name}")

    async def update_number(self, revision: Obj, number: int) -> Obj:
        """Give an existing revision a new number (a rollback makes an old template the newest)."""
        if revision_number(revision) == number:
            return revision
        meta = revision.get("metadata") or {}
        return await self.client.patch(CONTROLLERREVISIONS, meta["name"], {"revision": int(number)},
                                       meta.get("namespace"), patch_type="merge")

    async def delete(self, revision: Obj) -> None:
        meta = revision.get("metadata") or {}
        try:
            await self.client.delete(CONTROLLERREVISIONS, meta["name"], meta.get("namespace"))
        except ApiError as e:
            if e.code != 404:
                raise
