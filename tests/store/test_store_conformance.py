"""The Store contract, held against every backend (SQLite file, real etcd member)."""

from __future__ import annotations

import asyncio
import random

import pytest

from kybernetes.store import (
    MAX_VALUE_BYTES,
    CompactedError,
    ConflictError,
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    StoreError,
    ValueTooLargeError,
)
from tests.store.helpers import collect_until, describe


async def test_create_get_update_delete(store, prefix):
    key = prefix + "a"
    created = await store.create(key, b"one")
    kv = await store.get(key)
    assert (kv.key, kv.value, kv.create_revision, kv.mod_revision) == (key, b"one", created, created)

    updated = await store.update(key, b"two", created)
    assert updated > created
    assert (await store.get(key)).value == b"two"
    assert (await store.get(key, created)).value == b"one"  # the past is still readable
    assert (await store.get(key)).create_revision == created

    deleted_at, deleted = await store.delete(key, updated)
    assert deleted_at > updated
    assert (deleted.value, deleted.mod_revision, deleted.create_revision) == (b"two", updated, created)
    assert await store.get(key) is None
    assert (await store.get(key, updated)).value == b"two"

    again = await store.create(key, b"three")  # a new generation of the key
    assert (await store.get(key)).create_revision == again > deleted_at


async def test_typed_errors(store, prefix):
    key = prefix + "k"
    rev = await store.create(key, b"v")
    with pytest.raises(KeyExistsError):
        await store.create(key, b"other")
    with pytest.raises(ConflictError) as conflict:
        await store.update(key, b"x", rev + 1000)
    assert conflict.value.current.mod_revision == rev and conflict.value.current.value == b"v"
    with pytest.raises(ConflictError):
        await store.update(key, b"x", 0)
    with pytest.raises(ConflictError):
        await store.delete(key, rev + 1000)
    with pytest.raises(KeyNotFoundError):
        await store.update(prefix + "missing", b"x", rev)
    with pytest.raises(KeyNotFoundError):
        await store.delete(prefix + "missing")
    with pytest.raises(FutureRevisionError):
        await store.get(key, await store.current_revision() + 100)
    with pytest.raises(StoreError):
        await store.create("", b"x")
    with pytest.raises(StoreError):
        await store.create(prefix + "s", "not bytes")
    assert (await store.get(key)).value == b"v"  # nothing above changed it


async def test_revision_only_grows_and_failed_writes_take_none(store, prefix):
    first = await store.current_revision()
    rev = await store.create(prefix + "a", b"1")
    assert rev > first and await store.current_revision() >= rev
    with pytest.raises(KeyExistsError):
        await store.create(prefix + "a", b"1")
    with pytest.raises(ConflictError):
        await store.update(prefix + "a", b"2", rev + 5)
    assert await store.current_revision() == rev
    revisions = [await store.create(f"{prefix}n{i}", b"x") for i in range(20)]
    assert revisions == sorted(revisions) and len(set(revisions)) == 20


async def test_list_prefix_limit_and_continuation(store, prefix):
    for name in ["b", "a", "c", "d", "e"]:
        await store.create(prefix + "items/" + name, name.encode())
    await store.create(prefix + "itemsX", b"not under items/")
    await store.create(prefix + "items/c2", b"c2")
    await store.delete(prefix + "items/c2")

    full = await store.list(prefix + "items/")
    assert [kv.key.rsplit("/", 1)[1] for kv in full.items] == ["a", "b", "c", "d", "e"]
    assert not full.more and full.revision == await store.current_revision()
    assert await store.count(prefix + "items/") == 5

    page = await store.list(prefix + "items/", limit=2)
    pages = [page]
    while page.more:
        page = await store.list(prefix + "items/", revision=pages[0].revision, limit=2,
                                start_after=page.items[-1].key)
        pages.append(page)
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert [kv for p in pages for kv in p.items] == full.items
    assert all(p.revision == full.revision for p in pages)
    assert (await store.list(prefix + "nothing/")).items == []


async def test_eight_concurrent_writers_lose_no_increment(store, prefix):
    key = prefix + "counter"
    await store.create(key, b"0")
    per_writer = 15

    async def writer() -> int:
        conflicts = 0
        for _ in range(per_writer):
            while True:
                current = await store.get(key)
                try:
                    await store.update(key, str(int(current.value) + 1).encode(), current.mod_revision)
                    break
                except ConflictError:
                    conflicts += 1
        return conflicts

    conflicts = await asyncio.gather(*[writer() for _ in range(8)])
    assert int((await store.get(key)).value) == 8 * per_writer
    assert sum(conflicts) > 0  # the writers really raced


async def _random_workload(store, prefix: str, steps: int, seed: int) -> list[tuple]:
    """Random creates/updates/deletes under prefix; the committed log as ``describe`` tuples."""
    rng = random.Random(seed)
    live: dict[str, tuple[bytes, int]] = {}
    history = []
    for step in range(steps):
        key = f"{prefix}k{rng.randrange(12)}"
        value = f"v{step}".encode()
        if key not in live:
            rev = await store.create(key, value)
            history.append((rev, "CREATE", key, value, None))
            live[key] = (value, rev)
        elif rng.random() < 0.3:
            old, mod = live.pop(key)
            rev, deleted = await store.delete(key, mod)
            assert deleted.value == old
            history.append((rev, "DELETE", key, old, old))
        else:
            old, mod = live[key]
            rev = await store.update(key, value, mod)
            history.append((rev, "UPDATE", key, value, old))
            live[key] = (value, rev)
    return history


