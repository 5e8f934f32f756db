"""RuncRuntime: CRI's RuntimeService over runc and conmon, for real nodes.

    run_pod_sandbox     namespaces (sandbox.py) ─► CNI ADD (the injected network) ─► hosts etc.
    create_container    rootfs from the image store ─► config.json (spec.py) ─► conmon + runc create
    start_container     runc start's work (conmon.Runc.start); conmon's exit is watched (conmon.ConmonWatch)
    stop_container      stop signal, grace period, SIGKILL; returns once it exited
    remove_container    runc delete, rootfs released, bundle and cgroup removed
    stop_pod_sandbox    containers killed, CNI DEL; remove_pod_sandbox unmounts and deletes

Every change is written to the state records (state.py) first, so a new RuncRuntime over the
same directories re-adopts the sandboxes, containers and conmon monitors an earlier one left.
Exit codes come from conmon's exit files; a container killed by the kernel's OOM killer (its
memory cgroup counted an oom_kill) is reported with reason OOMKilled.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

from kybernetes.kubelet.network.manager import NoNetwork, PodNetworkPlugin
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.runc import cgroups, conmon, linux, sealed_binary
from kybernetes.kubelet.runtime.runc.container_ops import ContainerOps
from kybernetes.kubelet.runtime.runc.images import ContainerImages
from kybernetes.kubelet.runtime.runc.log_reopen import LogReopenOps
from kybernetes.kubelet.runtime.runc.machine_stats import MachineStatsOps
from kybernetes.kubelet.runtime.runc.sandbox import SHORT_NAME, SandboxError, SandboxHost
from kybernetes.kubelet.runtime.runc.state import (
    ContainerRecord,
    PodIndex,
    SandboxRecord,
    StateStore,
    candidates,
)
from kybernetes.kubelet.runtime.runc.users import AccountFiles

log = logging.getLogger(__name__)

RUNTIME_NAME = "runc"
CRI_VERSION = "v1"
DEFAULT_RUN_DIR = "/run/kybernetes"
DEFAULT_CGROUP_ROOT = "kybernetes"


def now_ns() -> int:
    return time.time_ns()


class RuncRuntime(ContainerOps, LogReopenOps, MachineStatsOps):
    """The RuntimeService of a real node (also implements exec_sync, exec, port_forward, stats)."""

    def __init__(self, data_dir: str | Path, images: ContainerImages, *, network: PodNetworkPlugin | None = None,
                 run_dir: str | Path = DEFAULT_RUN_DIR, cgroup_root: str = DEFAULT_CGROUP_ROOT,
                 runc_binary: str = conmon.RUNC, conmon_binary: str = conmon.CONMON):
        self.data_dir = Path(data_dir)
        self.run_dir = Path(run_dir)
        self.images = images
        self.network: PodNetworkPlugin = network or NoNetwork()
        self.cgroup_root = cgroup_root.strip("/")
        self.conmon_binary = conmon_binary
        self.runc = conmon.Runc(str(self.run_dir / "runc"), sealed_binary.executable(runc_binary))
        self.store = StateStore(self.data_dir / "state")
        self.host = SandboxHost(self.run_dir)
        # what lives only as long as the processes it describes is under the run dir (a tmpfs on
        # a real node, kubelet/runtime/runc/run_dir.py): exit files, conmon's sockets, bundles
        self.exit_dir = self.run_dir / "exits"
        self.legacy_exit_dir = self.data_dir / "exits"  # where conmons started before that write theirs
        self.socket_dir = self.run_dir / "sockets"
        self.containers_dir = self.run_dir / "containers"
        self.logs_dir = self.data_dir / "logs"
        for d in (self.exit_dir, self.socket_dir, self.containers_dir, self.run_dir / "runc"):
            d.mkdir(parents=True, exist_ok=True)
        self._sandboxes: dict[str, SandboxRecord] = {}
        self._containers: dict[str, ContainerRecord] = {}
        self._sandbox_index = PodIndex()  # pod uid -> its sandbox / container ids
        self._container_index = PodIndex()
        self._accounts_by_image: dict[str, AccountFiles] = {}  # image id -> its /etc/passwd, /etc/group
        self._watches: dict[str, conmon.ConmonWatch] = {}
        self._exited: dict[str, asyncio.Event] = {}
        self._subscribers: list[asyncio.Queue[cri.ContainerEvent]] = []
        self._loaded = False
        self._load_lock = asyncio.Lock()
        self._network_error = ""
        self._starting: set[str] = set()  # containers inside start_container's runc start
        self._deferred_exits: set[str] = set()  # ... whose conmon exited meanwhile

    # -- re-adoption ------------------------------------------------------------------------------

    async def _ready(self) -> None:
        if self._loaded:
            return
        async with self._load_lock:
            if self._loaded:
                return
            mounts = linux.mount_points()
            for s in self.store.load_sandboxes():
                self._sandboxes[s.id] = s
                self._sandbox_index.add(s.config.labels, s.id)
                await self._adopt_sandbox(s, mounts)
            for c in self.store.load_containers():
                self._containers[c.id] = c
                self._container_index.add(c.config.labels, c.id)
                await self._adopt(c)
            self._loaded = True

    async def _adopt_sandbox(self, s: SandboxRecord, mounts: set[str]) -> None:
        """A ready sandbox whose namespace files are gone (a reboot emptied /run, or someone
        unmounted them) can never run a container again: it becomes NOTREADY, so the kubelet
        makes the pod a new one, as after a reboot in Kubernetes. Its CNI DEL runs now, while the
        runtime loads, so the address and the iptables rules it held are freed at once (CNI
        plugins accept a DEL whose namespace is gone)."""
        if s.state != cri.PodSandboxState.SANDBOX_READY:
            return
        lost = [p for p in (s.netns, s.ipcns, s.utsns) if p and p not in mounts]
        if not lost:
            return
        log.info("pod sandbox %s of %s/%s lost its namespaces (%s): not ready", s.id[:12],
                 s.config.metadata.namespace, s.config.metadata.name, ", ".join(lost))
        s.state = cri.PodSandboxState.SANDBOX_NOTREADY
        self.store.save_sandbox(s)
        self.host.remove_namespaces((s.netns, s.ipcns, s.utsns))
        try:
            await self._teardown_network(s)
        except cri.RuntimeServiceError as e:  # stop/remove of the sandbox retries the DEL
            log.warning("pod sandbox %s: %s", s.id[:12], e)

    async def _adopt(self, c: ContainerRecord) -> None:
        """Pick up a container an earlier runtime object (or process) left."""
        self._exited[c.id] = asyncio.Event()
        if c.state == cri.ContainerState.CONTAINER_EXITED:
            self._exited[c.id].set()
            return
        if c.state == cri.ContainerState.CONTAINER_RUNNING:
            if linux.process_alive(c.conmon_pid, c.id):
                self._watch(c)
            else:  # it exited while nobody watched: conmon left the exit file
                self._on_conmon_exit(c.id)
            return
        if c.state == cri.ContainerState.CONTAINER_CREATED and await self.runc.state(c.id) is None:
            self._finish(c, 255, "Error", "the container was lost while the runtime was down")

    def _watch(self, c: ContainerRecord) -> None:
        old = self._watches.pop(c.id, None)
        if old is not None:
            old.close()
        self._watches[c.id] = conmon.ConmonWatch(c.conmon_pid, c.id, lambda: self._on_conmon_exit(c.id))

    def _on_conmon_exit(self, container_id: str) -> None:
        self._watches.pop(container_id, None)
        if container_id in self._starting:  # start_container finishes first, then comes back here
            self._deferred_exits.add(container_id)
            return
        c = self._containers.get(container_id)
        if c is None or c.state == cri.ContainerState.CONTAINER_EXITED:
            return
        code = conmon.read_exit_code(str(self.exit_dir_of(c)), container_id)
        if code is None:
            self._finish(c, 255, "Error", "conmon exited without recording an exit code")
            return
        oom = cgroups.oom_kill_count(c.cgroups_path) > 0 or (Path(c.bundle) / "oom").exists()
        reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
        self._finish(c, code, reason, "")

    def exit_dir_of(self, c: ContainerRecord) -> Path:
        """Where the container's conmon writes its exit file: the run dir's, unless an earlier
        version of the runtime (bundles under the data dir) started it."""
        return self.exit_dir if Path(c.bundle).is_relative_to(self.run_dir) else self.legacy_exit_dir

    def _finish(self, c: ContainerRecord, code: int, reason: str, message: str) -> None:
        c.state = cri.ContainerState.CONTAINER_EXITED
        c.exit_code, c.reason, c.message = code, reason, message
        c.finished_at = c.finished_at or now_ns()
        self.store.save_container(c)
        self._exited.setdefault(c.id, asyncio.Event()).set()
        self._emit(c, cri.ContainerEventType.CONTAINER_STOPPED_EVENT)

    def _emit(self, c: ContainerRecord, event_type: cri.ContainerEventType) -> None:
        event = cri.ContainerEvent(c.id, event_type, now_ns(), c.sandbox_id, dict(c.config.labels))
        for queue in self._subscribers:
            queue.put_nowait(event)

    def close(self) -> None:
        """Stop watching (containers and conmon keep running; a new object re-adopts them)."""
        for watch in self._watches.values():
            watch.close()
        self._watches.clear()
        self._loaded = False

    # -- version and status -------------------------------------------------------------------------

    async def version(self) -> cri.VersionResponse:
        _code, out, _ = await self.runc.run("--version", check=False)
        first = out.decode(errors="replace").splitlines()[0] if out else "runc"
        return cri.VersionResponse(CRI_VERSION, RUNTIME_NAME, first.removeprefix("runc version ").strip(),
                                   CRI_VERSION)

    async def status(self) -> cri.RuntimeStatus:
        await self._ready()
        network_ok = not self._network_error
        return cri.RuntimeStatus((cri.RuntimeCondition("RuntimeReady", True),
                                  cri.RuntimeCondition("NetworkReady", network_ok,
                                                       "" if network_ok else "NetworkPluginNotReady",
                                                       self._network_error)))

    async def update_runtime_config(self, pod_cidr: str) -> None:
        if pod_cidr:
            try:
                await self.network.configure(pod_cidr)
                self._network_error = ""
            except Exception as e:  # a plugin's failure of any kind makes the network not ready
                self._network_error = f"cannot configure the pod network: {e}"
                raise cri.RuntimeServiceError(self._network_error) from None

    # -- sandboxes ----------------------------------------------------------------------------------

    def _sandbox(self, sandbox_id: str) -> SandboxRecord:
        try:
            return self._sandboxes[sandbox_id]
        except KeyError:
            raise cri.NotFoundError(f"pod sandbox {sandbox_id!r} not found") from None

    async def run_pod_sandbox(self, config: cri.PodSandboxConfig, runtime_handler: str = "") -> str:
        await self._ready()
        if runtime_handler and runtime_handler != RUNTIME_NAME:
            raise cri.RuntimeServiceError(f"no runtime handler {runtime_handler!r} (only {RUNTIME_NAME!r})")
        sandbox_id = secrets.token_hex(32)
        parent = config.linux.cgroup_parent if config.linux and config.linux.cgroup_parent else ""
        record = SandboxRecord(sandbox_id, config, now_ns(),
                               dir=str(self.host.sandbox_dir(sandbox_id)),
                               cgroup_parent=parent or f"/{self.cgroup_root}/pod{sandbox_id[:SHORT_NAME]}")
        # The namespace files it is about to make are in the record from the start: a crash from
        # here on leaves something to clean up, and a runtime that re-adopts the record finds
        # them (or finds them missing: then the sandbox is not ready).
        record.netns, record.ipcns, record.utsns = self.host.ns_paths(sandbox_id, config)
        self.store.save_sandbox(record)
        self._sandboxes[sandbox_id] = record
        self._sandbox_index.add(config.labels, sandbox_id)
        try:
            await self.host.create_namespaces((record.netns, record.ipcns, record.utsns), config)
            if record.netns:
                meta = config.metadata
                ips = await self.network.setup(record.netns, sandbox_id, meta.namespace, meta.name, meta.uid,
                                               config.port_mappings)
                record.ips, record.network_ready = tuple(ips), True
            self.host.write_files(sandbox_id, config, record.ips)
            self.store.save_sandbox(record)
        except Exception as e:
            await self._destroy_sandbox(record)
            if isinstance(e, SandboxError):
                raise cri.RuntimeServiceError(str(e)) from None
            raise cri.RuntimeServiceError(f"failed to set up the pod network: {e}") from None
        return sandbox_id

    async def stop_pod_sandbox(self, pod_sandbox_id: str) -> None:
        await self._ready()
        record = self._sandboxes.get(pod_sandbox_id)
        if record is None:
            return
        running = [c for c in self._containers.values() if c.sandbox_id == pod_sandbox_id
                   and c.state != cri.ContainerState.CONTAINER_EXITED]
        await asyncio.gather(*(self.stop_container(c.id, 0) for c in running))
        await self._teardown_network(record)
        record.state = cri.PodSandboxState.SANDBOX_NOTREADY
        self.store.save_sandbox(record)

    async def _teardown_network(self, record: SandboxRecord) -> None:
        if record.network_ready:
            meta = record.config.metadata
            try:
                await self.network.teardown(record.netns, record.id, meta.namespace, meta.name, meta.uid,
                                            record.config.port_mappings)
            except Exception as e:  # keep network_ready: a later stop or remove retries the DEL
                raise cri.RuntimeServiceError(f"failed to tear down the pod network: {e}") from None
            record.network_ready = False
            self.store.save_sandbox(record)

    async def remove_pod_sandbox(self, pod_sandbox_id: str) -> None:
        await self._ready()
        record = self._sandboxes.get(pod_sandbox_id)
        if record is None:
            return
        await self.stop_pod_sandbox(pod_sandbox_id)
        for c in [c for c in self._containers.values() if c.sandbox_id == pod_sandbox_id]:
            await self.remove_container(c.id)
        await self._destroy_sandbox(record)

    async def _destroy_sandbox(self, record: SandboxRecord) -> None:
        await self._teardown_network(record)
        self.host.remove_namespaces((record.netns, record.ipcns, record.utsns))
        self.host.remove_files(record.id)
        if record.cgroup_parent.strip("/").startswith(self.cgroup_root + "/"):
            cgroups.remove_tree(record.cgroup_parent)
        self._sandboxes.pop(record.id, None)
        self._sandbox_index.discard(record.config.labels, record.id)
        self.store.delete_sandbox(record.id)

    async def pod_sandbox_status(self, pod_sandbox_id: str) -> cri.PodSandboxStatus:
        await self._ready()
        s = self._sandbox(pod_sandbox_id)
        ready = s.state == cri.PodSandboxState.SANDBOX_READY
        ips = s.ips if ready else ()
        network = cri.PodSandboxNetworkStatus(ips[0] if ips else "", tuple(ips[1:]))
        return cri.PodSandboxStatus(s.id, s.config.metadata, s.state, s.created_at, network,
                                    dict(s.config.labels), dict(s.config.annotations))

    async def list_pod_sandbox(self, filter: cri.PodSandboxFilter | None = None) -> list[cri.PodSandbox]:
        await self._ready()
        f = filter or cri.PodSandboxFilter()
        return [cri.PodSandbox(s.id, s.config.metadata, s.state, s.created_at, dict(s.config.labels),
                               dict(s.config.annotations))
                for s in candidates(self._sandboxes, self._sandbox_index, f.id, f.label_selector)
                if (not f.id or s.id == f.id) and (f.state is None or s.state == f.state)
                and cri.matches_labels(s.config.labels, f.label_selector)]

    # -- events ---------------------------------------------------------------------------------------

    async def get_container_events(self) -> AsyncIterator[cri.ContainerEvent]:
        queue = self.subscribe()
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.remove(queue)

    def subscribe(self) -> asyncio.Queue[cri.ContainerEvent]:
        queue: asyncio.Queue[cri.ContainerEvent] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    # -- host hygiene -------------------------------------------------------------------------------

    async def uninstall(self) -> None:
        """Remove every sandbox and container this runtime holds, then the host changes it made
        (the namespace directory's mount, the cgroup root), for ``kyb uninstall`` and tests."""
        await self._ready()
        for sandbox_id in list(self._sandboxes):
            await self.remove_pod_sandbox(sandbox_id)
        for container_id in list(self._containers):
            await self.remove_container(container_id)
        self.close()
        self.host.uninstall()
        cgroups.remove_tree(f"/{self.cgroup_root}")
        shutil.rmtree(self.socket_dir, ignore_errors=True)
