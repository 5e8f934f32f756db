"""Container lifecycle around the hooks: postStart in the background, preStop before each stop,
and the order a pod's containers stop in (Kubernetes' killContainer and killPod).

    PostStartHooks   one task per started container with a postStart hook; until it is done the
                     pod worker shows the container as waiting; a failure is a FailedPostStartHook
                     event and the container killed (restarted then by its policy); when done,
                     ``on_done(pod)`` syncs the pod again
    ContainerKiller  the Killing event, preStop (FailedPreStopHook when it fails or outlives the
                     grace), then the runtime's stop with the grace left (at least MIN_GRACE);
                     for a whole pod: every preStop at once, the regular and init containers
                     stopped together, then the sidecars one at a time in reverse order
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.kubelet.hooks import HookOutcome, HookRunner, pod_ip
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.util.clock import REAL_CLOCK, Clock

log = logging.getLogger(__name__)

Obj = dict[str, Any]
DEFAULT_GRACE = 30
Emit = Callable[[Obj, str, str, str], None]  # (pod, event type, reason, message)


def _pod_name(pod: Obj) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('name', '')}_{m.get('namespace', '')}({m.get('uid', '')})"


def pod_grace(pod: Obj) -> int:
    """The pod's terminationGracePeriodSeconds (30 when unset)."""
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    try:
        return DEFAULT_GRACE if grace is None else max(int(grace), 0)
    except (TypeError, ValueError):
        return DEFAULT_GRACE


MIN_GRACE = 2  # seconds a container always gets after its preStop (upstream's minimum)


def remaining_grace(grace: int, spent: float) -> int:
    """What is left of ``grace`` for SIGTERM..SIGKILL after ``spent`` seconds (preStop, waiting
    for its turn); never less than MIN_GRACE (or the grace itself when shorter); 0 stays 0."""
    if grace <= 0:
        return 0
    return max(int(grace - spent), min(MIN_GRACE, grace))


class ContainerKiller:
    """Kubernetes' killContainer: the Killing event, the preStop hook within the grace period,
    then the runtime's stop (SIGTERM, SIGKILL when the grace left runs out). ``kill_pod`` stops
    a pod's containers in Kubernetes' order: every one's preStop at once, regular (and init)
    containers stopped together, then the sidecars one at a time in reverse order, each once
    the containers after it have exited."""

    def __init__(self, runtime: Any, runner: HookRunner | None, *, node_ip: str, clock: Clock | None = None,
                 emit: Emit | None = None):
        self.runtime = runtime
        self.runner = runner
        self.node_ip = node_ip
        self.clock = clock or REAL_CLOCK
        self.emit = emit

    def _event(self, pod: Obj, event_type: str, reason: str, message: str) -> None:
        if self.emit is not None:
            self.emit(pod, event_type, reason, message)

    async def pre_stop(self, pod: Obj, container: Obj, container_id: str, grace: int) -> float:
        """Run the container's preStop hook, for at most ``grace`` seconds; the seconds it took."""
        handler = (container.get("lifecycle") or {}).get("preStop")
        if not handler or self.runner is None or grace <= 0:
            return 0.0
        started = self.clock.now()
        host = await pod_ip(self.runtime, pod, self.node_ip)
        try:
            outcome = await self.clock.wait_for(self.runner.run(pod, container, handler, container_id, host), grace)
        except TimeoutError:
            outcome = HookOutcome(False, f"PreStop hook for Container {json.dumps(container.get('name', ''))} in "
                                         f"Pod {json.dumps(_pod_name(pod))} did not complete in {grace}s")
        if not outcome.ok:
            self._event(pod, "Warning", "FailedPreStopHook", outcome.message)
        return self.clock.now() - started

    async def kill(self, pod: Obj, container: Obj, container_id: str, grace: int, *, message: str = "",
                   quiet: bool = False, turn: Any = None) -> None:
        """Stop one container; ``turn`` (an awaitable) is what it must wait for after its preStop."""
        if not quiet:
            self._event(pod, "Normal", "Killing", message or f"Stopping container {container.get('name', '')}")
        started = self.clock.now()
        await self.pre_stop(pod, container, container_id, grace)
        if turn is not None:
            left = grace - (self.clock.now() - started)
            try:
                await self.clock.wait_for(asyncio.shield(turn), max(left, 0.0) if grace > 0 else 0.0)
            except TimeoutError:
                pass
        await self.runtime.stop_container(container_id, remaining_grace(grace, self.clock.now() - started))

    async def kill_pod(self, pod: Obj, running: list[cri.ContainerStatus], grace: int, *, quiet: bool = False) -> None:
        spec = pod.get("spec") or {}
        specs = {c.get("name", ""): c for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or [])}
        sidecar_order = [c.get("name", "") for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]

        def name_of(cs: cri.ContainerStatus) -> str:
            return cs.labels.get(cri.CONTAINER_NAME_LABEL, cs.metadata.name)

        loop = asyncio.get_running_loop()
        first = [loop.create_task(self.kill(pod, specs.get(name_of(cs), {}), cs.id, grace, quiet=quiet))
                 for cs in running if name_of(cs) not in sidecar_order]
        later: list[asyncio.Task[None]] = []
        for name in reversed(sidecar_order):
            mine = [cs for cs in running if name_of(cs) == name]
            before = list(first) + list(later)
            turn = asyncio.gather(*before, return_exceptions=True) if before else None
            later.extend(loop.create_task(self.kill(pod, specs.get(name, {}), cs.id, grace, quiet=quiet, turn=turn))
                         for cs in mine)
        results = await asyncio.gather(*first, *later, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]


