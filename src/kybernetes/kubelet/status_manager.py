"""The status manager: pod statuses written to the apiserver, coalesced and rate limited.

Pod workers hand over the status they computed (``set_status``) and go on; writer tasks
PATCH pods/status in the background, one key at a time, through the client's token bucket
(``--qps``). Ten syncs of one pod before a writer gets to it are one write of the last status
(the work queue holds a key once); a status equal to what the apiserver already has is not
written at all. The latest status per pod uid is also remembered (``cached``), because the
informer lags behind the writes: a worker computing the next status must start from the last
one it produced, not from a stale cache (Kubernetes' status manager works the same way).

The write is a JSON merge patch of the whole status: lists (conditions, containerStatuses)
are replaced as a whole, reason/message removed with null when the phase no longer has them.
Statuses for a pod whose uid no longer matches (deleted and re-created under the same name)
are dropped. ``write_now`` writes at once, for the terminal status that must land before the
kubelet deletes a pod.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.client import ApiClient, Informer, ShutDown, WorkQueue
from kybernetes.client.indexer import object_key, split_key
from kybernetes.client.resource import PODS
from kybernetes.kubelet.status import status_differs
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def status_patch(status: Obj) -> Obj:
    return {"status": {**status, "reason": status.get("reason"), "message": status.get("message")}}


class StatusManager:
    def __init__(self, client: ApiClient, pods: Informer, *, clock: Clock | None = None, writers: int = 16):
        self.client = client
        self.pods = pods
        self.clock = clock or REAL_CLOCK
        self.writers = writers
        self.queue = WorkQueue(clock=self.clock, name="pod-status")
        self.writes = 0
        self._cached: dict[str, Obj] = {}  # pod uid -> the last status set
        # pod uid -> (the last status the apiserver accepted, the resourceVersion it got)
        self._written: dict[str, tuple[Obj, int]] = {}
        self._pending: dict[str, tuple[str, Obj]] = {}  # pod key -> (uid, status) to write

    def cached(self, uid: str) -> Obj | None:
        return self._cached.get(uid)

    def forget(self, uid: str) -> None:
        self._cached.pop(uid, None)
        self._written.pop(uid, None)

    def set_status(self, pod: Obj, status: Obj) -> None:
        meta = pod.get("metadata") or {}
        uid, key = meta.get("uid", ""), object_key(pod)
        self._cached[uid] = status
        if key not in self._pending and self._already_there(uid, pod, status):
            return
        self._pending[key] = (uid, status)
        self.queue.add(key)

    def _already_there(self, uid: str, pod: Obj | None, status: Obj) -> bool:
        """Whether the apiserver already holds ``status``: the informer's copy says so, or it is
        what we wrote last and the informer has seen nothing newer (it may lag behind)."""
        if pod is not None and not status_differs(pod.get("status") or {}, status):
            return True
        written = self._written.get(uid)
        if written is None or written[0] != status:
            return False
        try:
            seen = int(((pod or {}).get("metadata") or {}).get("resourceVersion") or 0)
        except ValueError:
            return False
        return seen <= written[1]  # nothing (e.g. another controller's status change) since

    async def write_now(self, pod: Obj, status: Obj) -> bool:
        """Write ``status`` now (not queued); False if the pod is gone."""
        meta = pod.get("metadata") or {}
        self._cached[meta.get("uid", "")] = status
        self._pending.pop(object_key(pod), None)
        return await self._patch(meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", ""), status)

    async def _patch(self, namespace: str, name: str, uid: str, status: Obj) -> bool:
        try:
            written = await self.client.patch(PODS, name, status_patch(status), namespace, subresource="status")
        except ApiError as e:
            if e.code == 404:
                return False
            raise
        self.writes += 1
        try:
            self._written[uid] = (status, int((written.get("metadata") or {}).get("resourceVersion") or 0))
        except ValueError:
            self._written.pop(uid, None)
        return True

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(self.writers):
                    tg.create_task(self._write_forever())
        finally:
            self.queue.shutdown()

    async def _write_forever(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self._write(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - retried with backoff
                log.warning("writing the status of pod %s failed (will retry): %s", key, e)
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)

    async def _write(self, key: str) -> None:
        entry = self._pending.get(key)
        if entry is None:
            return
        uid, status = entry
        current = self.pods.get(key)
        if current is not None and (current.get("metadata") or {}).get("uid") != uid:
            self._pending.pop(key, None)  # the pod was replaced by another of the same name
            return
        if self._already_there(uid, current, status):
            self._pending.pop(key, None)
            return
        namespace, name = split_key(key)
        if self._pending.get(key) is entry:
            self._pending.pop(key, None)
        try:
            await self._patch(namespace, name, uid, status)
        except Exception:
            self._pending.setdefault(key, entry)  # a newer status, if one came meanwhile, wins
            raise
