"""Background compaction: the policy (keep >= min_age seconds and >= min_revisions) against a fake
store and a fake clock, and the real thing against both backends."""

from __future__ import annotations

import asyncio

from kybernetes.store import CompactedError, open_store
from kybernetes.store.compactor import CompactionPolicy, Compactor


class FakeStore:
    def __init__(self):
        self.revision = 0
        self.compacted = 0

    async def current_revision(self) -> int:
        return self.revision

    async def compact_revision(self) -> int:
        return self.compacted

    async def compact(self, revision: int) -> None:
        self.compacted = revision


async def test_policy_keeps_min_age_and_min_revisions():
    store, now = FakeStore(), [0.0]
    compactor = Compactor(store, CompactionPolicy(interval=60, min_age=300, min_revisions=1000), lambda: now[0])
    for minute in range(5):  # 5000 revisions in the first 4 minutes: all younger than 300 s
        now[0] = minute * 60.0
        store.revision = minute * 1000 + 5000
        assert await compactor.run_once() == 0
    now[0], store.revision = 330.0, 12000
    # samples at >= 300 s old: t=0 (rev 5000) -> compact there (12000 - 1000 is newer)
    assert await compactor.run_once() == 5000
    now[0], store.revision = 400.0, 12100
    assert await compactor.run_once() == 6000  # the t=60 sample is now old enough
    now[0], store.revision = 100000.0, 12500
    assert await compactor.run_once() == 11500  # everything is old: keep 1000 revisions


async def test_background_compaction_runs_on_both_backends(store_url, prefix):
    store = await open_store(store_url, compaction_interval=0.05, compaction_min_age=0, compaction_min_revisions=5)
    try:
        first = await store.create(prefix + "a", b"0")
        rev = first
        for i in range(30):
            rev = await store.update(prefix + "a", str(i).encode(), rev)
        for _ in range(100):
            if await store.compact_revision() >= rev - 5:
                break
            await asyncio.sleep(0.02)
        assert rev - 5 <= await store.compact_revision() <= rev
        try:
            await store.get(prefix + "a", first)
            raise AssertionError("a read below the compacted revision succeeded")
        except CompactedError:
            pass
    finally:
        await store.close()
