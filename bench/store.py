"""Store benchmark: durable single-object writes per second, each backend against its raw baseline,
measured in the same run on the same machine.

    1. SQLite store, sequential create/update         vs  bare kine-shaped compare-and-swap
                                                          (plain sqlite3, same table, same
                                                          synchronous mode, one txn per write)
    2. SQLite store, 32 concurrent writers creating    vs  raw inserts, 10 rows per transaction,
       keys (group commit; updates also reported)          same key pattern
    3. etcd store, conditional txn writes              vs  bare etcd Put with the same gRPC stubs,
       (sequential and 32 concurrent)                      same concurrency

Goals: 1 >= 25 %, 2 >= 50 %, 3 >= 30 % of the baseline. Prints readable figures, then as the LAST
line one JSON object with every figure, baseline and ratio. ``--quick`` runs in well under a minute.
Starts its own single-member etcd (tests/support/etcd_cluster.py) and removes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "src"))

import grpc  # noqa: E402
from aetcd import rpc  # noqa: E402
from tests.support.etcd_cluster import EtcdCluster  # noqa: E402

from kybernetes.store import open_store  # noqa: E402
from kybernetes.store.sqlite_log import INSERT_ROW, SCHEMA  # noqa: E402

VALUE = b"x" * 512  # about the size of a small Kubernetes object
CONCURRENCY = 32
QUIET = {"compaction_interval": 3600}


# --- raw SQLite baselines -----------------------------------------------------------------------


def _raw_connection(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.executescript(SCHEMA)
    return conn


def raw_sqlite_cas(path: str, synchronous: str, count: int) -> float:
    """Writes/s of a bare kine-shaped compare-and-swap: read newest row, check, append; one txn each."""
    conn = _raw_connection(path, synchronous)
    try:
        started = time.perf_counter()
        for i in range(count):
            name = f"/raw/{i % 100}"
            conn.execute("BEGIN IMMEDIATE")
            latest = conn.execute(
                "SELECT id, create_revision, deleted, value FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1",
                (name,),
            ).fetchone()
            next_id = (conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'kine'").fetchone() or (0,))[0] + 1
            if latest is None:
                conn.execute(INSERT_ROW, (next_id, name, 1, 0, next_id, 0, VALUE, None))
            else:
                conn.execute(INSERT_ROW, (next_id, name, 0, 0, latest[1], latest[0], VALUE, latest[3]))
            conn.execute("COMMIT")
        return count / (time.perf_counter() - started)
    finally:
        conn.close()


def raw_sqlite_batched(path: str, synchronous: str, count: int, per_txn: int = 10) -> float:
    """Rows/s of plain inserts, ``per_txn`` rows per transaction. The names follow the same pattern
    as the store's concurrent workload (CONCURRENCY interleaved streams of new keys), so both
    touch the same number of index pages per row."""
    conn = _raw_connection(path, synchronous)
    try:
        next_id = (conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'kine'").fetchone() or (0,))[0] + 1
        started = time.perf_counter()
        for batch in range(count // per_txn):
            conn.execute("BEGIN IMMEDIATE")
            for j in range(per_txn):
                k = batch * per_txn + j
                name = f"/rawb/{k % CONCURRENCY}/{k // CONCURRENCY}"
                conn.execute(INSERT_ROW, (next_id, name, 1, 0, next_id, 0, VALUE, None))
                next_id += 1
            conn.execute("COMMIT")
        return (count // per_txn) * per_txn / (time.perf_counter() - started)
    finally:
        conn.close()


# --- store workloads ----------------------------------------------------------------------------


async def store_sequential(store, prefix: str, count: int) -> float:
    """Writes/s, one at a time: a create, then updates of the same 100 keys."""
    revisions: dict[str, int] = {}
    started = time.perf_counter()
    for i in range(count):
        key = f"{prefix}{i % 100}"
        if key in revisions:
            revisions[key] = await store.update(key, VALUE, revisions[key])
        else:
            revisions[key] = await store.create(key, VALUE)
    return count / (time.perf_counter() - started)


async def store_concurrent(store, prefix: str, count: int, writers: int = CONCURRENCY, creates: bool = False) -> float:
    """Writes/s with ``writers`` tasks, each updating its own key (or creating new keys)."""
    per_writer = max(1, count // writers)

    async def writer(w: int) -> None:
        if creates:
            for j in range(per_writer):
                await store.create(f"{prefix}{w}/{j}", VALUE)
            return
        key = f"{prefix}{w}"
        rev = await store.create(key, VALUE)
        for _ in range(per_writer - 1):
            rev = await store.update(key, VALUE, rev)

    started = time.perf_counter()
    await asyncio.gather(*[writer(w) for w in range(writers)])
    return per_writer * writers / (time.perf_counter() - started)


async def raw_etcd_puts(endpoint: str, count: int, writers: int) -> float:
    """Writes/s of bare etcd Puts through the same gRPC stubs, ``writers`` at a time."""
    channel = grpc.aio.insecure_channel(endpoint)
    try:
        kv = rpc.KVStub(channel)
        await kv.Put(rpc.PutRequest(key=b"/rawput/warm", value=VALUE))
        per_writer = max(1, count // writers)

        async def writer(w: int) -> None:
            for _ in range(per_writer):
                await kv.Put(rpc.PutRequest(key=f"/rawput/{w}".encode(), value=VALUE))

        started = time.perf_counter()
        await asyncio.gather(*[writer(w) for w in range(writers)])
        return per_writer * writers / (time.perf_counter() - started)
    finally:
        await channel.close()


async def watch_latency_p99_ms(writer, watcher, prefix: str, count: int) -> float:
    """p99 milliseconds from issuing a write on ``writer`` to its event arriving on ``watcher``."""
    watch = watcher.watch(prefix, await writer.current_revision())
    latencies = []
    try:
        for i in range(count):
            started = time.perf_counter()
            rev = await writer.create(f"{prefix}{i}", VALUE)
            while (await asyncio.wait_for(watch.__anext__(), 10)).revision < rev:
                pass
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.002)
    finally:
        await watch.close()
    latencies.sort()
    return latencies[int(len(latencies) * 0.99)] * 1000


# --- the run ------------------------------------------------------------------------------------


async def run(quick: bool, synchronous: str) -> dict:
    n_single = 1500 if quick else 6000
    n_group = 4000 if quick else 20000
    n_etcd = 800 if quick else 4000
    figures: dict = {"synchronous": synchronous, "quick": quick, "value_bytes": len(VALUE)}
    with tempfile.TemporaryDirectory(prefix="kyb-bench-") as tmp:
        figures["sqlite_raw_cas_per_s"] = raw_sqlite_cas(os.path.join(tmp, "raw1.db"), synchronous, n_single)
        figures["sqlite_raw_10_per_txn_rows_per_s"] = raw_sqlite_batched(
            os.path.join(tmp, "raw2.db"), synchronous, n_group
        )
        store = await open_store(f"sqlite://{tmp}/store.db", synchronous=synchronous, **QUIET)
        try:
            await store_sequential(store, "/warm/", 50)
            figures["sqlite_store_single_per_s"] = await store_sequential(store, "/seq/", n_single)
            figures["sqlite_store_32_writers_per_s"] = await store_concurrent(store, "/conc/", n_group, creates=True)
            figures["sqlite_store_32_writers_updates_per_s"] = await store_concurrent(store, "/upd/", n_group)
            other = await open_store(f"sqlite://{tmp}/store.db", synchronous=synchronous, **QUIET)
            try:
                figures["sqlite_watch_p99_ms_same_store"] = await watch_latency_p99_ms(store, store, "/lat1/", 200)
                figures["sqlite_watch_p99_ms_other_store"] = await watch_latency_p99_ms(store, other, "/lat2/", 200)
            finally:
                await other.close()
        finally:
            await store.close()

    with EtcdCluster(size=1) as cluster:
        endpoint = cluster.endpoints[0]
        store = await open_store(cluster.store_url, **QUIET)
        try:
            await store_sequential(store, "/warm/", 50)
            figures["etcd_raw_put_single_per_s"] = await raw_etcd_puts(endpoint, n_etcd, 1)
            figures["etcd_store_single_per_s"] = await store_sequential(store, "/seq/", n_etcd)
            figures["etcd_raw_put_32_writers_per_s"] = await raw_etcd_puts(endpoint, n_etcd * 2, CONCURRENCY)
            figures["etcd_store_32_writers_per_s"] = await store_concurrent(store, "/conc/", n_etcd * 2)
        finally:
            await store.close()

    ratios = {
        "sqlite_single_ratio": (figures["sqlite_store_single_per_s"] / figures["sqlite_raw_cas_per_s"], 0.25),
        "sqlite_group_commit_ratio": (
            figures["sqlite_store_32_writers_per_s"] / figures["sqlite_raw_10_per_txn_rows_per_s"], 0.50),
        "etcd_single_ratio": (figures["etcd_store_single_per_s"] / figures["etcd_raw_put_single_per_s"], 0.30),
        "etcd_32_writers_ratio": (
            figures["etcd_store_32_writers_per_s"] / figures["etcd_raw_put_32_writers_per_s"], 0.30),
    }
    for name, (ratio, goal) in ratios.items():
        figures[name] = round(ratio, 3)
        figures[name.replace("_ratio", "_goal")] = goal
        figures[name.replace("_ratio", "_meets_goal")] = ratio >= goal
    return {k: round(v, 2) if isinstance(v, float) and not k.endswith(("ratio", "goal")) else v
            for k, v in figures.items()}


def report(figures: dict) -> None:
    rows = [
        ("SQLite single writes", "sqlite_store_single_per_s", "raw kine-shaped CAS", "sqlite_raw_cas_per_s",
         "sqlite_single"),
        ("SQLite 32 writers (group commit)", "sqlite_store_32_writers_per_s", "raw 10 rows/txn",
         "sqlite_raw_10_per_txn_rows_per_s", "sqlite_group_commit"),
        ("etcd single writes", "etcd_store_single_per_s", "raw etcd Put", "etcd_raw_put_single_per_s",
         "etcd_single"),
        ("etcd 32 writers", "etcd_store_32_writers_per_s", "raw etcd Put x32", "etcd_raw_put_32_writers_per_s",
         "etcd_32_writers"),
    ]
    print(f"store write benchmark (synchronous={figures['synchronous']}, {figures['value_bytes']} B values)")
    for label, ours, base_label, base, ratio in rows:
        verdict = "ok" if figures[f"{ratio}_meets_goal"] else "BELOW GOAL"
        print(f"  {label:34s} {figures[ours]:9.0f}/s   {base_label:20s} {figures[base]:9.0f}/s"
              f"   {figures[f'{ratio}_ratio']:6.1%} (goal {figures[f'{ratio}_goal']:.0%}) {verdict}")
    print(f"  SQLite 32 writers updating their own key: {figures['sqlite_store_32_writers_updates_per_s']:.0f}/s")
    print(f"  SQLite watch commit-to-delivery p99: {figures['sqlite_watch_p99_ms_same_store']:.1f} ms same store,"
          f" {figures['sqlite_watch_p99_ms_other_store']:.1f} ms another store on the file (polling)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer writes; finishes in well under a minute")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()  # what the apiserver runs on
    except ImportError:
        pass
    figures = asyncio.run(run(args.quick, args.synchronous))
    report(figures)
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
