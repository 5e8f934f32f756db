"""The one writer thread of a SQLite store, with group commit.

Callers on the event loop queue write requests; the thread takes everything queued (up to
``max_batch``) and applies it in ONE transaction, checking each request's condition in queue order
against the state the earlier requests of the same batch left behind. One commit (one fsync with
synchronous=FULL) then acknowledges the whole batch. Under load the batch grows by itself: while a
commit is in flight, new requests pile up and go into the next one.

Revisions across processes: every transaction starts with BEGIN IMMEDIATE, which takes SQLite's
single write lock before reading anything. So writers, in this process or any other sharing the
file, are serialised; each reads the highest id under the lock and appends above it, and commits
before releasing the lock. Commit order therefore equals id order, and a watcher that has seen id N
knows every row below N is already visible. The log tailer depends on exactly this.

After commit the thread hands the new rows and the callers' results to the loop in a single
callback, rows first: by the time a writer's ``await`` returns revision N, the store's watch hub has
already published N, so a watch opened at N never misses or repeats it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from kybernetes.store import sqlite_log as log
from kybernetes.store.interface import (
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    StoreUnavailableError,
)

logger = logging.getLogger(__name__)

COMPACT_CHUNK_REVISIONS = 1000


@dataclass(slots=True)
class WriteRequest:
    kind: str  # "create" | "update" | "delete" | "compact"
    key: str
    value: bytes
    expected: int
    future: asyncio.Future = field(repr=False)


class LogWriter:
    def __init__(
        self,
        path: str,
        synchronous: str,
        loop: asyncio.AbstractEventLoop,
        on_commit: Callable[[list[log.Row]], None],
        max_batch: int = 512,
    ):
        self._conn = log.connect(path, synchronous)
        log.init_schema(self._conn)
        self._loop = loop
        self._on_commit = on_commit
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[WriteRequest | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="kyb-sqlite-writer", daemon=True)
        self._closed = False
        self._compact_pending = False
        self.commits = 0  # write transactions committed (group commit packs many writes in one)

    def start(self) -> None:
        self._thread.start()

    def submit(self, kind: str, key: str, value: bytes = b"", expected: int = 0) -> asyncio.Future:
        future = self._loop.create_future()
        if self._closed:
            future.set_exception(StoreUnavailableError("store is closed"))
            return future
        self._queue.put(WriteRequest(kind, key, value, expected, future))
        return future

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._conn.close()

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            if self._compact_pending and self._queue.empty():
                self._compact_step()
                continue
            first = self._queue.get()
            batch: list[WriteRequest] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            while len(batch) < self._max_batch and not stopping:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                else:
                    batch.append(more)
            writes = [r for r in batch if r.kind != "compact"]
            if writes:
                self._commit(writes)
            for request in batch:
                if request.kind == "compact":
                    self._compact_start(request)
        for request in self._drain():
            self._resolve([], [(request, StoreUnavailableError("store is closed"))])

    def _drain(self) -> list[WriteRequest]:
        leftover = []
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                return leftover
            if request is not None:
                leftover.append(request)

    def _commit(self, batch: list[WriteRequest]) -> None:
        """Apply a batch in one transaction with a fixed, small number of SQLite calls.

        Each sqlite3 call releases and re-takes the GIL, and re-taking it can wait for the event
        loop thread's switch interval; so the batch reads the newest row of every key it touches in
        one query, decides every request in Python, and appends all rows with one executemany."""
        conn = self._conn
        outcomes: list[tuple[WriteRequest, object]] = []
        rows: list[log.Row] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                next_id = log.current_revision(conn) + 1
                latest = log.latest_rows(conn, list({request.key for request in batch}))
                for request in batch:
                    outcome = _apply(request, latest.get(request.key), next_id)
                    if isinstance(outcome, log.Row):
                        latest[request.key] = outcome
                        rows.append(outcome)
                        next_id += 1
                        outcomes.append((request, _result(request, outcome)))
                    else:
                        outcomes.append((request, outcome))
                if rows:
                    conn.executemany(
                        log.INSERT_ROW,
                        [(r.id, r.name, r.created, r.deleted, r.create_revision, r.prev_revision, r.value,
                          r.old_value) for r in rows],
                    )
                conn.execute("COMMIT")
                self.commits += 1
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except Exception as error:  # sqlite3.Error, or a bug: fail the batch, keep the thread alive
            if not isinstance(error, sqlite3.Error):
                logger.exception("sqlite write batch failed")
            else:
                logger.warning("sqlite write batch failed: %s", error)
            failure = StoreUnavailableError(f"sqlite write failed: {error}")
            self._resolve([], [(request, failure) for request in batch])
            return
        self._resolve(rows, outcomes)

    def _resolve(self, rows: list[log.Row], outcomes: list[tuple[WriteRequest, object]]) -> None:
        events = [row.as_event() for row in rows]
        try:
            self._loop.call_soon_threadsafe(_deliver, self._on_commit, events, outcomes)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    # --- compaction: logical at once, physical in chunks between write batches ---------------

    def _compact_start(self, request: WriteRequest) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = log.current_revision(conn)
                compacted = log.meta_value(conn, log.COMPACT_KEY)
                target = request.expected
                if target > current:
                    outcome: object = FutureRevisionError(target, current)
                elif target > compacted:
                    log.set_meta_value(conn, log.COMPACT_KEY, target)
                    outcome = None
                else:
                    outcome = None
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except Exception as error:
            outcome = StoreUnavailableError(f"sqlite compaction failed: {error}")
        self._compact_pending = outcome is None
        self._resolve([], [(request, outcome)])

    def _compact_step(self) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                target = log.meta_value(conn, log.COMPACT_KEY)
                done = log.meta_value(conn, log.COMPACT_DONE_KEY)
                upto = min(target, done + COMPACT_CHUNK_REVISIONS)
                if upto > done:
                    log.compact_chunk(conn, done, upto)
                    log.set_meta_value(conn, log.COMPACT_DONE_KEY, upto)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except Exception as error:
            logger.warning("sqlite compaction step failed: %s", error)
            self._compact_pending = False
            return
        self._compact_pending = upto < target


def _apply(request: WriteRequest, latest: log.Row | None, next_id: int) -> log.Row | Exception:
    """Check one request's condition against the key's newest row; the row to append or an error."""
    live = latest if latest is not None and not latest.deleted else None
    key = request.key
    if request.kind == "create":
        if live is not None:
            return KeyExistsError(key)
        prev = latest.id if latest is not None else 0
        return log.Row(next_id, key, 1, 0, next_id, prev, request.value, None)
    if live is None:
        return KeyNotFoundError(key)
    if request.kind == "update" and request.expected != live.id:
        return ConflictError(key, request.expected, live.as_key_value())
    if request.kind == "delete" and request.expected and request.expected != live.id:
        return ConflictError(key, request.expected, live.as_key_value())
    if request.kind == "update":
        return log.Row(next_id, key, 0, 0, live.create_revision, live.id, request.value, live.value)
    return log.Row(next_id, key, 0, 1, live.create_revision, live.id, live.value, live.value)


def _result(request: WriteRequest, row: log.Row) -> object:
    if request.kind == "delete":
        return (row.id, log.Row(row.prev_revision, row.name, 0, 0, row.create_revision, 0, row.value, None)
                .as_key_value())
    return row.id


def _deliver(on_commit: Callable, events: list, outcomes: list[tuple[WriteRequest, object]]) -> None:
    if events:
        on_commit(events)
    for request, outcome in outcomes:
        if request.future.done():
            continue
        if isinstance(outcome, BaseException):
            request.future.set_exception(outcome)
        else:
            request.future.set_result(outcome)
