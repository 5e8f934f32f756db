"""The embedded store: an append-only revision log in one SQLite file (WAL), as kine does it.

    event loop ──create/update/delete──► LogWriter thread (group commit, BEGIN IMMEDIATE)
               ──get/list/count────────► reader threads (one connection each; WAL lets reads run
                                         beside the writer and see a consistent snapshot)
               ──current_revision──────► the loop's own connection (one single-row read)
               ◄──watch events────────── WatchHub (this process's commits at once; other
                                         processes' rows by tailing the log every poll_interval)
               ── Compactor task ──────► LogWriter (logical compaction, then chunked deletes)

Durability: with synchronous=FULL (the default) a write is acknowledged only after its commit has
been fsynced to the WAL, so it survives kill -9 and power loss; NORMAL survives kill -9 but may lose
the last commits on power loss.

``sqlite://:memory:`` gives a private database in a temporary directory (on /dev/shm when there is
one) removed on close: the same code path as a file, so tests exercise what production runs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from kybernetes.store import sqlite_log as log
from kybernetes.store.compactor import CompactionPolicy, Compactor
from kybernetes.store.interface import (
    MAX_VALUE_BYTES,
    CompactedError,
    Event,
    FutureRevisionError,
    KeyValue,
    ListResult,
    StoreError,
    StoreUnavailableError,
    ValueTooLargeError,
)
from kybernetes.store.sqlite_watch import TAIL_PAGE, LogWatch, WatchHub
from kybernetes.store.sqlite_writer import LogWriter

T = TypeVar("T")

SYNCHRONOUS_MODES = ("FULL", "NORMAL", "OFF", "EXTRA")


class SqliteStore:
    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "FULL",
        poll_interval: float = 0.02,
        readers: int = 4,
        compaction: CompactionPolicy | None = None,
        temp_dir: str | None = None,
    ):
        mode = str(synchronous).upper()
        if mode not in SYNCHRONOUS_MODES:
            raise StoreError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, not {synchronous!r}")
        if poll_interval <= 0:
            raise StoreError(f"poll_interval must be positive, not {poll_interval!r}")
        self.path = path
        self._synchronous = mode
        self._poll_interval = poll_interval
        self._reader_count = max(1, int(readers))
        self._compaction = compaction or CompactionPolicy()
        self._temp_dir = temp_dir
        self._readers: ThreadPoolExecutor | None = None
        self._reader_conns: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._writer: LogWriter | None = None
        self._hub: WatchHub | None = None
        self._compactor: Compactor | None = None
        self._closed = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._hub = WatchHub(self._read_after, self._poll_interval, 0, changed=self._data_changed)
            # The writer creates the schema, so it must exist before readers look at the file.
            self._writer = await asyncio.to_thread(
                LogWriter, self.path, self._synchronous, loop, self._hub.on_commit
            )
            self._writer.start()
            self._readers = ThreadPoolExecutor(self._reader_count, thread_name_prefix="kyb-sqlite-read")
            # Used on the event loop thread only, for PRAGMA data_version (a shared-memory read).
            self._version_conn = log.connect(self.path, self._synchronous)
            self._data_version = -1
            self._hub.last_seen = await self._read(log.current_revision)
        except sqlite3.Error as error:
            await self.close()
            raise StoreUnavailableError(f"cannot open sqlite store {self.path}: {error}") from None
        self._hub.start()
        self._compactor = Compactor(self, self._compaction)
        self._compactor.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._compactor is not None:
            await self._compactor.stop()
        if self._hub is not None:
            await self._hub.stop()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.close)
        if self._readers is not None:
            self._readers.shutdown(wait=True)
        for conn in self._reader_conns:
            conn.close()
        if getattr(self, "_version_conn", None) is not None:
            self._version_conn.close()
            self._version_conn = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def _data_changed(self) -> bool:
        """True when some connection (ours or another process's) committed since the last call
        and the log holds what the hub has not published: rows above ``last_seen`` or a
        compaction past it. Our own commits change data_version too, but the hub has them
        already; two one-page reads here spare the tail a reader-thread query per commit."""
        conn = getattr(self, "_version_conn", None)
        if conn is None or self._hub is None:
            return True
        try:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version == self._data_version:
                return False
            self._data_version = version
            seen = self._hub.last_seen
            return log.current_revision(conn) > seen or log.meta_value(conn, log.COMPACT_KEY) - 1 > seen
        except sqlite3.Error:
            return True

    # --- reads ---------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = log.connect(self.path, self._synchronous)
            self._local.conn = conn
            self._reader_conns.append(conn)
        return conn

    def _in_snapshot(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            return work(conn)
        finally:
            conn.execute("COMMIT")

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a reader thread inside one read transaction (one consistent snapshot)."""
        if self._closed or self._readers is None:
            raise StoreUnavailableError("store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._readers, self._in_snapshot, work)
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"sqlite read failed: {error}") from None
        except RuntimeError as error:  # executor shut down under us
            raise StoreUnavailableError(f"store is closed: {error}") from None

    @staticmethod
    def _check_revision(conn: sqlite3.Connection, revision: int) -> int:
        """The revision to read at (``revision`` or the current one), or a typed error."""
        current = log.current_revision(conn)
        if revision <= 0:
            return current
        if revision > current:
            raise FutureRevisionError(revision, current)
        compacted = log.meta_value(conn, log.COMPACT_KEY)
        if revision < compacted:
            raise CompactedError(revision, compacted)
        return revision

    async def current_revision(self) -> int:
        """The highest revision committed, by any connection. Asked for on most writes (admission
        reads the caches at it), so it is one single-row query on the loop's own connection
        (autocommit: it sees every commit made before it), as ``_data_changed`` runs there too: a
        hop to a reader thread and back costs some ten times the query's CPU."""
        conn = getattr(self, "_version_conn", None)
        if conn is None or self._closed:
            return await self._read(log.current_revision)
        try:
            return log.current_revision(conn)
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"sqlite read failed: {error}") from None

    async def compact_revision(self) -> int:
        return await self._read(lambda conn: log.meta_value(conn, log.COMPACT_KEY))

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        def work(conn: sqlite3.Connection) -> KeyValue | None:
            at = self._check_revision(conn, revision) if revision else 0
            row = log.latest_row(conn, key, at)
            return None if row is None or row.deleted else row.as_key_value()

        return await self._read(work)

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        def work(conn: sqlite3.Connection) -> ListResult:
            at = self._check_revision(conn, revision)
            rows, more = log.list_latest(conn, prefix, at, limit, start_after)
            return ListResult([row.as_key_value() for row in rows], at, more)

        return await self._read(work)

    async def count(self, prefix: str) -> int:
        return await self._read(lambda conn: log.count_latest(conn, prefix, log.current_revision(conn)))

    # --- writes --------------------------------------------------------------------------------

    def _submit(self, kind: str, key: str, value: bytes = b"", expected: int = 0) -> asyncio.Future:
        if self._closed or self._writer is None:
            raise StoreUnavailableError("store is closed")
        if not isinstance(key, str) or not key:
            raise StoreError(f"key must be a non-empty string, not {key!r}")
        if not isinstance(value, bytes | bytearray | memoryview):
            raise StoreError(f"value for {key!r} must be bytes, not {type(value).__name__}")
        if len(value) > MAX_VALUE_BYTES:
            raise ValueTooLargeError(key, len(value))
        return self._writer.submit(kind, key, bytes(value), int(expected))

    async def create(self, key: str, value: bytes) -> int:
        return await self._submit("create", key, value)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        return await self._submit("update", key, value, expected_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        return await self._submit("delete", key, b"", expected_revision)

    async def compact(self, revision: int) -> None:
        if self._closed or self._writer is None:
            raise StoreUnavailableError("store is closed")
        await self._writer.submit("compact", "", b"", int(revision))

    # --- watch ---------------------------------------------------------------------------------

    def watch(self, prefix: str, after_revision: int) -> LogWatch:
        if self._closed or self._hub is None:
            raise StoreUnavailableError("store is closed")
        watch = LogWatch(self._hub, prefix, max(0, int(after_revision)), self._read_history)
        self._hub.subscribe(watch)
        return watch

    async def _read_after(self, after: int) -> tuple[list[Event], int]:
        def work(conn: sqlite3.Connection) -> tuple[list[Event], int]:
            rows = log.rows_between(conn, after, 0, "", TAIL_PAGE)
            return [row.as_event() for row in rows], log.meta_value(conn, log.COMPACT_KEY)

        return await self._read(work)

    async def _read_history(self, prefix: str, after: int, upto: int) -> list[Event]:
        """Events in (after, upto] under prefix, paged; CompactedError if the first may be gone."""
        events: list[Event] = []
        start = after
        while True:
            def work(conn: sqlite3.Connection, start: int = start) -> list[Event]:
                compacted = log.meta_value(conn, log.COMPACT_KEY)
                if after + 1 < compacted:
                    raise CompactedError(after, compacted)
                return [row.as_event() for row in log.rows_between(conn, start, upto, prefix, TAIL_PAGE)]

            page = await self._read(work)
            events += page
            if len(page) < TAIL_PAGE:
                return events
            start = page[-1].revision


async def open_sqlite(location: str, **options) -> SqliteStore:
    """``location`` is a file path or ":memory:" (a private temporary database)."""
    temp_dir = None
    if location == ":memory:":
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        temp_dir = tempfile.mkdtemp(prefix="kyb-store-", dir=base)
        location = os.path.join(temp_dir, "state.db")
        options.setdefault("synchronous", "OFF")
    elif not os.path.isabs(location):
        raise StoreError(f"sqlite store path must be absolute, not {location!r}")
    else:
        parent = os.path.dirname(location)
        if not os.path.isdir(parent):
            raise StoreUnavailableError(f"directory {parent} does not exist")
    try:
        store = SqliteStore(location, temp_dir=temp_dir, **options)
    except BaseException:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    await store.start()  # on failure it closes itself, temp dir included
    return store
