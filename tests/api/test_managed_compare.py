"""compare() skips equal subtrees (managed_fields_walk._unchanged); its answers must not change.

The reference is the same walk with the skip turned off. Seeded pairs of objects (one changed
from the other: values changed, true against 1, 1 against 1.0, fields removed, list items
duplicated or stripped of their keys) must give the same added/modified/removed sets, and the
same failure for objects that cannot be walked, both ways.
"""

from __future__ import annotations

import copy
import random

import pytest

from kybernetes.api import managed_fields_walk
from kybernetes.api.managed_fields_walk import FieldSetError, compare
from kybernetes.apiserver.apply_schema import managed_schema
from tests.apiserver.test_managed_create import CASES, _mutate, info_of, widget, widget_info
from tests.apiserver.test_managed_update import lease


def _outcome(old, new, schema):
    try:
        diff = compare(old, new, schema)
    except FieldSetError:
        return "unwalkable"
    return diff.added.to_fields_v1(), diff.modified.to_fields_v1(), diff.removed.to_fields_v1()


def both_ways(old, new, schema, monkeypatch):
    fast = _outcome(old, new, schema)
    with monkeypatch.context() as m:
        m.setattr(managed_fields_walk, "_unchanged", lambda *_: False)
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
