"""The update path's managedFields shortcut (apiserver/managed_update.py) is exactly track_update.

Objects of many kinds get managedFields from a create and updates by a few managers; then
hundreds of seeded updates of them (values changed, fields removed, added, nulled, given another
type, list items duplicated or stripped of their keys), by their own writer or another, with the
managedFields sent back or left out, are tracked both ways; the results must be byte for byte
the same. The shortcut must also actually be taken for the usual cases.
"""

from __future__ import annotations

import copy
import random

import orjson
import pytest

from kybernetes.api.managed_fields import TrackOptions, track_update
from kybernetes.apiserver import managed_update
from kybernetes.apiserver.apply_schema import track_options
from kybernetes.apiserver.managed_create import track_create
from kybernetes.apiserver.managed_update import remember, track_update_fast
from tests.apiserver.test_managed_create import CASES, _mutate, _paths, info_of, widget, widget_info

T0, T1, T2, T3 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z"


def lease() -> dict:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "n1", "namespace": "kube-node-lease", "uid": "u", "creationTimestamp": T0,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "nu"}]},
            "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z"}}


ALL = [(lambda key=key: info_of(*key), make) for key, make in CASES] + [
    (lambda: info_of("coordination.k8s.io", "leases"), lease), (widget_info, widget)]


def options(info, now: str, subresource: str = "") -> TrackOptions:
    opts = track_options(info, subresource)
    opts.now = now
    return opts


@pytest.fixture
def counted(monkeypatch):
    """How often the shortcut fell back to the general path."""
    calls = {"general": 0}
    real = managed_update.track_update

    def general(*args, **kwargs):
        calls["general"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(managed_update, "track_update", general)
    return calls


def stored(info, make) -> dict:
    """An object as stored after a create by "creator" and an update of a label by "labeller"."""
    obj = make()
    track_create(obj, "creator", options(info, T0))
    remember(obj)
    changed = copy.deepcopy(obj)
    changed["metadata"].setdefault("labels", {})["by"] = "labeller"
    track_update_fast(obj, changed, "labeller", options(info, T1))
    return changed


def both_ways(info, live: dict, new: dict, manager: str, opts: TrackOptions) -> tuple[bytes, bytes]:
    slow, fast = copy.deepcopy(new), copy.deepcopy(new)
    track_update(copy.deepcopy(live), slow, manager, opts)
    track_update_fast(copy.deepcopy(live), fast, manager, opts)
    return orjson.dumps(slow), orjson.dumps(fast)


def _leaves(obj: dict) -> list[tuple]:
    out = []
    for path in _paths(obj):
        if not path or path[0] == "metadata" and (len(path) < 3 or path[1] == "managedFields"):
            continue
        value = obj
        for step in path:
            value = value[step]
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            out.append(path)
    return out


def change_values(obj: dict, rng: random.Random) -> dict:
    """An update that only changes values (what a heartbeat does)."""
    obj = copy.deepcopy(obj)
    leaves = _leaves(obj)
    for _ in range(rng.randint(1, 2)):
        path = rng.choice(leaves)
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        old = parent[path[-1]]
        parent[path[-1]] = old + 1 if isinstance(old, (int, float)) else old + "-2"
    return obj


@pytest.mark.parametrize("index", range(len(ALL)))
def test_the_writer_changing_its_own_values_takes_the_shortcut(index, counted):
    info_fn, make = ALL[index]
    info = info_fn()
    live = stored(info, make)
    new = copy.deepcopy(live)
    new["metadata"]["labels"]["by"] = "labeller-2"
    counted["general"] = 0
    slow, fast = both_ways(info, live, new, "labeller", options(info, T2))
    assert fast == slow
    assert counted["general"] == 0
    entries = orjson.loads(fast)["metadata"]["managedFields"]
    assert [e["manager"] for e in entries][-1] == "labeller" and entries[-1]["time"] == T2


def test_a_lease_renewal_moves_only_the_writers_time(counted):
    info = info_of("coordination.k8s.io", "leases")
    live = lease()
    track_create(live, "kubelet", options(info, T0))
    remember(live)
    other = copy.deepcopy(live)
    other["metadata"]["labels"] = {"a": "b"}
    track_update_fast(live, other, "kubectl-label", options(info, T1))
    renewed = copy.deepcopy(other)
    renewed["spec"]["renewTime"] = "2026-01-01T00:00:10.000000Z"
    counted["general"] = 0
    for sent_back in (True, False):
        new = copy.deepcopy(renewed)
        if not sent_back:
            del new["metadata"]["managedFields"]
        slow, fast = both_ways(info, other, new, "kubelet", options(info, T3))
        assert fast == slow
    assert counted["general"] == 0
    entries = orjson.loads(fast)["metadata"]["managedFields"]
    assert [(e["manager"], e["time"]) for e in entries] == [("kubectl-label", T1), ("kubelet", T3)]


def test_unknown_entries_a_new_writer_and_contested_fields_take_the_general_path(counted):
    info = info_of("coordination.k8s.io", "leases")
    live = stored(info, lease)
    # Entries this server did not write (sorted otherwise): the general path re-encodes them.
    odd = copy.deepcopy(live)
    odd["metadata"]["managedFields"].reverse()
    new = copy.deepcopy(odd)
    new["spec"]["renewTime"] = "x"
    counted["general"] = 0
    assert both_ways(info, odd, new, "creator", options(info, T2))[0] == both_ways(
        info, odd, new, "creator", options(info, T2))[1]
    assert counted["general"] == 2
    # A manager that owns nothing yet, and one changing a field another manager owns.
    for manager in ("newcomer", "labeller"):
        new = copy.deepcopy(live)
        new["spec"]["renewTime"] = "y"
        counted["general"] = 0
        slow, fast = both_ways(info, live, new, manager, options(info, T2))
        assert fast == slow and counted["general"] == 1


def test_seeded_updates_match_the_general_path(counted):
    rng = random.Random(20261127)
    checked = 0
    for info_fn, make in ALL:
        info = info_fn()
        live = stored(info, make)
        for i in range(70):
            if i % 2:
                new = change_values(live, rng)
            else:
                new = _mutate(live, rng)
                if not isinstance(new.get("metadata"), dict):
                    continue
            if rng.random() < 0.3:
                new["metadata"].pop("managedFields", None)
            manager = rng.choice(["creator", "labeller", "creator", "someone-else"])
            subresource = "status" if rng.random() < 0.1 else ""
            slow, fast = both_ways(info, live, new, manager, options(info, T2, subresource))
            assert fast == slow, (info.resource, manager, new)
            checked += 1
            if rng.random() < 0.3 and manager != "someone-else":  # go on from this update
                updated = orjson.loads(fast)
                if isinstance(updated.get("metadata"), dict) and updated["metadata"].get("managedFields"):
                    live = updated
    assert checked > 600
    assert checked - counted["general"] > 150, "the shortcut is taken for a good share of updates"
