"""Two schedulers on one Lease: one leads and schedules; when it stops, the other takes over.
Also the ``kyb scheduler`` command itself, as a process against the apiserver."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys

import yaml

from kybernetes.client.resource import LEASES, NODES, PODS
from kybernetes.scheduler.runner import SchedulerRunner
from tests.scheduler.objects import make_node, make_pod
from tests.scheduler.test_scheduler_e2e import node_of

FAST_LEASE = {"lease_duration": 1.5, "renew_deadline": 1.0, "retry_period": 0.2}


async def test_two_schedulers_one_leads(srv, client):
    await client.create(NODES, make_node("n1"))
    async with srv.client() as c1, srv.client() as c2:
        first = SchedulerRunner(c1, identity="first", **FAST_LEASE)
        second = SchedulerRunner(c2, identity="second", **FAST_LEASE)
        t1 = asyncio.create_task(first.run())
        await asyncio.wait_for(first.leading.wait(), 5)
        t2 = asyncio.create_task(second.run())
        try:
            await client.create(PODS, make_pod("p1"))
            assert await node_of(client, "p1") == "n1"
            await asyncio.sleep(0.5)
            assert first.leading.is_set() and not second.leading.is_set()
            lease = await client.get(LEASES, "kube-scheduler", "kube-system")
            assert lease["spec"]["holderIdentity"] == "first"

            t1.cancel()  # the leader stops (and releases the lease)
            with contextlib.suppress(asyncio.CancelledError):
                await t1
            await asyncio.wait_for(second.leading.wait(), 5)
            await client.create(PODS, make_pod("p2"))
            assert await node_of(client, "p2") == "n1"
            assert second.scheduler.stats.bound == 1  # p1 was not scheduled twice
        finally:
            for t in (t1, t2):
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t


async def test_kyb_scheduler_command(srv, client, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": srv.url}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
        "users": [{"name": "admin", "user": {"token": "unused"}}]}))
    await client.create(NODES, make_node("n1"))
    await client.create(PODS, make_pod("p"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kybernetes.cli", "scheduler", "--kubeconfig", str(kubeconfig),
        "--leader-elect=false", "--kube-api-qps", "0", "--log-level", "warning",
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        assert await node_of(client, "p", timeout=20) == "n1"
    finally:
        proc.terminate()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_kyb_scheduler_bad_kubeconfig_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "kybernetes.cli", "scheduler", "--kubeconfig",
                          str(tmp_path / "missing")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr
