"""The shape every controller has: informers feed keys into a work queue; workers reconcile keys.

As client-go's sample-controller does it:

    informer events ──► enqueue(obj) ──► WorkQueue("ns/name", deduplicated while queued)
                                              │  one worker per key at a time
                                              ▼
                                        reconcile(key)  re-reads the informer caches,
                                                        compares desired and actual state,
                                                        writes through the client
        returns          -> done; the key's backoff is forgotten
        raises           -> requeued with per-key exponential backoff (5 ms .. 1000 s)
        self.requeue_after(key, s) -> looked at again later (time-based behaviour)

Reconcile is level-triggered and idempotent: it never trusts the event that woke it, only the
caches, so a missed or duplicated event cannot leave the world wrong. Objects from the caches
are shared and read-only: copy (api.meta.deep_copy) before changing one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from kybernetes.client import ApiClient, EventRecorder, Informer, SharedInformerFactory, WorkQueue
from kybernetes.client.indexer import object_key
from kybernetes.client.resource import Resource
from kybernetes.client.workqueue import ShutDown
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass
class ControllerContext:
    """What the controller-manager hands every controller: one client, one set of shared
    informers (one watch per resource for all controllers), one clock, and events."""

    client: ApiClient
    informers: SharedInformerFactory
    clock: Clock = REAL_CLOCK
    component: str = "kube-controller-manager"
    options: dict[str, Any] = field(default_factory=dict)  # per-controller tunables
    _recorders: dict[str, EventRecorder] = field(default_factory=dict)

    def informer(self, resource: Resource) -> Informer:
        return self.informers.informer_for(resource)

    def recorder(self, controller_name: str) -> EventRecorder:
        rec = self._recorders.get(controller_name)
        if rec is None:
            rec = EventRecorder(self.client, controller_name, clock=self.clock)
            self._recorders[controller_name] = rec
        return rec


class Controller:
    """Base class. Subclasses set ``name``, register informer handlers in ``__init__`` (calling
    ``self.enqueue`` / ``self.enqueue_key``) and implement ``reconcile(key)``."""

    name = "controller"
    workers = 2

    def __init__(self, ctx: ControllerContext):
        self.ctx = ctx
        self.client = ctx.client
        self.clock = ctx.clock
        self.queue = WorkQueue(clock=ctx.clock, name=self.name)
        self.events = ctx.recorder(self.name)

    # -- feeding the queue ---------------------------------------------------------------------

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(object_key(obj))

    def enqueue_key(self, key: str) -> None:
        self.queue.add(key)

    def requeue_after(self, key: str, delay: float) -> None:
        self.queue.add_after(key, max(delay, 0.0))

    def handlers(self, on_change=None):
        """Handlers that enqueue the object itself on add, update and delete."""
        change = on_change or self.enqueue
        return {"on_add": change, "on_update": lambda _old, new: change(new), "on_delete": change}

    # -- the loop ------------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        raise NotImplementedError

    async def run(self, workers: int | None = None) -> None:
        """Run workers until cancelled. The manager starts informers and waits for their sync
        before calling this."""
        count = workers or self.workers
        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(count):
                    tg.create_task(self._worker())
        finally:
            self.queue.shutdown()

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.reconcile(key)
            except asyncio.CancelledError:
                self.queue.done(key)
                raise
            except Exception as e:  # noqa: BLE001 - any failure is retried with backoff
                log.warning("%s: reconcile %s failed (retry %d): %s", self.name, key,
                            self.queue.num_requeues(key) + 1, e)
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)

    async def process_one(self) -> bool:
        """Test helper: reconcile the next queued key, if any is ready (no workers running)."""
        if len(self.queue) == 0:
            return False
        key = await self.queue.get()
        try:
            await self.reconcile(key)
            self.queue.forget(key)
        finally:
            self.queue.done(key)
        return True
