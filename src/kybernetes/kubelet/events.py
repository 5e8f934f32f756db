"""Kubelet events (Pulled, Created, Started, Killing, BackOff, ...) written in the background.

The pod worker must never wait for an event to be written, and a thousand simulated nodes must
not turn a burst of pod starts into a burst of blocked workers. Events go into a bounded buffer
(as client-go's broadcaster has one: 1000 events) and a few writer tasks drain it through one
EventRecorder per node (source.component "kubelet", source.host the node name), so repeats
aggregate per node as Kubernetes does. When the buffer is full new events are dropped and
counted; ``enabled=False`` drops everything (benchmarks that want to measure scheduling alone).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kybernetes.client import ApiClient, EventRecorder
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
COMPONENT = "kubelet"


class KubeletEvents:
    def __init__(self, client: ApiClient, *, clock: Clock | None = None, enabled: bool = True,
                 buffer: int = 1000, writers: int = 4):
        self.client = client
        self.clock = clock or REAL_CLOCK
        self.enabled = enabled
        self.writers = writers
        self.dropped = 0
        self._queue: asyncio.Queue[tuple[str, Obj, str, str, str]] = asyncio.Queue(maxsize=buffer)
        self._recorders: dict[str, EventRecorder] = {}

    def emit(self, node: str, obj: Obj, event_type: str, reason: str, message: str) -> None:
        if not self.enabled:
            return
        try:
            self._queue.put_nowait((node, obj, event_type, reason, message))
        except asyncio.QueueFull:
            self.dropped += 1

    def normal(self, node: str, obj: Obj, reason: str, message: str) -> None:
        self.emit(node, obj, "Normal", reason, message)

    def warning(self, node: str, obj: Obj, reason: str, message: str) -> None:
        self.emit(node, obj, "Warning", reason, message)

    def _recorder(self, node: str) -> EventRecorder:
        recorder = self._recorders.get(node)
        if recorder is None:
            recorder = EventRecorder(self.client, COMPONENT, host=node, clock=self.clock, cache_size=256)
            self._recorders[node] = recorder
        return recorder

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for _ in range(self.writers):
                tg.create_task(self._write_forever())

    async def _write_forever(self) -> None:
        while True:
            node, obj, event_type, reason, message = await self._queue.get()
            try:
                await self._recorder(node).event(obj, event_type, reason, message)
            except Exception as e:  # noqa: BLE001 - events are best effort
                log.debug("event %s on %s not written: %s", reason, node, e)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait (real time) until the buffer is empty: for tests."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._queue.empty() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
