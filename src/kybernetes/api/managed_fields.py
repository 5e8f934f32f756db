"""metadata.managedFields: who owns which fields, kept up to date on every write.

Every write names a field manager (``?fieldManager=``, else the User-Agent up to its first "/").
Kubernetes keeps one entry per manager, operation (``Apply`` or ``Update``), API version (updates
only) and subresource, each with the set of fields that manager owns (fieldpath.FieldSet):

    update(live, new, ...)    create/update/patch: the manager takes every field it added or
                              changed (from anyone: updates always win); fields it removed leave
                              every manager's set.
    apply(live, config, ...)  server-side apply: the configuration is merged into the live object;
                              the applier owns exactly the fields of its configuration; fields it
                              applied last time and dropped now are removed from the object unless
                              another manager owns them; changing a value someone else owns is a
                              conflict (409) unless ``force`` takes it over. Applying a value equal
                              to the live one shares ownership.

The steps mirror the layers of the real field manager (k8s.io/apimachinery
pkg/util/managedfields/internal): managed fields decoded from the request or the live object
(``"managedFields": []`` resets them), objects that lost their managed fields not tracked again
until the next apply, server-owned metadata never owned, at most ten Update entries (the oldest
merged into "ancient-changes"), entries sorted Apply first, then by time and name. The set
arithmetic is managed_fields_sets.py; the object walking is managed_fields_walk.py.
This module is pure: the caller passes the schema and the time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api import errors
from kybernetes.api.fieldpath import FieldPathError, FieldSet, path_text
from kybernetes.api.managed_fields_sets import (
    ApplyConflicts,
    ManagedSets,
    ManagerKey,
    VersionedSet,
    smd_apply,
    smd_update,
)
from kybernetes.api.managed_fields_walk import (
    FieldSetError,
    compare,
    declares,
    field_schema,
    item_schema,
    to_field_set,
)

APPLY, UPDATE = "Apply", "Update"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"
BEFORE_FIRST_APPLY = "before-first-apply"
FIELD_MANAGER_MAX_LENGTH = 128

# Metadata only the server writes: nobody owns it.
STRIP_SET = FieldSet.of(("f:apiVersion",), ("f:kind",), ("f:metadata",), *(
    ("f:metadata", f"f:{name}") for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
        "managedFields", "resourceVersion")))


@dataclass
class TrackOptions:
    """What a write needs besides the objects: the schema and where the write came in."""

    schema: Mapping[str, Any] | None
    api_version: str
    now: str
    subresource: str = ""
    ignored: FieldSet | None = None          # fields the endpoint resets (status on the main resource)
    value_structs: frozenset[str] = frozenset()  # built-in struct fields that always exist (not pointers)


class ManagedFieldsError(ValueError):
    """managedFields that cannot be decoded."""


# -- manager names ---------------------------------------------------------------------------------


def manager_from_user_agent(user_agent: str | None) -> str:
    """The default manager: the User-Agent up to its first "/", printable, at most 128 bytes."""
    head = (user_agent or "").split("/", 1)[0]
    if head.isprintable() and len(head.encode()) <= FIELD_MANAGER_MAX_LENGTH:
        return head  # the usual case (every write asks): nothing to drop, nothing to cut
    out = ""
    for char in (user_agent or "").split("/")[0]:
        if not char.isprintable():
            continue
        if len((out + char).encode()) > FIELD_MANAGER_MAX_LENGTH:
            break
        out += char
    return out


def field_manager_causes(manager: str, field: str = "fieldManager") -> list[errors.Cause]:
    causes = []
    if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
        causes.append(errors.Cause("FieldValueTooLong",
                                   f"Too long: may not be more than {FIELD_MANAGER_MAX_LENGTH} bytes", field))
    for i, char in enumerate(manager):
        if not char.isprintable():
            causes.append(errors.Cause("FieldValueInvalid", f"Invalid value: {manager!r}: invalid character "
                                       f"U+{ord(char):04X} (at position {i})", field))
    return causes


# -- decode / encode -------------------------------------------------------------------------------


def decode(entries: Any) -> ManagedSets:
    """metadata.managedFields as sets per manager; ManagedFieldsError when malformed."""
    managed = ManagedSets()
    if entries is None:
        return managed
    if not isinstance(entries, list):
        raise ManagedFieldsError("managedFields must be a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ManagedFieldsError(f"managedFields[{i}] must be an object")
        operation = entry.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ManagedFieldsError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion")
        if not isinstance(api_version, str) or not api_version:
            raise ManagedFieldsError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType")
        if fields_type != "FieldsV1":
            raise ManagedFieldsError(f"missing fieldsType in managed fields entry {i}" if not fields_type
                                     else f"invalid fieldsType {fields_type!r} in managed fields entry {i}")
        try:
            fields = FieldSet.from_fields_v1(entry.get("fieldsV1") or {})
        except FieldPathError as e:
            raise ManagedFieldsError(f"error decoding set: {e}") from None
        key = ManagerKey(str(entry.get("manager") or ""), operation,
                         "" if operation == APPLY else api_version, str(entry.get("subresource") or ""))
        managed.sets[key] = VersionedSet(fields, api_version, operation == APPLY)
        time = entry.get("time")
        managed.times[key] = time if isinstance(time, str) else None
    return managed


def encode(managed: ManagedSets) -> list[dict[str, Any]] | None:
    """Entries as the real server writes them, or None for no managers."""
    out = []
    for key, versioned in managed.sets.items():
        entry: dict[str, Any] = {"manager": key.manager,
                                 "operation": APPLY if versioned.applied else UPDATE,
                                 "apiVersion": versioned.api_version}
        time = managed.times.get(key)
        if time:
            entry["time"] = time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = versioned.fields.to_fields_v1()
        if key.subresource:
            entry["subresource"] = key.subresource
        out.append(entry)
    if not out:
        return None
    out.sort(key=lambda e: (e["operation"], e.get("time") or "", e["manager"], e["apiVersion"],
                            e.get("subresource", "")))
    return out


def is_reset(entries: Any) -> bool:
    """``[]`` or ``[{}]``: the client asks to drop every managed field."""
    return isinstance(entries, list) and (entries == [] or entries == [{}])


def _set_managed(obj: dict[str, Any], managed: ManagedSets) -> None:
    encoded = encode(managed)
    m = obj.setdefault("metadata", {})
    if encoded is None:
        m.pop("managedFields", None)
    else:
        m["managedFields"] = encoded


def _without_managed(obj: dict[str, Any] | None) -> dict[str, Any]:
    if not obj:
        return {}
    out = dict(obj)
    m = out.get("metadata")
    if isinstance(m, dict) and "managedFields" in m:
        out["metadata"] = {k: v for k, v in m.items() if k != "managedFields"}
    return out


# -- update ----------------------------------------------------------------------------------------


def track_update(live: dict[str, Any] | None, new: dict[str, Any], manager: str, opts: TrackOptions) -> None:
    """Record a create (``live`` None), update or patch by ``manager`` in new.metadata.managedFields."""
    live_entries = (live or {}).get("metadata", {}).get("managedFields")
    new_entries = (new.get("metadata") or {}).get("managedFields")
    try:
        if opts.subresource:
            managed = _decode_or_empty(live_entries)
        elif is_reset(new_entries):
            managed = ManagedSets()
        else:
            try:
                managed = decode(new_entries)
            except ManagedFieldsError:
                managed = ManagedSets()
            if not managed.sets:
                managed = _decode_or_empty(live_entries)
        (new.get("metadata") or {}).pop("managedFields", None)
        if not managed.sets and live is not None:
            return  # not tracked since its managed fields went; the next apply starts again
        managed = _update_managers(_without_managed(live), new, managed, manager or "unknown", opts)
    except (FieldSetError, FieldPathError):
        # As upstream: a failure to track leaves the managed fields as they were.
        if live_entries is not None:
            new.setdefault("metadata", {})["managedFields"] = live_entries
        return
    _set_managed(new, managed)


def _decode_or_empty(entries: Any) -> ManagedSets:
    try:
        return decode(entries)
    except ManagedFieldsError:
        return ManagedSets()


def _update_managers(live: dict[str, Any], new: dict[str, Any], managed: ManagedSets, manager: str,
                     opts: TrackOptions) -> ManagedSets:
    key = ManagerKey(manager, UPDATE, opts.api_version, opts.subresource)
    current = ManagerKey("current-operation", UPDATE, opts.api_version, opts.subresource)
    sets = smd_update(live, _without_managed(new), opts.schema, opts.api_version, dict(managed.sets), current,
                      opts.ignored)
    own = sets.pop(current, None)
    if own is not None:
        fields = _drop_value_struct_members(own.fields.difference(STRIP_SET), opts.schema, opts.value_structs)
        previous = sets.get(key)
        if previous is not None:
            fields = fields.union(previous.fields)
        if not fields.empty():
            sets[key] = VersionedSet(fields, opts.api_version, False)
            managed.times[key] = opts.now
    managed.sets = sets
    _cap_update_managers(managed)
    return managed


def _drop_value_struct_members(fields: FieldSet, schema: Mapping[str, Any] | None,
                               names: frozenset[str]) -> FieldSet:
    """Go's value-typed structs (spec, template, metadata) and required lists (containers) are
    never "added" as a whole: an empty typed object already has them (as {} or null). Keep their
    children, drop their own membership, so the sets read as the real server's."""
    if not names:
        return fields
    required = (schema or {}).get("required") or ()
    out = FieldSet(set(fields.members), {})
    for element, child in fields.children.items():
        name = element[2:] if element.startswith("f:") else ""
        if (name in names or name in required) and declares(schema, name) and not child.empty():
            out.members.discard(element)
        sub = field_schema(schema, name) if name else item_schema(schema)
        out.children[element] = _drop_value_struct_members(child, sub, names)
    return out


