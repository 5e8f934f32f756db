"""managedFields of an update that only changes values its writer already owns, without the sets.

The steady writes of a cluster are of this kind: a kubelet renewing its Lease (spec.renewTime),
a controller bumping a count it set before. The client sends back the managedFields it read, and
managed_fields.track_update then decodes every manager's FieldsV1 into sets, diffs the objects,
moves the changed fields to the writer, and encodes and sorts all the entries again, only to
arrive at the entries it was given with the writer's time set to now.

``track_update_fast`` sees that case and writes that result directly. It still diffs the objects
(managed_fields_walk.compare: that is what says which fields changed), then answers itself only
when all of these hold, and otherwise calls track_update:

    the write goes to the main resource, the body's managedFields are the stored ones (or absent)
    the stored entries are exactly what this server's encoding wrote (a fingerprint of every
        entry list it produced is kept: ``remember``), so decoding and encoding them again
        changes nothing
    nothing was added; every changed field (outside the endpoint's ignored set) that is not
        server-owned metadata is owned by the writer, and no other manager owns a changed or
        removed field; the writer owns no removed or server-owned changed field; no manager
        is called "current-operation" (the name the general path uses for the write itself)

Then every other entry stays as it was, the writer's entry gets the time of the write (when any
field changed), and the entries are sorted as encoding sorts them. tests/apiserver/
test_managed_update.py checks the result is byte for byte track_update's on many objects and
seeded variations of them.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import orjson

from kybernetes.api.fieldpath import FieldPathError, FieldSet, Path
from kybernetes.api.managed_fields import STRIP_SET, UPDATE, TrackOptions, track_update
from kybernetes.api.managed_fields_walk import FieldSetError, compare

_MEMBER = "."
_WORKFLOW = "current-operation"
_MAX_UPDATE_MANAGERS = 10
# Fingerprints of entry lists this server wrote; a few thousand objects' worth.
_KNOWN_LIMIT = 8192
_known: OrderedDict[bytes, None] = OrderedDict()


def _fingerprint(entries: Any) -> bytes | None:
    try:
        return hashlib.blake2b(orjson.dumps(entries), digest_size=16).digest()
    except TypeError:
        return None


def remember(obj: dict[str, Any]) -> None:
    """Note the managedFields a write has just produced (by encoding them) as canonical."""
    entries = (obj.get("metadata") or {}).get("managedFields")
    if not entries:
        return
    digest = _fingerprint(entries)
    if digest is None:
        return
    _known[digest] = None
    _known.move_to_end(digest)
    if len(_known) > _KNOWN_LIMIT:
        _known.popitem(last=False)


def track_update_fast(live: dict[str, Any], new: dict[str, Any], manager: str, opts: TrackOptions) -> None:
    """Exactly managed_fields.track_update(live, new, manager, opts), cheaper for the usual update."""
    if not _try_fast(live, new, manager or "unknown", opts):
        live_entries = (live.get("metadata") or {}).get("managedFields")
        track_update(live, new, manager, opts)
        entries = (new.get("metadata") or {}).get("managedFields")
        if entries is not None and entries is not live_entries:  # not the "could not track" answer
            remember(new)


def _try_fast(live: dict[str, Any], new: dict[str, Any], manager: str, opts: TrackOptions) -> bool:
    live_meta, new_meta = live.get("metadata"), new.get("metadata")
    if opts.subresource or not isinstance(live_meta, dict) or not isinstance(new_meta, dict):
        return False
    entries = live_meta.get("managedFields")
    given = new_meta.get("managedFields")
    if not isinstance(entries, list) or not entries or (given is not None and given != entries):
        return False
    if _fingerprint(entries) not in _known:
        return False
    writer = None
    updaters = 0
    for entry in entries:
        if entry.get("manager") == _WORKFLOW:
            return False
        if entry.get("operation") == UPDATE:
            updaters += 1
            if (entry.get("manager") == manager and entry.get("apiVersion") == opts.api_version
                    and not entry.get("subresource")):
                writer = entry
    if updaters > _MAX_UPDATE_MANAGERS:
        return False
    try:
        diff = compare(_without_managed(live), _without_managed(new), opts.schema)
    except (FieldSetError, FieldPathError):
        return False
    if not diff.added.empty():
        return False
    changed, removed = diff.modified, diff.removed
    if opts.ignored is not None:
        changed, removed = changed.recursive_difference(opts.ignored), removed.recursive_difference(opts.ignored)
    for path in _paths(removed):
        if any(_owns(entry, path) for entry in entries):
            return False
    own_changed = False
    for path in _paths(changed):
        own_changed = True
        stripped = STRIP_SET.has(path)
        for entry in entries:
            if entry is writer:
                if _owns(entry, path) == stripped:  # must own it, unless nobody may (then must not)
                    return False
            elif _owns(entry, path):
                return False
        if writer is None and not stripped:
            return False  # the writer gains its first fields: a new entry
    if given is None:
        given = orjson.loads(orjson.dumps(entries))  # the stored entries, as the object's own copy
    if own_changed and writer is not None:
        index = entries.index(writer)
        entry = given[index]
        given[index] = {"manager": entry["manager"], "operation": UPDATE, "apiVersion": entry["apiVersion"],
                        "time": opts.now, "fieldsType": "FieldsV1", "fieldsV1": entry["fieldsV1"]}
        given.sort(key=lambda e: (e["operation"], e.get("time") or "", e["manager"], e["apiVersion"],
                                  e.get("subresource", "")))
    new_meta["managedFields"] = given
    remember(new)
    return True


def _without_managed(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    if isinstance(m, dict) and "managedFields" in m:
        return {**obj, "metadata": {k: v for k, v in m.items() if k != "managedFields"}}
    return obj


def _paths(fields: FieldSet):
    """The member paths of a set (any order)."""
    stack: list[tuple[Path, FieldSet]] = [((), fields)]
    while stack:
        prefix, node = stack.pop()
        for element in node.members:
            yield (*prefix, element)
        for element, child in node.children.items():
            stack.append(((*prefix, element), child))


def _owns(entry: dict[str, Any], path: Path) -> bool:
    """Whether ``path`` is a member of the entry's FieldsV1 (a leaf there, or marked with ".")."""
    node = entry.get("fieldsV1")
    for element in path[:-1]:
        node = node.get(element) if isinstance(node, dict) else None
        if node is None:
            return False
    sub = node.get(path[-1]) if isinstance(node, dict) else None
    return isinstance(sub, dict) and (not sub or _MEMBER in sub)
