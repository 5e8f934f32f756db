"""compare() takes two shortcuts; its answers must not change.

- It skips equal subtrees (managed_fields_walk._unchanged).
- It adds an all-new value (a field a patch adds, the first status a kubelet writes) to the
  added set in one walk of its own (managed_fields_walk._added).

The reference is the general walk with neither: no skip, and an all-new value diffed against
nothing like any other. Seeded pairs of objects (one changed from the other: values changed,
true against 1, 1 against 1.0, fields removed, list items duplicated or stripped of their keys),
and whole objects against nothing, must give the same added/modified/removed sets, and the same
failure for objects that cannot be walked, both ways.
"""

from __future__ import annotations

import copy
import random

import pytest

from kybernetes.api import managed_fields_walk
from kybernetes.api.fieldpath import FieldSet
from kybernetes.api.managed_fields_walk import MISSING, Comparison, FieldSetError, compare
from kybernetes.apiserver.apply_schema import managed_schema
from tests.apiserver.test_managed_create import CASES, _mutate, info_of, widget, widget_info
from tests.apiserver.test_managed_update import lease


def _outcome(old, new, schema):
    try:
        diff = compare(old, new, schema)
    except FieldSetError:
        return "unwalkable"
    return diff.added.to_fields_v1(), diff.modified.to_fields_v1(), diff.removed.to_fields_v1()


def _added_by_the_general_walk(path, new, schema, parent):
    """What _added puts into ``parent`` (the added set's node of ``path[:-1]``), found by the
    general walk: ``new`` diffed against nothing, from a root of its own, then put in place."""
    found = Comparison()
    managed_fields_walk._compare((), MISSING, new, schema, found)
    parent.members.add(path[-1])
    if found.added.members or found.added.children:
        node = parent.children.setdefault(path[-1], FieldSet())
        node.members |= found.added.members
        node.children.update(found.added.children)


def both_ways(old, new, schema, monkeypatch):
    fast = _outcome(old, new, schema)
    with monkeypatch.context() as m:
        m.setattr(managed_fields_walk, "_unchanged", lambda *_: False)
        m.setattr(managed_fields_walk, "_added", _added_by_the_general_walk)
        slow = _outcome(old, new, schema)
    return slow, fast


_SWAPS = [(True, 1), (1, 1.0), (False, 0), ("1", 1), (None, {}), ([], {})]


def _swap_scalars(obj, rng: random.Random):
    """Replace a value by one Python finds equal or nearly so (true and 1, 1 and 1.0...)."""
    obj = copy.deepcopy(obj)
    node = obj
    for _ in range(4):
        if isinstance(node, dict) and node:
            key = rng.choice(list(node))
            if not isinstance(node[key], (dict, list)) or rng.random() < 0.3:
                a, b = rng.choice(_SWAPS)
                node[key] = b if node[key] == a else a
                return obj
            node = node[key]
        elif isinstance(node, list) and node:
            node = rng.choice(node)
    return obj


ALL = [(lambda key=key: info_of(*key), make) for key, make in CASES] + [
    (lambda: info_of("coordination.k8s.io", "leases"), lease), (widget_info, widget)]


@pytest.mark.parametrize("index", range(len(ALL)))
def test_equal_objects_compare_to_nothing_or_fail_alike(index, monkeypatch):
    info_fn, make = ALL[index]
    schema = managed_schema(info_fn())
    obj = make()
    slow, fast = both_ways(obj, copy.deepcopy(obj), schema, monkeypatch)
    assert fast == slow == ({}, {}, {})


def test_seeded_pairs_compare_alike(monkeypatch):
    rng = random.Random(1127)
    checked = unwalkable = 0
    for info_fn, make in ALL:
        schema = managed_schema(info_fn())
        for i in range(60):
            old = _mutate(make(), rng) if i % 3 == 0 else make()
            new = _swap_scalars(old, rng) if i % 2 else _mutate(old, rng)
            if rng.random() < 0.5:
                old, new = new, old
            slow, fast = both_ways(old, new, schema, monkeypatch)
            assert fast == slow, (old, new)
            checked += 1
            unwalkable += slow == "unwalkable"
    assert checked > 600 and unwalkable > 5


def test_whole_objects_against_nothing_compare_alike(monkeypatch):
    rng = random.Random(2711)
    checked = 0
    for info_fn, make in ALL:
        schema = managed_schema(info_fn())
        for i in range(20):
            new = make() if i == 0 else _mutate(make(), rng)
            slow, fast = both_ways({}, new, schema, monkeypatch)
            assert fast == slow, new
            assert slow == "unwalkable" or slow[0], new  # everything in it is added
            checked += 1
    assert checked > 200
