"""The runc + conmon runtime against real runc and conmon (root): lifecycle, logs, exit codes,
OOM kills, pod-shared namespaces, graceful stop, re-adoption by a new runtime object, and a host
left clean. Every test runs in its own temp dirs and cgroup root and checks for leaks at the end."""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import time
from pathlib import Path

import pytest

from kybernetes.kubelet.images.archive import import_archive
from kybernetes.kubelet.images.store import ImageStore
from kybernetes.kubelet.network.manager import PodNetwork
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.runc import RuncRuntime, linux
from kybernetes.kubelet.runtime.runc.images import ImageConfig, StoreImages
from tests.kubelet.test_runc_support import (
    BusyboxImages,
    container_config,
    requires_runc,
    runc_runtime,
    sandbox_config,
    wait_exit,
)
from tests.support.oci import build_image, busybox_layer, write_oci_archive

pytestmark = requires_runc


async def run(rt: RuncRuntime, sandbox_id: str, config: cri.ContainerConfig) -> str:
    container_id = await rt.create_container(sandbox_id, config, sandbox_config())
    await rt.start_container(container_id)
    return container_id


def log_lines(status: cri.ContainerStatus) -> list[tuple[str, str, str]]:
    lines = []
    for line in Path(status.log_path).read_text().splitlines():
        _ts, stream, tag, text = line.split(" ", 3)
        lines.append((stream, tag, text))
    return lines


async def test_echo_exits_zero_with_a_cri_log_line(tmp_path):
    async with runc_runtime(tmp_path) as rt:
        events = rt.subscribe()
        sandbox_id = await rt.run_pod_sandbox(sandbox_config("web"))
        container_id = await run(rt, sandbox_id, container_config("c", "sh", "-c", "echo hello; echo oops >&2"))
        status = await wait_exit(rt, container_id)
        assert (status.exit_code, status.reason) == (0, "Completed")
        assert status.started_at >= status.created_at and status.finished_at >= status.started_at
        assert log_lines(status) == [("stdout", "F", "hello"), ("stderr", "F", "oops")]
        kinds = [events.get_nowait().event_type for _ in range(events.qsize())]
        assert kinds == [cri.ContainerEventType.CONTAINER_CREATED_EVENT, cri.ContainerEventType.CONTAINER_STARTED_EVENT,
                         cri.ContainerEventType.CONTAINER_STOPPED_EVENT]
        await rt.remove_container(container_id)
        assert events.get_nowait().event_type == cri.ContainerEventType.CONTAINER_DELETED_EVENT
        assert await rt.list_containers() == []


async def test_exit_code_three_is_an_error(tmp_path):
    async with runc_runtime(tmp_path) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        status = await wait_exit(rt, await run(rt, sandbox_id, container_config("c", "sh", "-c", "exit 3")))
        assert (status.exit_code, status.reason) == (3, "Error")


async def test_memory_hog_over_its_limit_is_oom_killed(tmp_path):
    resources = cri.LinuxContainerResources(memory_limit_in_bytes=16 * 1024 * 1024)
    hog = container_config("hog", "sh", "-c", "head -c 200000000 /dev/zero | tail",
                           linux=cri.LinuxContainerConfig(resources=resources))
    async with runc_runtime(tmp_path) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        status = await wait_exit(rt, await run(rt, sandbox_id, hog), timeout=20)
        assert (status.exit_code, status.reason) == (137, "OOMKilled")


async def test_two_containers_of_a_pod_talk_over_localhost_and_share_its_files(tmp_path):
    dns = cri.DNSConfig(servers=("10.96.0.10",), searches=("default.svc.cluster.local",), options=("ndots:5",))
    async with runc_runtime(tmp_path) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config("pair", dns_config=dns))
        server = await run(rt, sandbox_id, container_config(
            "server", "sh", "-c", "mkdir -p /tmp/www && echo hello-from-server > /tmp/www/index.html && "
            "exec httpd -f -p 127.0.0.1:8080 -h /tmp/www"))
        client = await run(rt, sandbox_id, container_config(
            "client", "sh", "-c", "for i in $(seq 1 50); do timeout 2 wget -q -O - http://127.0.0.1:8080/ && break; "
            "sleep 0.1; done; hostname; cat /etc/resolv.conf /etc/hosts"))
        status = await wait_exit(rt, client)
        text = [line[2] for line in log_lines(status)]
        assert status.exit_code == 0, text
        assert text[:2] == ["hello-from-server", "pair"]
        assert "nameserver 10.96.0.10" in text and "search default.svc.cluster.local" in text
        assert any(line.startswith("127.0.0.1") and "localhost" in line for line in text)
        assert (await rt.container_status(server)).state == cri.ContainerState.CONTAINER_RUNNING
        response = await rt.exec_sync(server, ["cat", "/tmp/www/index.html"], timeout=5)
        assert response.stdout == b"hello-from-server\n" and response.exit_code == 0
        out, err, code = await rt.exec_sync(server, ["sh", "-c", "echo e >&2; exit 4"], timeout=5)
        assert (out, err, code) == (b"", b"e\n", 4)
        reader, writer = await rt.port_forward(sandbox_id, 8080)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        assert b"hello-from-server" in await asyncio.wait_for(reader.read(), 5)
        writer.close()
        stats = await rt.container_stats(server)
        assert stats.memory.working_set_bytes > 0 and stats.cpu.usage_core_nano_seconds > 0
        await rt.stop_pod_sandbox(sandbox_id)
        assert (await rt.container_status(server)).state == cri.ContainerState.CONTAINER_EXITED
        assert (await rt.pod_sandbox_status(sandbox_id)).state == cri.PodSandboxState.SANDBOX_NOTREADY


