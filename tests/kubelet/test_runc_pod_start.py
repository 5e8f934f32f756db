"""The cheap paths of a pod start on the runc runtime (root): sandbox namespaces made by a thread
of this process, a container started through runc's exec fifo, and state records that name what
is about to be made on the host before it is made."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.runc import RuncRuntime, linux
from kybernetes.kubelet.runtime.runc.conmon import EXEC_FIFO
from kybernetes.kubelet.runtime.runc.images import ImageConfig
from kybernetes.kubelet.runtime.runc.record_files import read_records
from kybernetes.kubelet.runtime.runc.sandbox import SandboxHost
from tests.kubelet.test_runc_support import (
    BusyboxImages,
    container_config,
    requires_runc,
    runc_runtime,
    sandbox_config,
    wait_exit,
)

pytestmark = requires_runc


def own_namespaces() -> dict[str, str]:
    return {kind: os.readlink(f"/proc/thread-self/ns/{kind}") for kind in ("net", "ipc", "uts")}


def in_sandbox(record, *command: str) -> str:
    return subprocess.run(["nsenter", f"--net={record.netns}", f"--uts={record.utsns}", f"--ipc={record.ipcns}",
                           *command], capture_output=True, text=True, check=True, timeout=10).stdout


async def test_sandbox_namespaces_are_made_on_a_thread_and_leave_the_kubelet_where_it_was(tmp_path):
    before, hostname = own_namespaces(), socket.gethostname()
    async with runc_runtime(tmp_path) as rt:
        ids = await asyncio.gather(*(rt.run_pod_sandbox(sandbox_config(f"pod-{i}")) for i in range(3)))
        assert own_namespaces() == before and socket.gethostname() == hostname
        seen = set()
        for i, sandbox_id in enumerate(ids):
            record = rt._sandboxes[sandbox_id]
            assert {record.netns, record.ipcns, record.utsns} <= linux.mount_points()
            assert in_sandbox(record, "hostname").strip() == f"pod-{i}"
            links = in_sandbox(record, "ip", "-o", "link")
            assert "lo:" in links and "UP" in links.split("lo:")[1].split(">")[0]
            assert len(links.strip().splitlines()) == 1  # nothing but lo: a namespace of its own
            inodes = in_sandbox(record, "sh", "-c", "readlink /proc/self/ns/net /proc/self/ns/ipc /proc/self/ns/uts")
            seen.add(inodes)
            assert not set(inodes.split()) & set(before.values())
        assert len(seen) == 3  # three pods, three sets of namespaces


def test_namespace_files_are_named_by_16_hex_of_the_sandbox_id_unless_taken(tmp_path):
    host = SandboxHost(tmp_path)
    sandbox_id = secrets.token_hex(32)
    paths = host.ns_paths(sandbox_id, sandbox_config())
    assert [Path(p).relative_to(tmp_path) for p in paths] == \
        [Path("ns", kind, sandbox_id[:16]) for kind in ("net", "ipc", "uts")]  # short mountinfo lines
    Path(paths[1]).parent.mkdir(parents=True)
    Path(paths[1]).touch()  # another sandbox's, whose id begins the same
    assert [Path(p).name for p in host.ns_paths(sandbox_id, sandbox_config())] == [sandbox_id] * 3


async def test_the_sandbox_record_names_its_namespace_files_before_they_exist(tmp_path):
    async with runc_runtime(tmp_path) as rt:
        make = rt.host.create_namespaces
        on_disk: list[dict] = []

        async def create_namespaces(paths, config):
            on_disk.extend(read_records(rt.store.sandboxes_dir).values())  # the only sandbox
            assert tuple(on_disk[0][k] for k in ("netns", "ipcns", "utsns")) == paths
            assert not Path(paths[0]).exists()
            return await make(paths, config)

        rt.host.create_namespaces = create_namespaces
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        record = rt._sandboxes[sandbox_id]
        assert (on_disk[0]["netns"], on_disk[0]["ipcns"], on_disk[0]["utsns"]) == \
            (record.netns, record.ipcns, record.utsns) != ("", "", "")
        # a runtime that crashed right then: the files are gone, the sandbox is not ready
        rt.host.remove_namespaces((record.netns, record.ipcns, record.utsns))
        second = RuncRuntime(rt.data_dir, rt.images, run_dir=rt.run_dir, cgroup_root=rt.cgroup_root)
        try:
            status = await second.pod_sandbox_status(sandbox_id)
            assert status.state == cri.PodSandboxState.SANDBOX_NOTREADY
        finally:
            second.close()


async def test_start_reads_the_exec_fifo_and_the_container_runs(tmp_path):
    async with runc_runtime(tmp_path) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        container_id = await rt.create_container(sandbox_id, container_config("c", "sh", "-c", "exit 7"),
                                                 sandbox_config())
        fifo = rt.run_dir / "runc" / container_id / EXEC_FIFO
        assert fifo.exists()
        await rt.start_container(container_id)
        assert not fifo.exists()
        status = await wait_exit(rt, container_id)
        assert (status.state, status.exit_code, status.reason) == (cri.ContainerState.CONTAINER_EXITED, 7, "Error")
        with pytest.raises(cri.RuntimeServiceError, match="not created"):
            await rt.start_container(container_id)


async def test_a_container_whose_process_died_before_start_fails_to_start(tmp_path):
    async with runc_runtime(tmp_path) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        container_id = await rt.create_container(sandbox_id, container_config("c", "sleep", "60"), sandbox_config())
        os.kill(rt._containers[container_id].pid, signal.SIGKILL)
        with pytest.raises(cri.RuntimeServiceError, match="cannot start container c"):
            await asyncio.wait_for(rt.start_container(container_id), 10)
        status = await wait_exit(rt, container_id)
        assert status.state == cri.ContainerState.CONTAINER_EXITED


async def test_without_an_exec_fifo_runc_start_runs_and_says_why(tmp_path):
    async with runc_runtime(tmp_path) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        container_id = await rt.create_container(sandbox_id, container_config("c", "sleep", "60"), sandbox_config())
        (rt.run_dir / "runc" / container_id / EXEC_FIFO).unlink()  # runc now takes it for running
        with pytest.raises(cri.RuntimeServiceError, match="already running"):
            await rt.start_container(container_id)


async def test_a_failed_create_releases_the_rootfs_it_prepared(tmp_path):
    images = BusyboxImages(tmp_path / "images", {"busybox": ImageConfig(cmd=("sh",))})
    async with runc_runtime(tmp_path, images) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        security = cri.LinuxContainerSecurityContext(run_as_username="ghost")  # fails after the rootfs
        with pytest.raises(cri.RuntimeServiceError, match="unable to find user ghost"):
            await rt.create_container(sandbox_id, container_config(
                "c", "true", linux=cri.LinuxContainerConfig(security_context=security)), sandbox_config())
        assert images.prepared == set() and await rt.list_containers() == []
        assert list(rt.store.containers_dir.iterdir()) == []