@dataclass
class _PostStart:
    uid: str
    name: str
    task: asyncio.Task[None] | None = None


class PostStartHooks:
    def __init__(self, runtime: Any, runner: HookRunner | None, killer: ContainerKiller, *, node_ip: str,
                 emit: Emit, on_done: Callable[[Obj], None]):
        self.runtime = runtime
        self.runner = runner
        self.killer = killer
        self.node_ip = node_ip
        self.emit = emit
        self.on_done = on_done
        self._runs: dict[str, _PostStart] = {}  # container id -> its running hook

    def __contains__(self, container_id: object) -> bool:
        return container_id in self._runs

    def running(self, uid: str, name: str) -> bool:
        return any(r.uid == uid and r.name == name for r in self._runs.values())

    def begin(self, pod: Obj, container: Obj, container_id: str) -> None:
        """Run the container's postStart hook, if it has one (and hooks run on this node)."""
        handler = (container.get("lifecycle") or {}).get("postStart")
        if not handler or self.runner is None:
            return
        run = _PostStart((pod.get("metadata") or {}).get("uid", ""), container.get("name", ""))
        self._runs[container_id] = run
        run.task = asyncio.get_running_loop().create_task(self._run(pod, container, handler, container_id),
                                                          name=f"postStart {_pod_name(pod)}/{run.name}")

    def cancel(self, uid: str) -> None:
        for container_id, run in list(self._runs.items()):
            if run.uid == uid:
                self._runs.pop(container_id, None)
                if run.task is not None and run.task is not asyncio.current_task():
                    run.task.cancel()

    async def _run(self, pod: Obj, container: Obj, handler: Obj, container_id: str) -> None:
        assert self.runner is not None
        try:
            host = await pod_ip(self.runtime, pod, self.node_ip)
            outcome = await self.runner.run(pod, container, handler, container_id, host)
            if not outcome.ok:
                self.emit(pod, "Warning", "FailedPostStartHook", outcome.message)
                await self.killer.kill(pod, container, container_id, pod_grace(pod), message="FailedPostStartHook")
        except asyncio.CancelledError:
            self._runs.pop(container_id, None)
            raise
        except Exception as e:  # noqa: BLE001 - a hook must never take the pod worker down
            log.warning("postStart hook of %s in %s: %s", container.get("name"), _pod_name(pod), e)
        if self._runs.pop(container_id, None) is not None:
            self.on_done(pod)
