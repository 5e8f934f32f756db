"""The scheduling queue: which pod is tried next, and when a pod that did not fit is tried again.

    new pod ──► activeQ (heap: the profile's queue-sort order, priority then time added) ──► pop()
                  ▲                         ▲
                  │ backoff expired (1 s)    │ cluster event / 5 min in unschedulable
               backoffQ ◄──── failed ────► unschedulable pods
                 (per pod: 1 s, 2 s, 4 s ... 10 s by attempts)

A pod that failed because nothing fits waits in *unschedulable* until the cluster changes in a
way that could help (a node added or changed, a pod deleted, ...): then it goes back to activeQ,
or to backoffQ if its backoff has not yet run out. If the cluster changed while the pod was being
scheduled (the move request cycle is newer than the pod's cycle), the failure may already be
stale, so the pod goes to backoffQ directly. Pods left unschedulable for 5 minutes are retried
anyway. A pod is in at most one of activeQ, backoffQ, unschedulable, or in flight (popped).

The queue also remembers *nominated* pods (status.nominatedNodeName after a preemption), so
filters can keep the space they were promised.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any

from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.util.clock import REAL_CLOCK, Clock

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_UNSCHEDULABLE_SECONDS = 300.0
BACKOFF_FLUSH_PERIOD = 1.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0
ALL = "*"


class QueueClosed(Exception):
    """The queue was closed: no more pods will be handed out."""


class QueuedPod:
    __slots__ = ("pod", "key", "timestamp", "initial_attempt", "attempts", "cycle", "unschedulable_plugins",
                 "seq")

    def __init__(self, pod: PodInfo, now: float):
        self.pod = pod
        self.key = pod.key
        self.timestamp = now
        self.initial_attempt: float | None = None
        self.attempts = 0
        self.cycle = 0
        self.unschedulable_plugins: set[str] = set()
        self.seq = 0

    def __repr__(self) -> str:
        return f"QueuedPod({self.key}, attempts={self.attempts})"


class SchedulingQueue:
    def __init__(self, sort_key: Callable[[PodInfo, float], Any], *, clock: Clock | None = None,
                 initial_backoff: float = INITIAL_BACKOFF, max_backoff: float = MAX_BACKOFF,
                 max_unschedulable_seconds: float = MAX_UNSCHEDULABLE_SECONDS):
        self.sort_key = sort_key
        self.clock = clock or REAL_CLOCK
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable_seconds = max_unschedulable_seconds
        self._seq = itertools.count(1)
        self._active_heap: list[tuple[Any, int, str]] = []
        self._active: dict[str, QueuedPod] = {}
        self._backoff_heap: list[tuple[float, int, str]] = []
        self._backoff: dict[str, QueuedPod] = {}
        self._unschedulable: dict[str, QueuedPod] = {}
        self._in_flight: dict[str, QueuedPod] = {}
        self._updated_in_flight: set[str] = set()
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._move_cycles: dict[str, int] = {}  # plugin (or ALL) -> cycle of the last event for it
        self._wakeup = asyncio.Event()
        self._closed = False
        self._nominated: dict[str, dict[str, PodInfo]] = {}  # node -> pod key -> pod
        self._nominated_node: dict[str, str] = {}  # pod key -> node

    # -- what is where (tests and metrics) -------------------------------------------------------

    def pending(self) -> dict[str, list[str]]:
        return {"active": sorted(self._active), "backoff": sorted(self._backoff),
                "unschedulable": sorted(self._unschedulable), "in_flight": sorted(self._in_flight)}

    def __contains__(self, key: object) -> bool:
        return key in self._active or key in self._backoff or key in self._unschedulable or key in self._in_flight

    def __len__(self) -> int:
        return len(self._active) + len(self._backoff) + len(self._unschedulable)

    # -- adding and removing ---------------------------------------------------------------------

    def add(self, pod: PodInfo) -> None:
        """A new pod to schedule (or a newer version of one already queued)."""
        key = pod.key
        for where in (self._active, self._backoff, self._in_flight):
            qp = where.get(key)
            if qp is not None:
                qp.pod = pod
                if where is self._active:
                    self._push_active(qp)  # its priority may have changed
                elif where is self._in_flight:
                    self._updated_in_flight.add(key)  # a failure of this cycle may be stale
                self._update_nominated(pod)
                return
        qp = self._unschedulable.pop(key, None)
        if qp is not None:
            qp.pod = pod
            self._requeue(qp)  # an update may make it schedulable: try again
        else:
            self._push_active(QueuedPod(pod, self.clock.now()))
        self._update_nominated(pod)

    def update_unchanged(self, pod: PodInfo) -> None:
        """A newer version that differs only in status: keep the pod where it is."""
        for where in (self._active, self._backoff, self._in_flight, self._unschedulable):
            qp = where.get(pod.key)
            if qp is not None:
                qp.pod = pod
        self._update_nominated(pod)

    def delete(self, key: str) -> None:
        self._active.pop(key, None)
        self._backoff.pop(key, None)
        self._unschedulable.pop(key, None)
        self._in_flight.pop(key, None)
        self._updated_in_flight.discard(key)
        self.delete_nominated(key)

    def _push_active(self, qp: QueuedPod) -> None:
        qp.seq = next(self._seq)
        self._active[qp.key] = qp
        heapq.heappush(self._active_heap, (self.sort_key(qp.pod, qp.timestamp), qp.seq, qp.key))
        self._wakeup.set()

    def _push_backoff(self, qp: QueuedPod) -> None:
        qp.seq = next(self._seq)
        self._backoff[qp.key] = qp
        heapq.heappush(self._backoff_heap, (self.backoff_expiry(qp), qp.seq, qp.key))

    # -- handing out -----------------------------------------------------------------------------

    async def pop(self) -> QueuedPod:
        """The next pod to schedule; waits while activeQ is empty."""
        while True:
            qp = self.pop_nowait()
            if qp is not None:
                return qp
            if self._closed:
                raise QueueClosed()
            self._wakeup.clear()
            await self._wakeup.wait()

    def pop_nowait(self) -> QueuedPod | None:
        while self._active_heap:
            _, seq, key = heapq.heappop(self._active_heap)
            qp = self._active.get(key)
            if qp is None or qp.seq != seq:
                continue  # a stale heap entry (deleted, or re-pushed with a new order)
            del self._active[key]
            self.scheduling_cycle += 1
            qp.cycle = self.scheduling_cycle
            qp.attempts += 1
            if qp.initial_attempt is None:
                qp.initial_attempt = self.clock.now()
            self._in_flight[key] = qp
            return qp
        return None

    def done(self, key: str) -> None:
        """The cycle of a popped pod ended (bound, or handed back with add_unschedulable)."""
        self._in_flight.pop(key, None)
        self._updated_in_flight.discard(key)

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    # -- failures and retries --------------------------------------------------------------------

    def backoff_duration(self, qp: QueuedPod) -> float:
        duration = self.initial_backoff
        for _ in range(1, qp.attempts):
            duration *= 2
            if duration >= self.max_backoff:
                return self.max_backoff
        return min(duration, self.max_backoff)

    def backoff_expiry(self, qp: QueuedPod) -> float:
        return qp.timestamp + self.backoff_duration(qp)

    def is_backing_off(self, qp: QueuedPod) -> bool:
        return self.backoff_expiry(qp) > self.clock.now()

    def add_unschedulable(self, qp: QueuedPod, *, error: bool = False) -> None:
        """Hand back a popped pod that did not fit (``error``: failed for another reason).
        ``qp.unschedulable_plugins`` names the plugins that rejected it."""
        self._in_flight.pop(qp.key, None)
        if qp.key in self._active or qp.key in self._backoff or qp.key in self._unschedulable:
            return
        qp.timestamp = self.clock.now()
        updated = qp.key in self._updated_in_flight
        self._updated_in_flight.discard(qp.key)
        if error or updated or self._moved_since(qp):
            self._push_backoff(qp)  # the cluster changed meanwhile: retry after the backoff
        else:
            self._unschedulable[qp.key] = qp

    def _moved_since(self, qp: QueuedPod) -> bool:
        """Did an event that could help this pod arrive while it was being scheduled?"""
        cycles = self._move_cycles
        if not qp.unschedulable_plugins:
            last = max(cycles.values(), default=-1)
        else:
            last = max((cycles.get(p, -1) for p in qp.unschedulable_plugins), default=-1)
            last = max(last, cycles.get(ALL, -1))
        return last >= qp.cycle

    def requeue_in_flight(self, key: str) -> None:
        """A popped pod goes back to backoffQ (its binding failed, say)."""
        qp = self._in_flight.pop(key, None)
        if qp is not None:
            self._push_backoff(qp)

    def move_all_to_active_or_backoff(self, event: str = "", plugins: set[str] | frozenset[str] | None = None) -> int:
        """A cluster event that may make unschedulable pods fit: retry those it could help (the
        ones rejected by one of ``plugins``; ``None``: every pod)."""
        moved = [qp for qp in self._unschedulable.values()
                 if plugins is None or not qp.unschedulable_plugins or qp.unschedulable_plugins & plugins]
        for qp in moved:
            del self._unschedulable[qp.key]
            self._requeue(qp)
        for plugin in (ALL,) if plugins is None else plugins:
            self._move_cycles[plugin] = self.scheduling_cycle
        self.move_request_cycle = self.scheduling_cycle
        return len(moved)

    def _requeue(self, qp: QueuedPod) -> None:
        if self.is_backing_off(qp):
            self._push_backoff(qp)
        else:
            self._push_active(qp)

    def flush_backoff_completed(self) -> int:
        now, moved = self.clock.now(), 0
        while self._backoff_heap and self._backoff_heap[0][0] <= now:
            _, seq, key = heapq.heappop(self._backoff_heap)
            qp = self._backoff.get(key)
            if qp is None or qp.seq != seq:
                continue
            del self._backoff[key]
            self._push_active(qp)
            moved += 1
        return moved

    def flush_unschedulable_left_over(self) -> int:
        now = self.clock.now()
        stale = [qp for qp in self._unschedulable.values()
                 if now - qp.timestamp > self.max_unschedulable_seconds]
        for qp in stale:
            del self._unschedulable[qp.key]
            self._requeue(qp)
        return len(stale)

    async def run(self) -> None:
        """The periodic flushes, until cancelled."""
        since_unschedulable_flush = 0.0
        while True:
            await self.clock.sleep(BACKOFF_FLUSH_PERIOD)
            self.flush_backoff_completed()
            since_unschedulable_flush += BACKOFF_FLUSH_PERIOD
            if since_unschedulable_flush >= UNSCHEDULABLE_FLUSH_PERIOD:
                since_unschedulable_flush = 0.0
                self.flush_unschedulable_left_over()

    # -- nominated pods --------------------------------------------------------------------------

    def _update_nominated(self, pod: PodInfo) -> None:
        node = pod.nominated_node_name
        if node:
            self.add_nominated(pod, node)
        elif pod.key in self._nominated_node:
            self.delete_nominated(pod.key)

    def add_nominated(self, pod: PodInfo, node: str) -> None:
        self.delete_nominated(pod.key)
        self._nominated.setdefault(node, {})[pod.key] = pod
        self._nominated_node[pod.key] = node

    def delete_nominated(self, key: str) -> None:
        node = self._nominated_node.pop(key, None)
        if node is not None:
            pods = self._nominated.get(node) or {}
            pods.pop(key, None)
            if not pods:
                self._nominated.pop(node, None)

    def nominated_pods_for_node(self, node: str) -> list[PodInfo]:
        pods = self._nominated.get(node)
        return list(pods.values()) if pods else []

    def nominated_node(self, key: str) -> str:
        return self._nominated_node.get(key, "")

    @property
    def has_nominated_pods(self) -> bool:
        return bool(self._nominated)