def _cap_update_managers(managed: ManagedSets) -> None:
    updaters = [k for k, v in managed.sets.items() if not v.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda k: (managed.times.get(k) or "", k.identifier()))
    first_of_version: dict[str, ManagerKey] = {}
    length = len(updaters)
    for key in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        versioned = managed.sets[key]
        bucket = ManagerKey(ANCIENT_CHANGES, UPDATE, versioned.api_version, "")
        first = first_of_version.get(versioned.api_version)
        if first is None:
            first_of_version[versioned.api_version] = key
            continue
        if bucket not in managed.sets:
            managed.sets[bucket] = managed.sets.pop(first)
        managed.sets[bucket] = VersionedSet(versioned.fields.union(managed.sets[bucket].fields),
                                            versioned.api_version, False)
        del managed.sets[key]
        managed.times[bucket] = managed.times.get(key)
        length -= 1


# -- apply -----------------------------------------------------------------------------------------


def apply(live: dict[str, Any] | None, config: dict[str, Any], manager: str, force: bool,
          opts: TrackOptions) -> tuple[dict[str, Any], bool]:
    """Server-side apply of ``config`` onto ``live`` (None: create). Returns (object, changed): the
    object carries its new managedFields. Raises ApiError 409 on conflicts, 400/500 on bad input."""
    live_obj = live or {}
    try:
        managed = decode(live_obj.get("metadata", {}).get("managedFields"))
    except ManagedFieldsError as e:
        raise errors.internal(f"failed to decode managed fields: {e}") from None
    base = _without_managed(live_obj)
    try:
        if not managed.sets and live is not None:
            managed = _update_managers({}, base, managed, BEFORE_FIRST_APPLY, opts)
        try:
            new, sets = _apply_sets(base, config, manager, force, managed, opts)
        except ApplyConflicts as conflicts:
            if manager != "kubectl":
                raise
            allowed = _allowed_by_last_applied(base, opts)
            remaining = conflicts.without(allowed)
            if remaining.conflicts:
                raise remaining from None
            new, sets = _apply_sets(base, config, manager, True, managed, opts)
    except ApplyConflicts as conflicts:
        raise conflict_error(conflicts) from None
    except (FieldSetError, FieldPathError) as e:
        raise errors.internal(f"failed to create typed patch object: {e}") from None
    key = ManagerKey(manager, APPLY, "", opts.subresource)
    changed = new is not None
    if changed:
        managed.times[key] = opts.now
    else:
        new = _without_managed(base)
    managed.sets = sets
    if manager == "kubectl" and (new.get("metadata") or {}).get("annotations", {}).get(LAST_APPLIED):
        _sync_last_applied(new, config)
    _set_managed(new, managed)
    return new, changed


