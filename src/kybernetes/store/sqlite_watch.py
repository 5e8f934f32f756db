"""Watch fan-out for the SQLite store: one hub per store feeds every watch.

    writer thread ──(events of each commit, immediately)──┐
                                                          ├─► WatchHub ─► LogWatch, LogWatch, ...
    tail poll every poll_interval (other processes' rows) ┘    (one queue each, prefix-filtered)

The hub remembers ``last_seen``, the highest revision it has published. Commits of this process
arrive as events contiguous with it and are published at once, with no query. Anything else (rows
written by other processes sharing the file, or a commit that is not contiguous because foreign
rows came in between) makes the hub read the log above ``last_seen``: ONE query per catch-up,
whatever the number of watches. Since writers are serialised by SQLite's write lock, ids become
visible in order (see sqlite_writer), so a read of ``id > last_seen`` never skips a row that commits
later with a lower id.

A watch opened after revision R registers with the hub first (capturing the hub's position P),
then reads the history (R, P] from the log; live events arrive after P. History then live: no gap,
no duplicate.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from kybernetes.store.interface import CompactedError, Event, StoreError, StoreUnavailableError

logger = logging.getLogger(__name__)

# A watch whose consumer lags this many events behind is ended with CompactedError (as etcd
# cancels slow watchers); the client re-lists and watches again.
MAX_PENDING_EVENTS = 100_000
# Rows the tail reads per query; a full page means there may be more.
TAIL_PAGE = 1000

# read_after(after_revision) -> (events above it, oldest first; the store's compact revision)
ReadAfter = Callable[[int], Awaitable[tuple[list[Event], int]]]
# read_history(prefix, after, upto) -> events in (after, upto] under prefix; raises CompactedError
ReadHistory = Callable[[str, int, int], Awaitable[list[Event]]]


class LogWatch:
    """One open watch (the store.Watch protocol)."""

    def __init__(self, hub: WatchHub, prefix: str, after_revision: int, read_history: ReadHistory):
        self._hub = hub
        self.prefix = prefix
        self._after = after_revision
        self._registered_at = hub.last_seen
        self._read_history = read_history
        self._pending: collections.deque[Event] = collections.deque()
        self._wakeup = asyncio.Event()
        self._error: BaseException | None = None
        self._closed = False
        self._history_done = False
        self.position = after_revision  # the last revision handed to the consumer

    def push(self, event: Event) -> None:
        if len(self._pending) >= MAX_PENDING_EVENTS:
            self.fail(CompactedError(self.position, event.revision))
            return
        self._pending.append(event)
        self._wakeup.set()

    def fail(self, error: BaseException) -> None:
        if self._error is None and not self._closed:
            self._error = error
            self._hub.unsubscribe(self)
            self._wakeup.set()

    async def close(self) -> None:
        self._closed = True
        self._hub.unsubscribe(self)
        self._wakeup.set()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        if not self._history_done:
            await self._load_history()
        while True:
            if self._closed:
                raise StopAsyncIteration
            while self._pending:
                event = self._pending.popleft()
                if event.revision > self.position:
                    self.position = event.revision
                    return event
            if self._error is not None:
                raise self._error
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _load_history(self) -> None:
        self._history_done = True
        try:
            history = await self._read_history(self.prefix, self._after, max(self._registered_at, self._after))
        except StoreError as error:
            await self.close()
            raise error from None
        if history:
            self._pending.extendleft(reversed(history))


class WatchHub:
    def __init__(self, read_after: ReadAfter, poll_interval: float, start_revision: int,
                 changed: Callable[[], bool] | None = None):
        self._read_after = read_after
        self._poll_interval = poll_interval
        # A cheap "did anyone commit since the last look?" (PRAGMA data_version), so an idle
        # store costs a timer tick per poll, not a reader-thread query.
        self._changed = changed
        self.last_seen = start_revision
        self._by_prefix: dict[str, set[LogWatch]] = {}
        self._catch_up_now = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tail(), name="kyb-sqlite-tail")

    async def stop(self) -> None:
        self._disarm()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for watches in list(self._by_prefix.values()):
            for watch in list(watches):
                watch.fail(StoreUnavailableError("store is closed"))

    def subscribe(self, watch: LogWatch) -> None:
        self._by_prefix.setdefault(watch.prefix, set()).add(watch)

    def unsubscribe(self, watch: LogWatch) -> None:
        watches = self._by_prefix.get(watch.prefix)
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._by_prefix[watch.prefix]

    @property
    def watch_count(self) -> int:
        return sum(len(w) for w in self._by_prefix.values())

    def on_commit(self, events: list[Event]) -> None:
        """Events of one commit of this process (on the loop, straight from the writer thread)."""
        first, last = events[0].revision, events[-1].revision
        if last <= self.last_seen:
            return  # the tail already read them
        if first == self.last_seen + 1:
            self._publish(events)
        else:
            self._catch_up_now.set()  # foreign rows in between: read them from the log

    def _publish(self, events: list[Event]) -> None:
        for event in events:
            if event.revision <= self.last_seen:
                continue
            self.last_seen = event.revision
            key = event.kv.key
            for prefix, watches in list(self._by_prefix.items()):
                if key.startswith(prefix):
                    for watch in list(watches):
                        watch.push(event)

    # The poll is a plain timer callback: an idle store costs one timer tick and one PRAGMA per
    # poll_interval, with no task woken (a wait_for per poll made a task and a timeout each time).
    def _arm(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._poll_interval, self._poll)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _poll(self) -> None:
        self._timer = None
        try:
            changed = self._changed is None or self._changed()
        except Exception:  # a timer callback must not stop the polling: look at the log instead
            changed = True
        if changed:
            self._catch_up_now.set()
        else:
            self._arm()

    async def _tail(self) -> None:
        while True:
            if not self._catch_up_now.is_set():
                self._arm()
                try:
                    await self._catch_up_now.wait()
                finally:
                    self._disarm()
            self._catch_up_now.clear()
            try:
                await self._catch_up()
            except asyncio.CancelledError:
                raise
            except StoreUnavailableError:
                return  # the store is closing
            except Exception as error:  # keep tailing: the next poll retries
                logger.warning("sqlite log tail failed: %s", error)

    async def _catch_up(self) -> None:
        while True:
            events, compact_revision = await self._read_after(self.last_seen)
            if compact_revision - 1 > self.last_seen:
                # Another process compacted past what we have published: rows we never saw may be
                # gone, so every current watch may have a gap. End them; clients re-list.
                for watches in list(self._by_prefix.values()):
                    for watch in list(watches):
                        watch.fail(CompactedError(self.last_seen, compact_revision))
            if not events:
                return
            self._publish(events)
            if len(events) < TAIL_PAGE:
                return
