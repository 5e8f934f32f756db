"""Updates start from the watch cache's copy of the object (objects.ObjectStore.update, cached_read).

The copy saves the store read of an update that goes through; a stale copy must never change an
answer. The tests hand the update path a copy of an older revision of the object, then check
that PUTs and patches answer exactly as they would from the store: a precondition the store
satisfies succeeds, one only the stale copy satisfies is a 409, a change that is a no-op only
against the stale copy is written, a validation error only the stale copy causes is no error.
"""

from __future__ import annotations

import pytest

from kybernetes.apiserver.server import WATCH_CACHE_KEY

CMS = "/api/v1/namespaces/default/configmaps"


class StaleCache:
    """Stands in for a resource cache: answers every key with one fixed KeyValue."""

    def __init__(self, kv):
        self.kv = kv

    @property
    def items(self):
        return self

    def get(self, key):
        return self.kv if self.kv is not None and key == self.kv.key else None


@pytest.fixture
async def stale(api, monkeypatch):
    """(set_copy, reads): make the update path see ``kv`` as the cache's copy; count store reads."""
    watch_cache = api.app[WATCH_CACHE_KEY]
    holder = StaleCache(None)

    async def update_source(info):
        return holder

    monkeypatch.setattr(watch_cache, "update_source", update_source)
    reads = {"n": 0}
    real_get = api.store.get

    async def counting_get(key, revision=0):
        reads["n"] += 1
        return await real_get(key, revision)

    monkeypatch.setattr(api.store, "get", counting_get)

    def set_copy(kv):
        holder.kv = kv
        reads["n"] = 0

    return set_copy, reads


async def _create(api, name: str, data: dict) -> dict:
    status, body = await api.post(CMS, json={"metadata": {"name": name}, "data": data})
    assert status == 201, body
    return body


async def _kv(api, name: str):
    return await api.store.get(f"/registry/core/configmaps/default/{name}")


async def test_a_current_copy_saves_the_store_read(api, stale):
    set_copy, reads = stale
    cm = await _create(api, "cm", {"a": "1"})
    set_copy(await _kv(api, "cm"))
    cm["data"]["a"] = "2"
    status, body = await api.put(f"{CMS}/cm", json=cm)
    assert status == 200 and body["data"] == {"a": "2"}
    assert reads["n"] == 0
    status, body = await api.patch(f"{CMS}/cm", json={"data": {"b": "3"}})
    assert status == 200 and body["data"] == {"a": "2", "b": "3"}


async def test_a_stale_copy_never_decides_a_precondition(api, stale):
    set_copy, reads = stale
    cm = await _create(api, "cm", {"a": "1"})
    old_kv = await _kv(api, "cm")
    status, current = await api.patch(f"{CMS}/cm", json={"data": {"a": "2"}})
    assert status == 200
    set_copy(old_kv)
    # The current resourceVersion: the store satisfies it, the stale copy does not.
    current["data"]["a"] = "3"
    status, body = await api.put(f"{CMS}/cm", json=current)
    assert status == 200 and body["data"] == {"a": "3"}
    # The stale copy's resourceVersion: a conflict, as without the cache.
    set_copy(old_kv)
    cm["data"]["a"] = "4"
    status, body = await api.put(f"{CMS}/cm", json=cm)
    assert status == 409, body
    assert (await api.get(f"{CMS}/cm"))[1]["data"] == {"a": "3"}


async def test_a_stale_copy_never_makes_a_change_a_no_op(api, stale):
    set_copy, _ = stale
    cm = await _create(api, "cm", {"a": "1"})
    old_kv = await _kv(api, "cm")
    assert (await api.patch(f"{CMS}/cm", json={"data": {"a": "2"}}))[0] == 200
    set_copy(old_kv)
    # Back to what the stale copy holds: a change of the current object, so it is written.
    status, body = await api.patch(f"{CMS}/cm", json={"data": {"a": "1"}})
    assert status == 200 and body["data"] == {"a": "1"}
    assert int(body["metadata"]["resourceVersion"]) > int(cm["metadata"]["resourceVersion"]) + 1
    # A real no-op (the copy is current) still writes nothing.
    set_copy(await _kv(api, "cm"))
    status, again = await api.patch(f"{CMS}/cm", json={"data": {"a": "1"}})
    assert status == 200 and again["metadata"]["resourceVersion"] == body["metadata"]["resourceVersion"]


async def test_a_stale_copy_never_causes_an_error(api, stale):
    set_copy, _ = stale
    status, _ = await api.post(CMS, json={"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True})
    assert status == 201
    frozen_kv = await _kv(api, "frozen")
    # The same name, now mutable: the stale copy says immutable, the store does not.
    assert (await api.delete(f"{CMS}/frozen"))[0] == 200
    await _create(api, "frozen", {"a": "1"})
    set_copy(frozen_kv)
    status, body = await api.patch(f"{CMS}/frozen", json={"data": {"a": "2"}})
    assert status == 200, body
    # And an error the current object does cause still stands after the store confirms it.
    status, _ = await api.patch(f"{CMS}/frozen", json={"immutable": True})
    assert status == 200
    set_copy(await _kv(api, "frozen"))
    status, body = await api.patch(f"{CMS}/frozen", json={"data": {"a": "3"}})
    assert status == 422, body


async def test_missing_from_the_cache_reads_the_store(api, stale):
    set_copy, reads = stale
    set_copy(None)
    await _create(api, "cm", {"a": "1"})
    status, body = await api.patch(f"{CMS}/cm", json={"data": {"a": "2"}})
    assert status == 200 and reads["n"] == 1
