"""A NodeGroup runs one or many kubelets in one process on shared machinery.

    apiserver ══ one pod watch (spec.nodeName!="" or =<node>) ══► pod informer ─┐
              ══ one node watch ══► node informer (podCIDR, status baseline)     │ keys of pods
                                                                                ▼ on our nodes
    one work queue of pod keys ─► N workers ─► Kubelet[pod.spec.nodeName].sync(key, pod)
    one status manager (coalesced, rate-limited pods/status writes)
    one event writer; one timer heap (shared by the fake runtimes)

The group's kubelet server (``enable_server``: logs, exec, attach, port-forward, stats) answers for
every node in it; each node then reports the server's port in status.daemonEndpoints and, when
an advertise address is given (simulated nodes: the server's address, as kwok's nodes all carry
the kwok controller's IP), that address as its InternalIP.

A pod's own status coming back through the watch (the status manager's PATCH) queues no sync.

A thousand simulated nodes therefore cost two watches, not two thousand, and their pods share
one queue whose workers are the concurrency limit. Each node still has its own lease and
status loops (offset so their writes spread over the period) and its own runtime. A real node
(``kyb kubelet``, issue 5) is a NodeGroup of one, watching only its own pods.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from kybernetes.client import ApiClient, SharedInformerFactory, ShutDown, WorkQueue
from kybernetes.client.indexer import object_key
from kybernetes.client.resource import NODES, PODS
from kybernetes.kubelet.events import KubeletEvents
from kybernetes.kubelet.kubelet import Kubelet
from kybernetes.kubelet.node_status import KUBELET_PORT
from kybernetes.kubelet.server import KubeletServer
from kybernetes.kubelet.server import Node as ServedNode
from kybernetes.kubelet.status import status_differs
from kybernetes.kubelet.status_manager import StatusManager
from kybernetes.kubelet.timers import Timers
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
BOUND_PODS = "spec.nodeName!="
ECHO_METADATA = frozenset({"resourceVersion", "managedFields"})  # what a status write changes in metadata


class NodeGroup:
    def __init__(self, client: ApiClient, *, clock: Clock | None = None, pod_field_selector: str = BOUND_PODS,
                 workers: int = 32, status_writers: int = 16, events: bool = True,
                 heartbeat_client: ApiClient | None = None):
        self.client = client
        self.heartbeat_client = heartbeat_client or client
        self.clock = clock or REAL_CLOCK
        self.workers = workers
        self.informers = SharedInformerFactory(client, clock=self.clock)
        self.pods = self.informers.informer_for(PODS, field_selector=pod_field_selector)
        self.nodes = self.informers.informer_for(NODES)
        self.queue = WorkQueue(clock=self.clock, name="kubelet-pods")
        self.status = StatusManager(client, self.pods, clock=self.clock, writers=status_writers)
        self.events = KubeletEvents(client, clock=self.clock, enabled=events)
        self.timers = Timers(self.clock)  # for runtimes that simulate time (the fake one)
        self.kubelets: dict[str, Kubelet] = {}
        self._node_of: dict[str, str] = {}  # pod key -> the node whose kubelet last synced it
        self.ready = asyncio.Event()  # informers synced, kubelets started
        self.server: KubeletServer | None = None
        self._advertise_address = ""
        self.pods.add_event_handler(self._on_pod, self._on_pod_update, self._on_pod)

    def add(self, kubelet: Kubelet) -> Kubelet:
        if kubelet.name in self.kubelets:
            raise ValueError(f"node {kubelet.name!r} is already in this group")
        self.kubelets[kubelet.name] = kubelet
        return kubelet

    def enable_server(self, *, address: str = "0.0.0.0", port: int = KUBELET_PORT,
                      ssl_context: ssl.SSLContext | None = None, advertise_address: str = "",
                      log_root: str = "") -> KubeletServer:
        """Serve the streaming endpoints for every node of the group (started by ``run``).
        ``log_root``: where fake runtimes without one write their containers' logs."""
        def nodes() -> list[ServedNode]:
            return [ServedNode(k.name, k.runtime) for k in self.kubelets.values()]

        self.server = KubeletServer(nodes, address=address, port=port, ssl_context=ssl_context)
        self._advertise_address = advertise_address
        if log_root:
            for kubelet in self.kubelets.values():
                if getattr(kubelet.runtime, "log_root", None) == "":
                    kubelet.runtime.log_root = log_root  # type: ignore[attr-defined]
        return self.server

    async def _start_server(self) -> None:
        assert self.server is not None
        port = await self.server.start()
        for kubelet in self.kubelets.values():
            kubelet.config.kubelet_port = port
            if self._advertise_address:
                kubelet.config.internal_ip = self._advertise_address
                kubelet.worker.host_ip = self._advertise_address

    def _on_pod(self, pod: Obj) -> None:
        key = object_key(pod)
        if (pod.get("spec") or {}).get("nodeName") in self.kubelets or key in self._node_of:
            self.queue.add(key)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        if not self._own_status_echo(old, new):
            self._on_pod(new)

    def _own_status_echo(self, old: Obj, new: Obj) -> bool:
        """Whether an update only brings back the status this kubelet last set for the pod (its own
        PATCH seen through the watch): a sync starts from that status anyway (StatusManager.cached),
        so it would find nothing to do. Any other change (spec, metadata, a status field another
        writer set) syncs the pod."""
        if old.get("spec") != new.get("spec"):
            return False
        old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
        if any(old_meta.get(k) != new_meta.get(k) for k in old_meta.keys() | new_meta.keys()
               if k not in ECHO_METADATA):
            return False
        cached = self.status.cached(new_meta.get("uid", ""))
        return cached is not None and not status_differs(new.get("status") or {}, cached)

    # -- the loop ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run every kubelet until cancelled."""
        self.informers.start()
        try:
            if self.server is not None:
                await self._start_server()
            await self.informers.wait_for_cache_sync()
            async with asyncio.TaskGroup() as tg:
                if self.server is not None:
                    tg.create_task(self.server.run(), name="kubelet server")
                tg.create_task(self.status.run(), name="pod status writers")
                tg.create_task(self.events.run(), name="kubelet events")
                for kubelet in self.kubelets.values():
                    tg.create_task(kubelet.run(), name=f"kubelet {kubelet.name}")
                for i in range(self.workers):
                    tg.create_task(self._worker(), name=f"pod worker {i}")
                self.ready.set()
        finally:
            if self.server is not None:
                await self.server.stop()
            self.queue.shutdown()
            await self.timers.aclose()
            await self.informers.shutdown()

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.sync(key)
            except asyncio.CancelledError:
                self.queue.done(key)
                raise
            except Exception as e:  # noqa: BLE001 - retried with backoff
                log.warning("syncing pod %s failed (retry %d): %s", key, self.queue.num_requeues(key) + 1, e)
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
            self.queue.done(key)

    async def sync(self, key: str) -> None:
        pod = self.pods.get(key)
        node = ((pod or {}).get("spec") or {}).get("nodeName")
        previous = self._node_of.get(key)
        if previous and previous != node:  # deleted, or (after a re-create) bound elsewhere
            self._node_of.pop(key, None)
            if previous in self.kubelets:
                await self.kubelets[previous].sync(key, None)
        kubelet = self.kubelets.get(node or "")
        if kubelet is None:
            return
        self._node_of[key] = kubelet.name
        await kubelet.sync(key, pod)

    # -- introspection ----------------------------------------------------------------------------

    def all_registered(self) -> bool:
        return all(k.agent.registered.is_set() for k in self.kubelets.values())

    async def wait_registered(self, timeout: float | None = None) -> bool:
        async def wait_all() -> None:
            for kubelet in self.kubelets.values():
                await kubelet.agent.registered.wait()
        try:
            await asyncio.wait_for(wait_all(), timeout)
        except TimeoutError:
            return False
        return True