async def test_stop_sends_sigterm_then_sigkill_after_the_grace_period(tmp_path):
    async with runc_runtime(tmp_path) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        polite = await run(rt, sandbox_id, container_config(
            "polite", "sh", "-c", "trap 'echo bye; exit 0' TERM; echo ready; while true; do sleep 0.05; done"))
        stubborn = await run(rt, sandbox_id, container_config("stubborn", "sleep", "60"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await rt.stop_container(polite, 10)
        assert time.monotonic() - started < 3
        status = await rt.container_status(polite)
        assert (status.exit_code, status.reason) == (0, "Completed")
        assert ("stdout", "F", "bye") in log_lines(status)
        started = time.monotonic()
        await rt.stop_container(stubborn, 1)  # sleep as PID 1 ignores SIGTERM
        assert 0.9 < time.monotonic() - started < 5
        assert (await rt.container_status(stubborn)).exit_code == 137


async def test_a_new_runtime_object_readopts_running_and_exited_containers(tmp_path):
    async with runc_runtime(tmp_path) as first:
        sandbox_id = await first.run_pod_sandbox(sandbox_config("keep"))
        long_running = await run(first, sandbox_id, container_config("long", "sleep", "60"))
        short = await run(first, sandbox_id, container_config("short", "sh", "-c", "sleep 0.3; exit 5"))
        first.close()  # the kubelet goes away; containers and conmon stay
        await asyncio.sleep(0.8)
        second = RuncRuntime(first.data_dir, first.images, run_dir=first.run_dir, cgroup_root=first.cgroup_root)
        try:
            assert [s.id for s in await second.list_pod_sandbox()] == [sandbox_id]
            states = {c.id: c.state for c in await second.list_containers()}
            assert states == {long_running: cri.ContainerState.CONTAINER_RUNNING,
                              short: cri.ContainerState.CONTAINER_EXITED}
            assert (await second.container_status(short)).exit_code == 5
            events = second.subscribe()
            await second.stop_container(long_running, 0)
            assert (await second.container_status(long_running)).exit_code == 137
            assert events.get_nowait().event_type == cri.ContainerEventType.CONTAINER_STOPPED_EVENT
        finally:
            second.close()


async def test_removing_everything_leaves_no_namespace_mount_or_file(tmp_path):
    async with runc_runtime(tmp_path) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        record = rt._sandboxes[sandbox_id]
        assert {record.netns, record.ipcns, record.utsns} <= linux.mount_points()
        await run(rt, sandbox_id, container_config("c", "sleep", "60"))
        await rt.remove_pod_sandbox(sandbox_id)
        assert await rt.list_pod_sandbox() == [] and await rt.list_containers() == []
        for path in (record.netns, record.ipcns, record.utsns):
            assert path not in linux.mount_points() and not Path(path).exists()
        assert not Path(record.dir).exists()
        assert list(rt.containers_dir.iterdir()) == []
        assert rt.images.prepared == set()


async def test_host_network_pod_uses_the_host_namespaces(tmp_path):
    async with runc_runtime(tmp_path) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config("h", host_network=True))
        record = rt._sandboxes[sandbox_id]
        assert record.netns == "" and record.utsns == "" and record.ipcns
        status = await wait_exit(rt, await run(rt, sandbox_id, container_config(
            "c", "sh", "-c", "readlink /proc/1/ns/net >/dev/null; cat /proc/net/dev | wc -l")))
        host_lines = len(Path("/proc/net/dev").read_text().splitlines())
        assert status.exit_code == 0
        assert log_lines(status)[0][2] == str(host_lines)


async def test_security_context_user_and_capabilities(tmp_path):
    security = cri.LinuxContainerSecurityContext(
        run_as_username="app", capabilities=cri.Capability(drop_capabilities=("ALL",), add_capabilities=("KILL",)),
        readonly_rootfs=True, no_new_privs=True,
        seccomp=cri.SecurityProfile(cri.SecurityProfileType.RuntimeDefault))
    config = container_config("c", "sh", "-c", "id; grep CapBnd /proc/self/status; touch /x || echo ro; "
                              "cat /proc/kcore 2>&1 | head -c 0; grep NoNewPrivs /proc/self/status",
                              linux=cri.LinuxContainerConfig(security_context=security))
    async with runc_runtime(tmp_path) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        status = await wait_exit(rt, await run(rt, sandbox_id, config))
        # stdout only: conmon reads stdout and stderr (touch's complaint) on separate pipes, so
        # their relative order in the log is not defined
        text = [line[2] for line in log_lines(status) if line[0] == "stdout"]
        assert text[0].startswith("uid=1000(app) gid=1000(app)") and "2000(extra)" in text[0]
        assert text[1].split() == ["CapBnd:", f"{1 << 5:016x}"]  # KILL only
        assert "ro" in text and text[-1].split() == ["NoNewPrivs:", "1"]


async def test_bad_input_gives_typed_errors(tmp_path):
    images = BusyboxImages(tmp_path / "images", {"busybox": ImageConfig(cmd=("sh",)), "empty": ImageConfig()})
    async with runc_runtime(tmp_path, images) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        with pytest.raises(cri.RuntimeServiceError, match="not present"):
            await rt.create_container(sandbox_id, container_config("c", "true", image="nope"), sandbox_config())
        with pytest.raises(cri.RuntimeServiceError, match="no command"):
            await rt.create_container(sandbox_id, container_config("c", image="empty"), sandbox_config())
        security = cri.LinuxContainerSecurityContext(run_as_username="ghost")
        with pytest.raises(cri.RuntimeServiceError, match="unable to find user ghost"):
            await rt.create_container(sandbox_id, container_config(
                "c", "true", linux=cri.LinuxContainerConfig(security_context=security)), sandbox_config())
        with pytest.raises(cri.NotFoundError):
            await rt.start_container("0" * 64)
        with pytest.raises(cri.NotFoundError):
            await rt.create_container("0" * 64, container_config("c", "true"), sandbox_config())
        assert await rt.list_containers() == []


async def test_a_container_from_the_image_store_on_an_overlay_rootfs(tmp_path):

    image = build_image([busybox_layer()], entrypoint=["sh", "-c"], cmd=["echo $GREETING from $(pwd)"],
                        env=["GREETING=hi"], workdir="/tmp")
    write_oci_archive(tmp_path / "img.tar", image, "docker.io/library/greeter:1")
    store = ImageStore(tmp_path / "images")
    import_archive(store, tmp_path / "img.tar")
    async with runc_runtime(tmp_path, StoreImages(store)) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config())
        container_id = await rt.create_container(sandbox_id, cri.ContainerConfig(
            cri.ContainerMetadata("g"), cri.ImageSpec("greeter:1")), sandbox_config())
        await rt.start_container(container_id)
        status = await wait_exit(rt, container_id)
        assert status.image_ref.startswith("docker.io/library/greeter@sha256:") or status.image_ref.startswith("sha256:")
        assert [line[2] for line in log_lines(status)] == ["hi from /tmp"]
        await rt.remove_pod_sandbox(sandbox_id)


