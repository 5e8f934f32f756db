"""The ownership arithmetic of server-side apply, over field sets per manager.

This is structured-merge-diff's ``merge.Updater`` written again in Python:

    smd_update(old, new)     someone wrote ``new``: every other manager loses the fields that
                             changed (updates always win) and the fields that went; the writer
                             gains what it added or modified.
    smd_apply(live, config)  merge config into live; the applier's set becomes the config's
                             fields; fields it applied before and no longer applies are pruned
                             from the object when no manager owns them any more; then the same
                             bookkeeping as an update, except that a changed field another
                             manager owns is a conflict unless ``force``.

A manager is a ManagerKey (name, operation, API version for updates, subresource): an applier
and an updater of the same name are two managers, as are the same name on ``status``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.fieldpath import FieldSet, Path
from kybernetes.api.managed_fields_walk import (
    compare,
    ensure_named_fields_are_members,
    merge,
    remove_items,
    same,
    to_field_set,
)


@dataclass(frozen=True, slots=True)
class ManagerKey:
    manager: str
    operation: str           # "Apply" | "Update"
    api_version: str = ""    # only for Update: an applier is one manager across versions
    subresource: str = ""

    def identifier(self) -> str:
        """The JSON identifier the real server keys managers by (and sorts them by)."""
        out: dict[str, str] = {}
        for name, value in (("manager", self.manager), ("operation", self.operation),
                            ("apiVersion", self.api_version), ("subresource", self.subresource)):
            if value:
                out[name] = value
        return json.dumps(out, separators=(",", ":"))

    def printed(self) -> str:
        """How a conflict names the manager: "kubectl" using apps/v1, or just "name" for appliers."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


@dataclass
class VersionedSet:
    fields: FieldSet
    api_version: str
    applied: bool


@dataclass
class ManagedSets:
    sets: dict[ManagerKey, VersionedSet] = field(default_factory=dict)
    times: dict[ManagerKey, str | None] = field(default_factory=dict)


class ApplyConflicts(Exception):  # noqa: N818 - named as structured-merge-diff names it
    """Fields of other managers that an apply would change, as (manager, path) pairs."""

    def __init__(self, conflicts: list[tuple[ManagerKey, Path]]):
        super().__init__(f"{len(conflicts)} conflicts")
        self.conflicts = conflicts

    def without(self, allowed: FieldSet) -> ApplyConflicts:
        return ApplyConflicts([(k, p) for k, p in self.conflicts if not allowed.has(p)])


def _exclude(fields: FieldSet, ignored: FieldSet | None) -> FieldSet:
    return fields.recursive_difference(ignored) if ignored is not None else fields


def _update(old: Any, new: Any, schema: Mapping[str, Any] | None, sets: dict[ManagerKey, VersionedSet],
            workflow: ManagerKey, force: bool, ignored: FieldSet | None):
    diff = compare(old, new, schema)
    changed = _exclude(diff.modified.union(diff.added), ignored)
    removed = _exclude(diff.removed, ignored)
    conflicts: list[tuple[ManagerKey, Path]] = []
    taken: dict[ManagerKey, FieldSet] = {}
    for key in sorted(sets, key=lambda k: k.identifier()):
        if key == workflow:
            continue
        clash = sets[key].fields.intersection(changed)
        if not clash.empty():
            taken[key] = clash
            if not force:  # (an update takes the fields whatever they are: no list to build)
                conflicts.extend((key, path) for path in clash.paths())
    if conflicts and not force:
        raise ApplyConflicts(conflicts)
    for key in list(sets):
        if key == workflow:
            continue
        versioned = sets[key]
        fields = versioned.fields
        if key in taken:
            fields = fields.difference(taken[key])
        if not removed.empty():
            fields = fields.difference(removed)
        if fields.empty():
            del sets[key]
        elif fields is not versioned.fields:
            sets[key] = VersionedSet(fields, versioned.api_version, versioned.applied)
    return sets, diff, changed


def smd_update(old: Any, new: Any, schema: Mapping[str, Any] | None, api_version: str,
               sets: dict[ManagerKey, VersionedSet], manager: ManagerKey,
               ignored: FieldSet | None = None) -> dict[ManagerKey, VersionedSet]:
    sets, diff, changed = _update(old, new, schema, sets, manager, True, ignored)
    previous = sets.get(manager)
    # What it kept, plus what it changed (modified and added, ignored fields excluded: computed
    # by _update already; excluding distributes over the union).
    kept = _exclude(previous.fields.difference(diff.removed), ignored) if previous is not None else FieldSet()
    fields = kept.union(changed)
    if fields.empty():
        sets.pop(manager, None)
    else:
        sets[manager] = VersionedSet(fields, api_version, False)
    return sets


def smd_apply(live: Any, config: Any, schema: Mapping[str, Any] | None, api_version: str,
              sets: dict[ManagerKey, VersionedSet], manager: ManagerKey, force: bool,
              ignored: FieldSet | None = None) -> tuple[Any, dict[ManagerKey, VersionedSet]]:
    """(new object or None when nothing changed, sets); ApplyConflicts unless ``force``."""
    applied = to_field_set(config, schema, allow_duplicates=False)
    new = merge(live, config, schema)
    last = sets.get(manager)
    sets[manager] = VersionedSet(_exclude(applied, ignored), api_version, True)
    if last is not None and not last.fields.empty():
        new = _prune(new, sets, last.fields, schema)
    sets, _, _ = _update(live, new, schema, sets, manager, force, ignored)
    if sets[manager].fields.empty():
        del sets[manager]
    return (None if same(live, new) else new), sets


def _prune(merged: Any, sets: dict[ManagerKey, VersionedSet], last: FieldSet,
           schema: Mapping[str, Any] | None) -> Any:
    """Remove what the applier applied last time and dropped now, unless someone owns it."""
    def named(fields: FieldSet) -> FieldSet:
        return ensure_named_fields_are_members(fields, schema)

    last_named = named(last)
    pruned = remove_items(merged, last_named, schema)
    owned = FieldSet()
    for versioned in sets.values():
        owned = owned.union(versioned.fields)
    merged_set = named(to_field_set(merged, schema))
    # Add back what is owned: remove from merged only what neither survived nor is owned.
    pruned = remove_items(merged, merged_set.difference(named(to_field_set(pruned, schema)).union(named(owned))),
                          schema)
    # Only what the applier owned may go; anything else removed above comes back.
    gone = merged_set.difference(named(to_field_set(pruned, schema))).intersection(last_named)
    return remove_items(merged, gone, schema)
