"""One node's kubelet: its node agent, its pod worker, and the pods bound to it.

    NodeGroup (node_group.py) ── sync(key, pod) ──► Kubelet
                                                     ├─ pod gone / moved   ─► remove what the runtime holds
                                                     ├─ deletionTimestamp  ─► terminate in the background:
                                                     │     stop (grace), write the final status,
                                                     │     DELETE with grace 0, remove
                                                     └─ otherwise          ─► PodWorker.sync ─► StatusManager
    runtime container events ─► queue the pod's key (a container exited: sync it now; created
                                and started come from a sync, which saw them)

The same class runs a real node (runc runtime, one per process) and each simulated node (fake
runtime, a thousand per process): what differs is only the runtime handed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client import ApiClient, Informer, WorkQueue
from kybernetes.client.resource import PODS
from kybernetes.kubelet.events import KubeletEvents
from kybernetes.kubelet.node import NodeAgent
from kybernetes.kubelet.node_status import NodeConfig
from kybernetes.kubelet.pod_worker import PodWorker
from kybernetes.kubelet.probes import Prober
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.status_manager import StatusManager
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
DEFAULT_GRACE = 30
RETRY_TERMINATION = 1.0
# A container is created and started only by a sync of its pod, which reads the runtime again
# before it computes the status: these events need no sync of their own (an exit does).
SYNC_MADE_EVENTS = frozenset({cri.ContainerEventType.CONTAINER_CREATED_EVENT,
                              cri.ContainerEventType.CONTAINER_STARTED_EVENT})


class Kubelet:
    def __init__(self, client: ApiClient, config: NodeConfig, runtime: cri.RuntimeService,
                 images: cri.ImageService, *, pods: Informer, nodes: Informer, status: StatusManager,
                 queue: WorkQueue, clock: Clock | None = None, events: KubeletEvents | None = None,
                 runtime_name: str = "fake", prober: Prober | None = None, phase: float = 0.0,
                 heartbeat_client: ApiClient | None = None, resync_period: float = 0.0):
        self.client = client
        self.config = config
        self.runtime = runtime
        self.pods = pods
        self.status = status
        self.queue = queue
        self.clock = clock or REAL_CLOCK
        # each pod is synced again this long after a sync of it, changed or not (0: never), as
        # upstream's pod workers do with syncFrequency; pods are not all resynced at one tick
        self.resync_period = resync_period
        self.agent = NodeAgent(client, config, runtime, nodes=nodes, clock=self.clock, phase=phase,
                               heartbeat_client=heartbeat_client)
        self.worker = PodWorker(runtime, images, node_name=config.name, host_ip=config.internal_ip,
                                runtime_name=runtime_name, clock=self.clock, prober=prober, events=events)
        self._uids: dict[str, str] = {}  # pod key -> uid of the pod we run under that key
        self._terminating: dict[str, asyncio.Task[None]] = {}  # uid -> its termination
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def pod_keys(self) -> list[str]:
        return list(self._uids)

    # -- lifetime -------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.agent.run(), name=f"node agent {self.name}")
                tg.create_task(self._pump_container_events(), name=f"container events {self.name}")
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _pump_container_events(self) -> None:
        async for event in self.runtime.get_container_events():
            if event.event_type in SYNC_MADE_EVENTS:
                continue
            namespace = event.labels.get(cri.POD_NAMESPACE_LABEL)
            name = event.labels.get(cri.POD_NAME_LABEL)
            if namespace and name:
                self.queue.add(f"{namespace}/{name}")

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- sync -------------------------------------------------------------------------------------

    async def sync(self, key: str, pod: Obj | None) -> None:
        """Bring pod ``key`` (None: gone from this node) to its desired state."""
        if pod is None or (pod.get("spec") or {}).get("nodeName") != self.name:
            uid = self._uids.pop(key, None)
            if uid and uid not in self._terminating:
                await self._remove(uid)
            return
        meta = pod.get("metadata") or {}
        uid = meta.get("uid", "")
        previous = self._uids.get(key)
        if previous and previous != uid and previous not in self._terminating:
            await self._remove(previous)  # deleted and re-created under the same name
        self._uids[key] = uid
        if uid in self._terminating:
            return
        await self.agent.apply_pod_cidr()
        old_status = self.status.cached(uid) or pod.get("status") or {}
        if meta.get("deletionTimestamp"):
            grace = meta.get("deletionGracePeriodSeconds")
            grace = DEFAULT_GRACE if grace is None else int(grace)
            self._terminating[uid] = self._spawn(self._terminate(key, pod, old_status, grace),
                                                 name=f"terminate {key}")
            return
        result = await self.worker.sync(pod, old_status)
        self.status.set_status(pod, result.status)
        if result.requeue_after is not None:
            self.queue.add_after(key, result.requeue_after)
        if self.resync_period > 0:
            self.queue.add_after(key, self.resync_period)  # a sooner one already due stays as it is

    async def _terminate(self, key: str, pod: Obj, old_status: Obj, grace: int) -> None:
        uid = (pod.get("metadata") or {}).get("uid", "")
        try:
            result = await self.worker.terminate(pod, old_status, grace)
            if await self.status.write_now(pod, result.status):
                await self._delete(pod)
            await self.worker.remove(uid)
            self.status.forget(uid)
        except Exception as e:  # noqa: BLE001 - try again from the start
            log.warning("node %s: terminating pod %s failed (will retry): %s", self.name, key, e)
            self.queue.add_after(key, RETRY_TERMINATION)
        finally:
            self._terminating.pop(uid, None)

    async def _delete(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        try:
            await self.client.delete(PODS, meta.get("name", ""), meta.get("namespace", ""), grace_period_seconds=0,
                                     preconditions={"uid": meta.get("uid", "")})
        except ApiError as e:
            if e.code not in (404, 409):  # gone already, or another pod under the name now
                raise

    async def _remove(self, uid: str) -> None:
        await self.worker.remove(uid)
        self.status.forget(uid)
