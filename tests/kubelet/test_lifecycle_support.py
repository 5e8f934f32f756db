"""Shared pieces of the lifecycle tests (no tests here): a fake runtime that can exec_sync, an
event recorder, pods, and a pod worker on a fake clock."""

from __future__ import annotations

import asyncio

from kybernetes.kubelet.hooks import HookRunner
from kybernetes.kubelet.pod_worker import PodWorker
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.fake import FakeRuntime
from kybernetes.util.clock import FakeClock


class ExecRuntime(FakeRuntime):
    """FakeRuntime plus exec_sync: each command's exit code from ``codes`` (default 0); a command
    in ``gates`` waits for its event first. ``journal`` records execs and stops, in order."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.codes: dict[str, int] = {}
        self.gates: dict[str, asyncio.Event] = {}
        self.journal: list[tuple[str, str]] = []

    async def exec_sync(self, container_id, cmd, timeout=0):
        line = " ".join(cmd)
        self.journal.append(("exec", line))
        if line in self.gates:
            await self.gates[line].wait()
        code = self.codes.get(line, 0)
        return cri.ExecSyncResponse(b"", b"boom" if code else b"", code)

    async def stop_container(self, container_id, timeout):
        c = self._containers.get(container_id)
        if c is not None and c.state == cri.ContainerState.CONTAINER_RUNNING:
            self.journal.append(("stop", f"{c.config.metadata.name} {timeout}"))
        await super().stop_container(container_id, timeout)


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def emit(self, node, obj, event_type, reason, message) -> None:
        self.items.append((event_type, reason, message))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.items]


def pod(*containers: dict, init: tuple[dict, ...] = (), uid: str = "u1", **spec) -> dict:
    full = {"containers": [{"image": "busybox:1.36", **c} for c in containers], **spec}
    if init:
        full["initContainers"] = [{"image": "busybox:1.36", **c} for c in init]
    return {"metadata": {"name": "p", "namespace": "ns", "uid": uid}, "spec": full}


def worker(runtime: ExecRuntime, clock: FakeClock, *, hooks: bool = True) -> tuple[PodWorker, Events, list[str]]:
    events, resyncs = Events(), []
    w = PodWorker(runtime, runtime.images, node_name="n1", host_ip="127.0.0.1", clock=clock, events=events,
                  hooks=HookRunner(runtime, clock=clock) if hooks else None, resync=resyncs.append)
    return w, events, resyncs


async def settle(rounds: int = 30) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


def status_of(status: dict, name: str, init: bool = False) -> dict:
    key = "initContainerStatuses" if init else "containerStatuses"
    return next(c for c in status.get(key) or [] if c["name"] == name)


def state_of(status: dict, name: str, init: bool = False) -> str:
    return next(iter(status_of(status, name, init)["state"]))