def _apply_sets(base: dict[str, Any], config: dict[str, Any], manager: str, force: bool, managed: ManagedSets,
                opts: TrackOptions) -> tuple[dict[str, Any] | None, dict[ManagerKey, VersionedSet]]:
    key = ManagerKey(manager, APPLY, "", opts.subresource)
    new, sets = smd_apply(base, config, opts.schema, opts.api_version, dict(managed.sets), key, force,
                          opts.ignored)
    own = sets.get(key)
    if own is not None:
        stripped = own.fields.difference(STRIP_SET)
        if stripped.empty():
            del sets[key]
        else:
            sets[key] = VersionedSet(stripped, own.api_version, True)
    return new, sets


def _allowed_by_last_applied(live: dict[str, Any], opts: TrackOptions) -> FieldSet:
    """Conflicts kubectl may take over when it moves from client-side to server-side apply: the
    fields of its last-applied configuration that still hold the values it applied."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return FieldSet()
    try:
        last = json.loads(text)
    except ValueError:
        return FieldSet()
    if not isinstance(last, dict) or last.get("apiVersion") != opts.api_version:
        return FieldSet()
    fields = to_field_set(last, opts.schema)
    diff = compare(last, live, opts.schema)
    return fields.difference(diff.modified).difference(diff.added).difference(diff.removed)


def _sync_last_applied(obj: dict[str, Any], config: dict[str, Any]) -> None:
    applied = json.loads(json.dumps(config))
    annotations = (applied.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    text = json.dumps(applied, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    obj["metadata"]["annotations"][LAST_APPLIED] = text


# -- conflicts -------------------------------------------------------------------------------------


def conflict_error(conflicts: ApplyConflicts) -> errors.ApiError:
    """409 Conflict as kube-apiserver words it, one FieldManagerConflict cause per field."""
    items = conflicts.conflicts
    causes = [errors.Cause("FieldManagerConflict", f"conflict with {key.printed()}", path_text(path))
              for key, path in items]
    if len(items) == 1:
        key, path = items[0]
        message = f"Apply failed with 1 conflict: conflict with {key.printed()}: {path_text(path)}"
    else:
        lines = []
        for key in sorted({k for k, _ in items}, key=lambda k: k.identifier()):
            lines.append(f"conflicts with {key.printed()}:")
            lines.extend(f"- {path_text(p)}" for k, p in items if k == key)
        message = f"Apply failed with {len(items)} conflicts: " + "\n".join(lines)
    err = errors.ApiError(409, "Conflict", message)
    err.causes = causes
    return err
