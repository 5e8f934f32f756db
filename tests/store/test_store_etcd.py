"""What only the etcd backend promises: it keeps working when one of three members dies."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.store import StoreError, StoreUnavailableError, open_store
from tests.store.conftest import QUIET
from tests.store.helpers import collect_until, describe
from tests.support.etcd_cluster import EtcdCluster


@pytest.fixture
def etcd_trio():
    """A fresh 3-member cluster per test: the test kills one of them."""
    with EtcdCluster(size=3) as cluster:
        yield cluster


@pytest.mark.parametrize("victim", ["leader", "follower"])
async def test_survives_the_loss_of_one_of_three_members(etcd_trio, victim):
    store = await open_store(etcd_trio.store_url, timeout=15, **QUIET)
    try:
        prefix = f"/failover/{victim}/"
        start = await store.current_revision()
        watch = store.watch(prefix, start)
        history = []
        rev = await store.create(prefix + "counter", b"0")
        history.append((rev, "CREATE", prefix + "counter", b"0", None))
        for i in range(1, 11):
            new = await store.update(prefix + "counter", str(i).encode(), rev)
            history.append((new, "UPDATE", prefix + "counter", str(i).encode(), str(i - 1).encode()))
            rev = new
        leader = etcd_trio.leader_index()
        assert leader is not None
        target = leader if victim == "leader" else (leader + 1) % 3
        etcd_trio.kill(target)
        for i in range(11, 31):  # every write still succeeds (retried through the election)
            new = await store.update(prefix + "counter", str(i).encode(), rev)
            history.append((new, "UPDATE", prefix + "counter", str(i).encode(), str(i - 1).encode()))
            rev = new
        assert (await store.get(prefix + "counter")).value == b"30"
        assert [describe(e) for e in await collect_until(watch, rev, timeout=20)] == history
        await watch.close()
    finally:
        await store.close()


async def test_unreachable_etcd_is_a_typed_error():
    from tests.support.etcd_cluster import free_port

    with pytest.raises(StoreUnavailableError):
        await open_store(f"etcd://127.0.0.1:{free_port()}", timeout=0.5)


@pytest.mark.parametrize("url", ["etcd://", "etcd://127.0.0.1", "etcd://127.0.0.1:notaport", "etcd://:2379"])
async def test_bad_etcd_urls_are_typed_errors(url):
    with pytest.raises(StoreError):
        await open_store(url)


async def test_a_watch_outliving_its_etcd_ends_with_a_typed_error():
    cluster = EtcdCluster(size=1)
    cluster.start()
    try:
        store = await open_store(cluster.store_url, timeout=1, **QUIET)
        try:
            watch = store.watch("/w/", 0)
            rev = await store.create("/w/a", b"1")
            assert [e.revision for e in await collect_until(watch, rev)] == [rev]
            cluster.kill(0)
            with pytest.raises(StoreUnavailableError):
                await asyncio.wait_for(watch.__anext__(), 10)
            with pytest.raises(StoreUnavailableError):
                await store.get("/w/a")
        finally:
            await store.close()
    finally:
        cluster.stop()
