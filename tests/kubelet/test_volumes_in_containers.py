"""The whole chain on real runc containers (root): volumes set up by the VolumeManager, the
ContainerConfig from the builder, and what a busybox container then sees: a Secret on tmpfs, a
ConfigMap file through subPath, env from a ConfigMap, a read-only mount it cannot write, and an
emptyDir shared by two containers of the pod."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from kybernetes.client.resource import CONFIGMAPS, SECRETS
from kybernetes.kubelet.container_config import ContainerConfigBuilder
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.volumes import fs
from tests.kubelet.test_runc_support import requires_runc, runc_runtime, sandbox_config
from tests.kubelet.test_volumes_support import cluster, make_pod, manager

pytestmark = requires_runc


async def run_to_exit(rt, sandbox_id: str, config: cri.ContainerConfig, sandbox: cri.PodSandboxConfig) -> str:
    container_id = await rt.create_container(sandbox_id, config, sandbox)
    await rt.start_container(container_id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = await rt.container_status(container_id)
        if status.state == cri.ContainerState.CONTAINER_EXITED:
            text = ""
            for line in Path(status.log_path).read_text().splitlines():
                _time, _stream, tag, content = line.split(" ", 3)
                text += content if tag == "P" else content + "\n"  # P: a partial line continues
            return text.rstrip("\n")
        await asyncio.sleep(0.05)
    raise AssertionError("the container did not exit")


async def test_a_container_sees_its_volumes_and_env(tmp_path):
    async with cluster() as (client, ns), manager(client) as vm, runc_runtime(tmp_path) as rt:
        await client.create(SECRETS, {"metadata": {"name": "creds"}, "stringData": {"pw": "hunter2"}}, ns)
        await client.create(CONFIGMAPS, {"metadata": {"name": "app"}, "data": {"app.conf": "v=1", "LEVEL": "debug"}},
                            ns)
        writer = {"name": "writer", "image": "busybox", "command": ["sh", "-c", "echo shared > /scratch/note"],
                  "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}
        reader = {"name": "reader", "image": "busybox", "command": ["sh", "-c", (
            "cat /secret/pw; echo; cat /etc/app.conf; echo; echo level=$LEVEL; cat /scratch/note; "
            "grep -c ' /secret tmpfs' /proc/mounts; touch /secret/x 2>/dev/null || echo read-only; "
            "grep db.local /etc/hosts")],
            "envFrom": [{"configMapRef": {"name": "app"}}],
            "volumeMounts": [{"name": "creds", "mountPath": "/secret", "readOnly": True},
                             {"name": "conf", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
                             {"name": "scratch", "mountPath": "/scratch"}]}
        pod = make_pod(ns, [{"name": "creds", "secret": {"secretName": "creds"}},
                            {"name": "conf", "configMap": {"name": "app"}},
                            {"name": "scratch", "emptyDir": {"medium": "Memory"}}], containers=[writer, reader],
                       hostAliases=[{"ip": "10.9.9.9", "hostnames": ["db.local"]}])
        volumes = await vm.mount_pod_volumes(pod)
        builder = ContainerConfigBuilder(vm.sources)
        sandbox = sandbox_config("volumes")
        sandbox_id = await rt.run_pod_sandbox(sandbox)
        try:
            await run_to_exit(rt, sandbox_id, await builder.build(pod, writer, attempt=0, volumes=volumes), sandbox)
            out = await run_to_exit(rt, sandbox_id, await builder.build(pod, reader, attempt=0, volumes=volumes),
                                    sandbox)
            assert out.split("\n") == ["hunter2", "v=1", "level=debug", "shared", "1", "read-only",
                                      "10.9.9.9\tdb.local"]
        finally:
            await rt.stop_pod_sandbox(sandbox_id)
            await rt.remove_pod_sandbox(sandbox_id)
            await vm.unmount_pod_volumes(pod["metadata"]["uid"])
        assert not fs.mounts_under(vm.root_dir)
