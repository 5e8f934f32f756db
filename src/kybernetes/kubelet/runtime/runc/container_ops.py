"""The container calls of RuncRuntime (service.py holds the sandboxes, state and events).

create: rootfs + config.json + conmon (runc create); start: runc start; stop: the stop signal,
the grace period, then SIGKILL; remove: runc delete, the rootfs released, bundle, exit file and
cgroup removed. The record is saved before anything exists on the host for the container (the
rootfs and bundle are found again by its id), once conmon has made it (conmon's pid), and at
every change of state after that, before it is acted on.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.runc import cgroups, conmon
from kybernetes.kubelet.runtime.runc.images import image_config_from
from kybernetes.kubelet.runtime.runc.spec import SpecError, build_spec, mount_destinations, mounts
from kybernetes.kubelet.runtime.runc.state import ContainerRecord, SandboxRecord, candidates
from kybernetes.kubelet.runtime.runc.streaming import StreamingOps
from kybernetes.kubelet.runtime.runc.users import (
    AccountFiles,
    UserResolutionError,
    account_files,
    resolve_user,
)
from kybernetes.util.files import read_text

if TYPE_CHECKING:
    from kybernetes.kubelet.runtime.runc.service import RuncRuntime

KILL_WAIT_SECONDS = 10.0


def _now_ns() -> int:
    return time.time_ns()


class ContainerOps(StreamingOps):
    def _container(self: RuncRuntime, container_id: str) -> ContainerRecord:
        try:
            return self._containers[container_id]
        except KeyError:
            raise cri.NotFoundError(f"container {container_id!r} not found") from None

    def _log_path(self: RuncRuntime, sandbox: SandboxRecord, config: cri.ContainerConfig) -> Path:
        if config.log_path:
            path = Path(config.log_path)
            if path.is_absolute():
                return path
            return Path(sandbox.config.log_directory or self.logs_dir / sandbox.id) / path
        return self.logs_dir / sandbox.id / f"{config.metadata.name}_{config.metadata.attempt}.log"

    async def create_container(self: RuncRuntime, pod_sandbox_id: str, config: cri.ContainerConfig,
                               sandbox_config: cri.PodSandboxConfig) -> str:
        await self._ready()
        sandbox = self._sandbox(pod_sandbox_id)
        if sandbox.state != cri.PodSandboxState.SANDBOX_READY:
            raise cri.RuntimeServiceError(f"pod sandbox {pod_sandbox_id} is not ready")
        try:
            image_id, image_ref = await self.images.resolve(config.image.image)
        except LookupError:
            raise cri.RuntimeServiceError(f"image {config.image.image!r} is not present on the node") from None
        container_id = secrets.token_hex(32)
        bundle = os.path.join(self.containers_dir, container_id)
        record = ContainerRecord(container_id, pod_sandbox_id, config, image_ref, config.image.image, _now_ns(),
                                 bundle, f"{sandbox.cgroup_parent.rstrip('/')}/{container_id}",
                                 str(self._log_path(sandbox, config)))
        self.store.save_container(record)
        self._containers[container_id] = record
        self._container_index.add(config.labels, container_id)
        self._exited[container_id] = asyncio.Event()
        try:
            os.makedirs(bundle)
            security = config.linux.security_context if config.linux else None
            planned = mounts(config, sandbox.dir, bool(security and security.privileged))
            points = tuple(mount_destinations(planned[0]))
            record.rootfs = await self.images.prepare_rootfs(image_id, container_id, points)
            image = image_config_from(await self.images.image_config(image_id))
            record.stop_signal = conmon.signal_name(image.stop_signal or "SIGTERM")
            user = resolve_user(record.rootfs, image.user,
                                uid=security.run_as_user if security else None,
                                gid=security.run_as_group if security else None,
                                username=security.run_as_username if security else "",
                                files=self._image_accounts(image_id, record.rootfs))
            hostname = (read_text(os.path.join(sandbox.dir, "hostname")) or "").strip()
            spec = build_spec(config=config, sandbox_config=sandbox.config, image=image, user=user,
                              rootfs=record.rootfs, cgroups_path=record.cgroups_path, sandbox_dir=sandbox.dir,
                              netns=sandbox.netns, ipcns=sandbox.ipcns, utsns=sandbox.utsns, hostname=hostname,
                              planned_mounts=planned)
            with open(os.path.join(bundle, "config.json"), "wb") as f:
                f.write(orjson.dumps(spec))
            os.makedirs(os.path.dirname(record.log_path), exist_ok=True)
            name = "_".join(("k8s", config.metadata.name, sandbox.config.metadata.name,
                             sandbox.config.metadata.namespace, sandbox.config.metadata.uid,
                             str(config.metadata.attempt)))
            paths = conmon.ConmonPaths(bundle, str(self.exit_dir), str(self.socket_dir), record.log_path)
            record.conmon_pid, record.pid = await conmon.launch(
                self.runc, container_id, name, paths, stdin=config.stdin, stdin_once=config.stdin_once,
                terminal=config.tty, conmon=self.conmon_binary)
        except (SpecError, UserResolutionError, conmon.ConmonError, OSError, LookupError,
                cri.RuntimeServiceError) as e:  # the last: the image store's own errors
            await self._discard(record)
            raise cri.RuntimeServiceError(f"cannot create container {config.metadata.name}: {e}") from None
        self.store.save_container(record)
        self._watch(record)
        self._emit(record, cri.ContainerEventType.CONTAINER_CREATED_EVENT)
        return container_id

    def _image_accounts(self: RuncRuntime, image_id: str, rootfs: str) -> AccountFiles:
        """/etc/passwd and /etc/group of an image, read from a container's fresh rootfs once per
        image id (the content of an id never changes; reading through overlayfs costs a few ms)."""
        files = self._accounts_by_image.get(image_id)
        if files is None:
            files = self._accounts_by_image[image_id] = account_files(rootfs)
        return files

    async def _discard(self: RuncRuntime, record: ContainerRecord) -> None:
        """Undo everything a container has on the host, whatever stage it reached."""
        watch = self._watches.pop(record.id, None)
        if watch is not None:
            watch.close()
        await self.runc.delete(record.id)
        if record.rootfs_from_images:  # by container id, prepared or not (a crash may have come between)
            try:
                await self.images.release_rootfs(record.id)
            except Exception as e:  # the image store's own failure must not keep the record alive
                record.message = f"releasing the rootfs failed: {e}"
        shutil.rmtree(record.bundle, ignore_errors=True)
        (self.exit_dir_of(record) / record.id).unlink(missing_ok=True)
        cgroups.remove_tree(record.cgroups_path)
        if Path(record.log_path).is_relative_to(self.logs_dir):
            Path(record.log_path).unlink(missing_ok=True)
        self._containers.pop(record.id, None)
        self._container_index.discard(record.config.labels, record.id)
        self._exited.pop(record.id, None)
        self.store.delete_container(record.id)

    async def start_container(self: RuncRuntime, container_id: str) -> None:
        await self._ready()
        c = self._container(container_id)
        if c.state != cri.ContainerState.CONTAINER_CREATED:
            raise cri.RuntimeServiceError(f"container {container_id} is {c.state}, not created")
        c.state, c.started_at = cri.ContainerState.CONTAINER_RUNNING, _now_ns()
        self.store.save_container(c)
        self._starting.add(container_id)
        try:
            await self.runc.start(container_id, c.pid)
        except conmon.ConmonError as e:
            await self.runc.kill(container_id, "SIGKILL")
            self._finish(c, 128, "StartError", str(e))
            raise cri.RuntimeServiceError(f"cannot start container {c.config.metadata.name}: {e}") from None
        finally:
            self._starting.discard(container_id)
        self._emit(c, cri.ContainerEventType.CONTAINER_STARTED_EVENT)
        if container_id in self._deferred_exits:  # it exited while being started
            self._deferred_exits.discard(container_id)
            self._on_conmon_exit(container_id)

    async def stop_container(self: RuncRuntime, container_id: str, timeout: int) -> None:
        await self._ready()
        c = self._containers.get(container_id)
        if c is None or c.state == cri.ContainerState.CONTAINER_EXITED:
            return
        exited = self._exited.setdefault(container_id, asyncio.Event())
        host_pid = self._host_pid(c)
        if timeout > 0 and c.state == cri.ContainerState.CONTAINER_RUNNING:
            if await self.runc.kill(container_id, c.stop_signal):
                try:
                    await asyncio.wait_for(exited.wait(), timeout)
                    return
                except TimeoutError:
                    pass
        await self.runc.kill(container_id, "SIGKILL", all_processes=host_pid)
        try:
            await asyncio.wait_for(exited.wait(), KILL_WAIT_SECONDS)
        except TimeoutError:
            if c.state != cri.ContainerState.CONTAINER_EXITED:
                self._finish(c, 137, "Error", "the container did not exit after SIGKILL")

    def _host_pid(self: RuncRuntime, c: ContainerRecord) -> bool:
        sandbox = self._sandboxes.get(c.sandbox_id)
        return sandbox is not None and sandbox.config.namespace_options.pid == cri.NamespaceMode.NODE

    async def remove_container(self: RuncRuntime, container_id: str) -> None:
        await self._ready()
        c = self._containers.get(container_id)
        if c is None:
            return
        if c.state != cri.ContainerState.CONTAINER_EXITED:
            await self.stop_container(container_id, 0)
        await self._discard(c)
        self._emit(c, cri.ContainerEventType.CONTAINER_DELETED_EVENT)

    async def list_containers(self: RuncRuntime, filter: cri.ContainerFilter | None = None) -> list[cri.Container]:
        await self._ready()
        f = filter or cri.ContainerFilter()
        return [cri.Container(c.id, c.sandbox_id, c.config.metadata, cri.ImageSpec(c.image_name), c.image_ref,
                              c.state, c.created_at, dict(c.config.labels), dict(c.config.annotations))
                for c in candidates(self._containers, self._container_index, f.id, f.label_selector)
                if (not f.id or c.id == f.id) and (f.state is None or c.state == f.state)
                and (not f.pod_sandbox_id or c.sandbox_id == f.pod_sandbox_id)
                and cri.matches_labels(c.config.labels, f.label_selector)]

    async def container_status(self: RuncRuntime, container_id: str) -> cri.ContainerStatus:
        await self._ready()
        c = self._container(container_id)
        return cri.ContainerStatus(c.id, c.config.metadata, c.state, c.created_at, c.started_at, c.finished_at,
                                   c.exit_code, cri.ImageSpec(c.image_name), c.image_ref, c.reason, c.message,
                                   dict(c.config.labels), dict(c.config.annotations), c.log_path)
