"""Stand-ins for the scheduler and the kubelet in the StatefulSet and DaemonSet end-to-end tests.

FakeBinder binds every unbound pod (POST pods/binding) to the node its DaemonSet affinity names,
or to a default node. FakeKubelet marks bound pods Running and Ready (unless held) and finishes
graceful deletions. Both write what they did to a shared log, so tests can assert order.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from kybernetes.client.informer import Informer
from kybernetes.client.resource import PODS
from kybernetes.controllers.daemonset_nodes import target_node
from tests.support.local_kubectl import require_kubectl, run_kubectl, write_kubeconfig


class _Agent:
    def __init__(self, client, log: list):
        self.client = client
        self.log = log
        self.informer = Informer(client, PODS)
        self.informer.add_event_handler(on_add=self._seen, on_update=lambda _o, n: self._seen(n))
        self.tasks: set[asyncio.Task] = set()
        self.busy: set[str] = set()

    def _seen(self, pod):
        raise NotImplementedError

    def _spawn(self, key, coro):
        if key in self.busy:
            coro.close()
            return
        self.busy.add(key)
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(lambda t: (self.tasks.discard(t), self.busy.discard(key)))

    def start(self):
        self.informer.start()

    async def stop(self):
        await self.informer.stop()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class FakeBinder(_Agent):
    def __init__(self, client, log, default_node="node-1"):
        super().__init__(client, log)
        self.default_node = default_node

    def _seen(self, pod):
        meta = pod["metadata"]
        if not pod["spec"].get("nodeName") and not meta.get("deletionTimestamp"):
            self._spawn(("bind", meta["namespace"], meta["name"], meta["uid"]), self._bind(pod))

    async def _bind(self, pod):
        meta = pod["metadata"]
        node = target_node(pod) or self.default_node
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        with contextlib.suppress(Exception):
            await self.client.create(PODS, body, meta["namespace"], name=meta["name"], subresource="binding")
            self.log.append(("bound", meta["name"], node))


class FakeKubelet(_Agent):
    def __init__(self, client, log, delay=0.0):
        super().__init__(client, log)
        self.delay = delay
        self.hold: set[str] = set()  # pod names left unready

    def _seen(self, pod):
        meta, status = pod["metadata"], pod.get("status") or {}
        key = (meta["namespace"], meta["name"], meta["uid"])
        if meta.get("deletionTimestamp"):
            self._spawn(("finish", *key), self._finish(pod))
        elif pod["spec"].get("nodeName") and status.get("phase") == "Pending" and meta["name"] not in self.hold:
            self._spawn(("start", *key), self._start(pod))

    def release(self, name):
        self.hold.discard(name)
        for pod in self.informer.indexer.list():
            self._seen(pod)

    async def _start(self, pod):
        meta = pod["metadata"]
        await asyncio.sleep(self.delay)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}
        with contextlib.suppress(Exception):
            await self.client.patch(PODS, meta["name"], {"status": status}, meta["namespace"], subresource="status")
            self.log.append(("ready", meta["name"]))

    async def _finish(self, pod):
        meta = pod["metadata"]
        self.log.append(("terminating", meta["name"]))
        await asyncio.sleep(self.delay)
        with contextlib.suppress(Exception):
            await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0,
                                     preconditions={"uid": meta["uid"]})


@contextlib.asynccontextmanager
async def kubectl_env(url: str):
    """A temporary folder with a kubeconfig for ``url``; yields a coroutine function running kubectl."""
    require_kubectl()
    with tempfile.TemporaryDirectory(prefix="kyb-sts-") as tmp:
        folder = Path(tmp)
        write_kubeconfig(folder, url)

        async def kubectl(*args: str, timeout: float = 30) -> tuple[int, str]:
            return await run_kubectl(folder, *args, timeout=timeout)

        yield kubectl
