"""The Scheduler: informers feed the cache and the queue; one loop places pods; bindings run
concurrently.

    nodes informer ───────────────► cache (NodeInfos)            ┐
    pods informer ─ bound pods ───► cache (confirms assumed)     ├─► cluster events move
                  └ pending pods ─► queue (ours by schedulerName) ┘   unschedulable pods back
    loop: queue.pop ─► scheduling cycle (sync: filter, score, assume) ─► binding task (async)
          failure ─► preemption (post-filter) ─► PodScheduled=False + FailedScheduling event

The Scheduler is also the plugins' *handle*: they reach the cache, the queue (nominated pods),
the client, namespace labels and PodDisruptionBudgets through it. Events go through a bounded
buffer on their own client (as kube-scheduler's event broadcaster does): when the apiserver is
slow, events are dropped, never the scheduling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

from kybernetes.client import ApiClient, EventRecorder, SharedInformerFactory
from kybernetes.client.resource import (
    NAMESPACES,
    NODES,
    PODDISRUPTIONBUDGETS,
    PODS,
    PRIORITYCLASSES,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    SERVICES,
    STATEFULSETS,
)
from kybernetes.scheduler.algorithm import Algorithm
from kybernetes.scheduler.cache import SchedulerCache
from kybernetes.scheduler.default_selector import DefaultSpreadSelector
from kybernetes.scheduler.events import ClusterEvents
from kybernetes.scheduler.plugins import default_plugins
from kybernetes.scheduler.podinfo import DEFAULT_SCHEDULER, PodInfo
from kybernetes.scheduler.priority import PriorityResolver
from kybernetes.scheduler.profile import PluginConfig, Profile
from kybernetes.scheduler.queue import QueueClosed, SchedulingQueue
from kybernetes.scheduler.scheduling_cycle import SchedulingCycle
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

ACTIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"
EVENT_BUFFER = 1000
EVENT_WORKERS = 8
MAX_CONCURRENT_BINDINGS = 256
MAX_SAMPLES = 100_000


class Stats:
    """Counters the benchmark and tests read."""

    def __init__(self) -> None:
        self.attempts = 0
        self.scheduled = 0
        self.bound = 0
        self.unschedulable = 0
        self.errors = 0
        self.decision_seconds = 0.0
        self.decision_cpu_seconds = 0.0
        self.decisions = 0
        self.events_dropped = 0
        self.decision_samples: list[float] = []  # seconds, the first MAX_SAMPLES decisions
        self.decision_cpu_samples: list[float] = []

    def as_dict(self) -> dict[str, Any]:
        d = dict(vars(self))
        d.pop("decision_samples")
        d.pop("decision_cpu_samples")
        d["decision_ms_mean"] = 1000 * self.decision_seconds / self.decisions if self.decisions else 0.0
        d["decision_cpu_ms_mean"] = 1000 * self.decision_cpu_seconds / self.decisions if self.decisions else 0.0
        return d


class Scheduler(SchedulingCycle):
    def __init__(self, client: ApiClient, *, scheduler_names: Iterable[str] = (DEFAULT_SCHEDULER,),
                 clock: Clock | None = None, event_client: ApiClient | None = None,
                 percentage_of_nodes_to_score: int | None = None,
                 plugins: list[PluginConfig] | None = None, sync_timeout: float = 60.0):
        self.client = client
        self.clock = clock or REAL_CLOCK
        self.event_client = event_client or client
        self.sync_timeout = sync_timeout
        self.stats = Stats()
        self.cache = SchedulerCache()
        names = list(dict.fromkeys(scheduler_names)) or [DEFAULT_SCHEDULER]
        self.profiles = {name: Profile(name, plugins or default_plugins(), self) for name in names}
        # Events say which scheduler wrote them (source.component = the profile's name).
        self.recorders = {name: EventRecorder(self.event_client, name, clock=self.clock) for name in names}
        first = self.profiles[names[0]]
        self.queue = SchedulingQueue(first.sort_key, clock=self.clock)
        self.algorithm = Algorithm(self.cache, self.queue, percentage_of_nodes_to_score)
        self.informers = SharedInformerFactory(client, clock=self.clock)
        self.node_informer = self.informers.informer_for(NODES, indexers={})
        self.pod_informer = self.informers.informer_for(PODS, field_selector=ACTIVE_PODS, indexers={})
        self.priority_class_informer = self.informers.informer_for(PRIORITYCLASSES, indexers={})
        self.namespace_informer = self.informers.informer_for(NAMESPACES, indexers={})
        self.pdb_informer = self.informers.informer_for(PODDISRUPTIONBUDGETS, indexers={})
        informer = self.informers.informer_for
        self.default_spread_selector = DefaultSpreadSelector(
            informer(SERVICES, indexers={}), informer(REPLICASETS, indexers={}),
            informer(STATEFULSETS, indexers={}), informer(REPLICATIONCONTROLLERS, indexers={}))
        self.priorities = PriorityResolver(self.priority_class_informer.list, self.priority_class_informer.get)
        self.events = ClusterEvents(self)
        self.events.register()
        self.started = asyncio.Event()
        self._tasks: asyncio.TaskGroup | None = None
        self._event_buffer: asyncio.Queue[tuple[dict, str, str, str]] = asyncio.Queue(EVENT_BUFFER)
        self._binding_slots = asyncio.Semaphore(MAX_CONCURRENT_BINDINGS)

    # -- the handle plugins use ------------------------------------------------------------------

    def pod_info(self, pod: dict[str, Any]) -> PodInfo:
        priority, policy = self.priorities.resolve(pod)
        return PodInfo(pod, priority, policy)

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        ns = self.namespace_informer.get(namespace)
        return ((ns or {}).get("metadata") or {}).get("labels") or {}

    def pdbs(self) -> list[dict[str, Any]]:
        return self.pdb_informer.list()

    def responsible_for(self, pod: dict[str, Any]) -> bool:
        return ((pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER) in self.profiles

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the scheduler's task group (dropped with a warning if not running)."""
        if self._tasks is None:
            coro.close()
            log.warning("scheduler not running: background work dropped")
            return
        self._tasks.create_task(coro)

    def record_event(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        """Queue an event about a pod (dropped, and counted, when the buffer is full)."""
        if not obj.get("kind"):
            obj = {**obj, "kind": "Pod", "apiVersion": "v1"}
        try:
            self._event_buffer.put_nowait((obj, event_type, reason, message))
        except asyncio.QueueFull:
            self.stats.events_dropped += 1

    async def _event_worker(self) -> None:
        while True:
            obj, event_type, reason, message = await self._event_buffer.get()
            name = (obj.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER
            recorder = self.recorders.get(name) or next(iter(self.recorders.values()))
            await recorder.event(obj, event_type, reason, message)

    # -- running ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled: informers, the periodic queue flushes, the scheduling loop."""
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                self.informers.start()
                if not await self.informers.wait_for_cache_sync(self.sync_timeout):
                    raise RuntimeError("scheduler informer caches did not sync")
                for _ in range(EVENT_WORKERS):
                    tasks.create_task(self._event_worker(), name="scheduler events")
                tasks.create_task(self.queue.run(), name="scheduling queue flushes")
                self.started.set()
                log.info("scheduler running: profiles %s, %d nodes", ", ".join(self.profiles),
                         len(self.cache.node_list()))
                await self._loop()
        finally:
            self._tasks = None
            self.started.clear()
            self.queue.close()
            await self.informers.shutdown()

    async def _loop(self) -> None:
        while True:
            try:
                qp = await self.queue.pop()
            except QueueClosed:
                return
            try:
                self.schedule_one(qp)
            except Exception:
                log.exception("scheduling %s failed", qp.key)
                self.stats.errors += 1
                self.queue.add_unschedulable(qp, error=True)
            # Let informers and bindings run between pods: a burst of pods must not starve them.
            await asyncio.sleep(0)
