"""What only the SQLite backend promises: durability under kill -9, several store instances and
processes on one file, group commit, physical compaction, watch latency."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from kybernetes.store import EventType, open_store
from tests.store.conftest import QUIET, ROOT
from tests.store.helpers import collect_until, describe

# A child process that writes as fast as it can (8 concurrent writers, so group commit is in play)
# and prints every write the store acknowledged: "revision key value".
WRITER_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from kybernetes.store import open_store

    async def main(url, prefix, count):
        store = await open_store(url, compaction_interval=3600)
        async def writer(w):
            rev = 0
            for i in range(count):
                key = f"{prefix}w{w}"
                value = f"{w}-{i}".encode()
                rev = await (store.create(key, value) if i == 0 else store.update(key, value, rev))
                print(rev, key, value.decode(), flush=True)
        await asyncio.gather(*[writer(w) for w in range(8)])
        await store.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def _child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "src"), env.get("PYTHONPATH", "")])
    return env


def _start_writer(url: str, prefix: str, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER_CHILD, url, prefix, str(count)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env(), text=True,
    )


def _parse(lines: list[str]) -> list[tuple[int, str, bytes]]:
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:  # a line cut by the kill is not an acknowledgement
            out.append((int(parts[0]), parts[1], parts[2].encode()))
    return out


async def test_acknowledged_writes_survive_kill_9(tmp_path):
    url = f"sqlite://{tmp_path}/state.db"
    rng = random.Random()
    for round_number in range(3):
        child = _start_writer(url, f"/r{round_number}/", 100_000)
        lines: list[str] = []
        reader = threading.Thread(target=lines.extend, args=(child.stdout,), daemon=True)
        try:
            reader.start()
            deadline = time.monotonic() + 15
            while not lines and time.monotonic() < deadline and child.poll() is None:
                await asyncio.sleep(0.01)
            assert lines, f"the writer never acknowledged a write: {child.stderr.read()}"
            await asyncio.sleep(rng.uniform(0.05, 0.5))  # a random moment mid-stream
            child.kill()
            child.wait(timeout=10)
            reader.join(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
            child.stderr.close()
        acknowledged = _parse(lines)
        assert len(acknowledged) > 8
        store = await open_store(url, **QUIET)
        try:
            for revision, key, value in acknowledged:
                kv = await store.get(key, revision)
                assert kv is not None and (kv.mod_revision, kv.value) == (revision, value)
            assert await store.current_revision() >= max(r for r, _, _ in acknowledged)
        finally:
            await store.close()


async def test_two_stores_on_one_file_see_each_others_writes(tmp_path):
    url = f"sqlite://{tmp_path}/state.db"
    first = await open_store(url, poll_interval=0.01, **QUIET)
    second = await open_store(url, poll_interval=0.01, **QUIET)
    try:
        start = await first.current_revision()
        watches = [first.watch("/shared/", start), second.watch("/shared/", start)]
        history = []
        for i in range(30):
            writer = first if i % 2 else second
            rev = await writer.create(f"/shared/{i:02d}", str(i).encode())
            history.append((rev, "CREATE", f"/shared/{i:02d}", str(i).encode(), None))
        concurrent = await asyncio.gather(*[(first, second)[i % 2].create(f"/shared/c{i}", b"c") for i in range(20)])
        last = max(concurrent)
        for watch in watches:
            got = await collect_until(watch, last)
            assert [describe(e) for e in got[:30]] == history
            revisions = [e.revision for e in got]
            assert revisions == sorted(set(revisions)) and set(concurrent) <= set(revisions)
            await watch.close()
    finally:
        await first.close()
        await second.close()


async def test_another_process_writes_reach_our_watch_in_order(tmp_path):
    url = f"sqlite://{tmp_path}/state.db"
    store = await open_store(url, poll_interval=0.01, **QUIET)
    try:
        watch = store.watch("/child/", await store.current_revision())
        child = _start_writer(url, "/child/", 5)
        out, err = await asyncio.to_thread(child.communicate, timeout=60)
        assert child.returncode == 0, err
        acknowledged = sorted(_parse(out.splitlines()))
        got = await collect_until(watch, acknowledged[-1][0])
        assert [(e.revision, e.kv.key, e.kv.value) for e in got] == acknowledged
        assert got[0].type is EventType.CREATE
        await watch.close()
    finally:
        await store.close()


async def test_concurrent_writes_are_group_committed(tmp_path):
    store = await open_store(f"sqlite://{tmp_path}/state.db", **QUIET)
    try:
        before = store._writer.commits
        revisions = await asyncio.gather(*[store.create(f"/g/{i}", b"x") for i in range(200)])
        commits = store._writer.commits - before
        assert sorted(revisions) == list(range(min(revisions), min(revisions) + 200))
        assert commits < 100, f"200 concurrent writes took {commits} transactions"
    finally:
        await store.close()


async def test_a_failed_condition_in_a_batch_does_not_affect_the_others(tmp_path):
    store = await open_store(f"sqlite://{tmp_path}/state.db", **QUIET)
    try:
        results = await asyncio.gather(
            store.create("/b/x", b"1"), store.create("/b/x", b"2"), store.create("/b/y", b"3"),
            return_exceptions=True,
        )
        assert isinstance(results[0], int) and isinstance(results[2], int)
        assert type(results[1]).__name__ == "KeyExistsError"
        assert (await store.get("/b/x")).value == b"1"
    finally:
        await store.close()


async def test_in_process_watch_latency_p99_under_50ms(tmp_path):
    store = await open_store(f"sqlite://{tmp_path}/state.db", synchronous="NORMAL", **QUIET)
    try:
        watch = store.watch("/lat/", await store.current_revision())
        latencies = []
        for i in range(200):
            started = time.perf_counter()
            rev = await store.create(f"/lat/{i}", b"x")
            event = await asyncio.wait_for(watch.__anext__(), 5)
            latencies.append(time.perf_counter() - started)
            assert event.revision == rev
        latencies.sort()
        assert latencies[int(len(latencies) * 0.99)] < 0.05
        await watch.close()
    finally:
        await store.close()


async def test_compaction_removes_superseded_rows_and_keeps_the_state(tmp_path):
    path = tmp_path / "state.db"
    store = await open_store(f"sqlite://{path}", **QUIET)
    try:
        rev = await store.create("/c/kept", b"0")
        for i in range(50):
            rev = await store.update("/c/kept", str(i).encode(), rev)
        gone = await store.create("/c/gone", b"g")
        await store.delete("/c/gone", gone)
        last = await store.create("/c/last", b"l")
        before = await store.list("/c/", revision=last)
        await store.compact(last)
        for _ in range(200):  # physical deletion runs in the background after compact returns
            with sqlite3.connect(path) as raw:
                rows = raw.execute("SELECT COUNT(*) FROM kine").fetchone()[0]
            if rows == 2:
                break
            await asyncio.sleep(0.01)
        assert rows == 2  # the newest /c/kept and /c/last
        assert await store.list("/c/", revision=last) == before
        assert (await store.get("/c/kept")).value == b"49"
    finally:
        await store.close()


async def test_reopening_keeps_data_and_the_revision_keeps_growing(tmp_path):
    url = f"sqlite://{tmp_path}/state.db"
    store = await open_store(url, **QUIET)
    rev = await store.create("/p/a", b"1")
    await store.delete("/p/a")
    last = await store.current_revision()
    await store.close()
    store = await open_store(url, **QUIET)
    try:
        assert await store.current_revision() == last
        assert (await store.get("/p/a", rev)).value == b"1"
        assert await store.create("/p/a", b"2") == last + 1
    finally:
        await store.close()


async def test_memory_store_leaves_nothing_behind():
    store = await open_store("sqlite://:memory:")
    directory = os.path.dirname(store.path)
    await store.create("/m/a", b"1")
    assert os.path.isdir(directory)
    await store.close()
    assert not os.path.exists(directory)


@pytest.mark.parametrize("mode", ["FULL", "NORMAL"])
async def test_synchronous_mode_is_applied(tmp_path, mode):
    store = await open_store(f"sqlite://{tmp_path}/state.db", synchronous=mode, **QUIET)
    try:
        level = store._writer._conn.execute("PRAGMA synchronous").fetchone()[0]
        assert level == {"FULL": 2, "NORMAL": 1}[mode]
    finally:
        await store.close()