async def test_pods_on_the_cni_bridge_get_ips_and_reach_each_other(tmp_path):

    suffix = secrets.token_hex(3)
    cidr = f"10.{200 + secrets.randbelow(40)}.{secrets.randbelow(250)}.0/24"
    network = PodNetwork(tmp_path / "net", bridge_name=f"kyb{suffix}", network_name=f"kybtest-{suffix}")
    try:
        async with runc_runtime(tmp_path, network=network) as rt:
            await rt.update_runtime_config(cidr)
            first = await rt.run_pod_sandbox(sandbox_config("one"))
            second = await rt.run_pod_sandbox(sandbox_config("two"))
            ip_one = (await rt.pod_sandbox_status(first)).network.ip
            ip_two = (await rt.pod_sandbox_status(second)).network.ip
            assert ipaddress.ip_address(ip_one) in ipaddress.ip_network(cidr) and ip_one != ip_two
            await run(rt, first, container_config("server", "sh", "-c", "mkdir -p /tmp/w && echo pong > /tmp/w/i "
                                                  "&& exec httpd -f -p 8080 -h /tmp/w"))
            client = await run(rt, second, container_config(
                "client", "sh", "-c", f"for i in $(seq 1 50); do timeout 2 wget -q -O - http://{ip_one}:8080/i "
                "&& exit 0; sleep 0.1; done; exit 1"))
            status = await wait_exit(rt, client)
            assert status.exit_code == 0 and log_lines(status)[0][2] == "pong"
            assert f"{ip_two}\ttwo" in (Path(rt._sandboxes[second].dir) / "hosts").read_text()
            await rt.remove_pod_sandbox(first)
            await rt.remove_pod_sandbox(second)
            assert network.attached_sandboxes() == []
    finally:
        await network.uninstall()