async def test_watches_from_random_revisions_equal_the_log(store, prefix):
    start = await store.current_revision()
    live_watch = store.watch(prefix, start)
    history = await _random_workload(store, prefix, 120, seed=7)
    last = history[-1][0]
    assert [describe(e) for e in await collect_until(live_watch, last)] == history
    await live_watch.close()

    rng = random.Random(11)
    for after in [start, *rng.sample([h[0] for h in history], 6)]:
        watch = store.watch(prefix, after)
        try:
            got = [describe(e) for e in await collect_until(watch, last)]
        finally:
            await watch.close()
        assert got == [h for h in history if h[0] > after]


async def test_list_then_watch_has_no_gap(store, prefix):
    for i in range(10):
        await store.create(f"{prefix}{i}", b"0")
    stop = asyncio.Event()

    async def churn() -> None:
        rng = random.Random(3)
        n = 0
        while not stop.is_set():
            key = f"{prefix}{rng.randrange(14)}"
            current = await store.get(key)
            try:
                if current is None:
                    await store.create(key, b"c")
                elif rng.random() < 0.2:
                    await store.delete(key, current.mod_revision)
                else:
                    await store.update(key, str(n).encode(), current.mod_revision)
            except (ConflictError, KeyExistsError, KeyNotFoundError):
                pass
            n += 1
            await asyncio.sleep(0)

    writer = asyncio.create_task(churn())
    await asyncio.sleep(0.05)
    listed = await store.list(prefix)
    state = {kv.key: kv.value for kv in listed.items}
    watch = store.watch(prefix, listed.revision)
    await asyncio.sleep(0.1)
    stop.set()
    await writer
    marker = await store.create(prefix + "zz-end", b"end")
    for event in await collect_until(watch, marker):
        if event.type is EventType.DELETE:
            del state[event.kv.key]
        else:
            state[event.kv.key] = event.kv.value
    await watch.close()
    assert state == {kv.key: kv.value for kv in (await store.list(prefix)).items}


async def test_paged_list_at_a_past_revision_is_one_snapshot_while_writing(store, prefix):
    for i in range(40):
        await store.create(f"{prefix}{i:03d}", f"v{i}".encode())
    snapshot = await store.list(prefix)
    stop = asyncio.Event()

    async def churn() -> None:
        i = 0
        while not stop.is_set():
            key = f"{prefix}{i % 45:03d}"
            current = await store.get(key)
            if current is None:
                await store.create(key, b"new")
            elif i % 3 == 0:
                await store.delete(key, current.mod_revision)
            else:
                await store.update(key, b"changed", current.mod_revision)
            i += 1

    writer = asyncio.create_task(churn())
    try:
        items, start_after = [], ""
        while True:
            page = await store.list(prefix, revision=snapshot.revision, limit=7, start_after=start_after)
            items += page.items
            await asyncio.sleep(0.01)
            if not page.more:
                break
            start_after = page.items[-1].key
    finally:
        stop.set()
        await writer
    assert await store.current_revision() > snapshot.revision + 10
    assert items == snapshot.items


async def test_reads_and_watches_below_the_compacted_revision_fail(store, prefix):
    key = prefix + "a"
    rev = await store.create(key, b"0")
    for i in range(5):
        rev = await store.update(key, str(i + 1).encode(), rev)
    old = rev - 3
    await store.create(prefix + "b", b"b")
    compact_at = await store.current_revision()
    await store.compact(compact_at)
    assert await store.compact_revision() == compact_at
    with pytest.raises(CompactedError):
        await store.get(key, old)
    with pytest.raises(CompactedError):
        await store.list(prefix, revision=old)
    watch = store.watch(prefix, old)
    with pytest.raises(CompactedError):
        async for _ in watch:
            pass
    await watch.close()
    # at and after the compacted revision everything still reads
    assert (await store.get(key, compact_at)).value == b"5"
    assert [kv.key for kv in (await store.list(prefix, revision=compact_at)).items] == [key, prefix + "b"]
    await store.compact(compact_at - 1)  # older than what is compacted: a no-op
    watch = store.watch(prefix, compact_at)
    nxt = await store.update(key, b"after", rev)
    assert [describe(e) for e in await collect_until(watch, nxt)] == [(nxt, "UPDATE", key, b"after", b"5")]
    await watch.close()


async def test_values_over_the_limit_are_refused_and_change_nothing(store, prefix):
    key = prefix + "big"
    rev = await store.create(key, b"small")
    before = await store.current_revision()
    with pytest.raises(ValueTooLargeError):
        await store.create(prefix + "big2", b"x" * (MAX_VALUE_BYTES + 1))
    with pytest.raises(ValueTooLargeError):
        await store.update(key, b"x" * (MAX_VALUE_BYTES + 1), rev)
    assert await store.current_revision() == before
    assert await store.get(prefix + "big2") is None
    assert (await store.get(key)).value == b"small"
    at_limit = await store.update(key, b"y" * MAX_VALUE_BYTES, rev)
    assert len((await store.get(key, at_limit)).value) == MAX_VALUE_BYTES


async def test_watch_close_ends_iteration(store, prefix):
    watch = store.watch(prefix, await store.current_revision())

    async def drain() -> list:
        return [event async for event in watch]

    task = asyncio.create_task(drain())
    await store.create(prefix + "x", b"1")
    await asyncio.sleep(0.1)
    await watch.close()
    events = await asyncio.wait_for(task, 5)
    assert [e.kv.key for e in events] == [prefix + "x"]
