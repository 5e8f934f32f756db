"""kybernetes.testing.Cluster: a Deployment becomes Available on simulated nodes, inside a test;
kubectl and the official Python client use the kubeconfig it writes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kybernetes.client.resource import DEPLOYMENTS, PODS
from kybernetes.testing import Cluster, cluster  # noqa: F401 - the fixture is used below

KUBECTL = str(Path(sys.executable).with_name("kubectl"))

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "registry.local/web:1"}]}}},
}


def available(dep: dict) -> bool:
    return any(c["type"] == "Available" and c["status"] == "True"
               for c in (dep.get("status") or {}).get("conditions") or [])


async def test_deployment_becomes_available_on_simulated_nodes():
    started = time.monotonic()
    async with Cluster(nodes=2) as c:
        start_seconds = time.monotonic() - started
        client = c.client()
        await client.create(DEPLOYMENTS, DEPLOYMENT)
        for _ in range(200):
            dep = await client.get(DEPLOYMENTS, "web", "default")
            if available(dep) and (dep.get("status") or {}).get("readyReplicas") == 3:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail(f"deployment not available: {dep.get('status')}")
        pods = (await client.list(PODS, "default"))["items"]
        assert {p["spec"]["nodeName"] for p in pods} <= {"node-0", "node-1"}
        assert all(p["status"]["phase"] == "Running" for p in pods)

        # kubectl and the official client read the kubeconfig the cluster wrote.
        out = await asyncio.to_thread(subprocess.run, [KUBECTL, "--kubeconfig", str(c.kubeconfig),
                                                       "get", "deploy", "web", "--no-headers"],
                                      capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[:2] == ["web", "3/3"]

        from kubernetes import client as k8s
        from kubernetes import config as k8s_config

        api = k8s_config.new_client_from_config(config_file=str(c.kubeconfig))
        try:
            names = await asyncio.to_thread(lambda: [n.metadata.name for n in k8s.CoreV1Api(api).list_node().items])
        finally:
            api.close()
        assert sorted(names) == ["node-0", "node-1"]
    assert start_seconds < 5  # generous here; bench/testing_cluster.py measures it


async def test_the_pytest_fixture_gives_a_running_cluster(cluster):  # noqa: F811
    nodes = await cluster.client().list(PODS, "kube-system")
    assert nodes["kind"] == "PodList"
    assert cluster.kubeconfig.exists()
