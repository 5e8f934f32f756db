"""``kyb simulate-nodes`` as a process: nodes join the cluster, SIGTERM stops them cleanly."""

from __future__ import annotations

import asyncio
import signal
import sys

import yaml

from kybernetes.client.resource import NODES, PODS


async def test_simulate_nodes_command_runs_nodes_until_sigterm(srv, client, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {"server": srv.url}}],
        "users": [{"name": "t", "user": {}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}]}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kybernetes.cli", "simulate-nodes", "--count", "3", "--kubeconfig", str(kubeconfig),
        "--name-prefix", "cli-", "--cpu", "2", "--memory", "4Gi", "--pods", "20", "--label", "zone=a",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        for _ in range(200):
            nodes = (await client.list(NODES))["items"]
            if len(nodes) == 3:
                break
            await asyncio.sleep(0.05)
        assert sorted(n["metadata"]["name"] for n in nodes) == ["cli-0", "cli-1", "cli-2"]
        assert nodes[0]["status"]["capacity"]["cpu"] == "2" and nodes[0]["status"]["capacity"]["pods"] == "20"
        assert nodes[0]["metadata"]["labels"]["zone"] == "a"
        assert nodes[0]["status"]["nodeInfo"]["kubeletVersion"] == (await client.request("GET", "/version"))["gitVersion"]
        await client.create(PODS, {"metadata": {"name": "p"}, "spec": {
            "nodeName": "cli-1", "containers": [{"name": "c", "image": "busybox"}]}}, "default")
        for _ in range(200):
            phase = (await client.get(PODS, "p", "default")).get("status", {}).get("phase")
            if phase == "Running":
                break
            await asyncio.sleep(0.05)
        assert phase == "Running"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_simulate_nodes_refuses_bad_flags(tmp_path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kybernetes.cli", "simulate-nodes", "--count", "2", "--memory", "lots",
        "--kubeconfig", str(tmp_path / "missing"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 2 and b"Traceback" not in err
