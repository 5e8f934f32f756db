"""The pinned kubectl against a Job the controller runs: `kubectl wait --for=condition=Complete`
returns once the Job completes, and `kubectl get` / `describe` read its status as they would
from Kubernetes. A stand-in kubelet marks each pod Succeeded."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

from kybernetes.api.errors import ApiError
from kybernetes.client.resource import PODS
from kybernetes.controllers.job_controller import JobController
from kybernetes.controllers.manager import ControllerManager
from kybernetes.testing.apiserver import TestApiServer
from tests.support.local_kubectl import require_kubectl, run_kubectl, write_kubeconfig

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
    return await run_kubectl(folder, *args)


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
    require_kubectl()
    with tempfile.TemporaryDirectory(prefix="kyb-job-kubectl-") as tmp:
        folder = Path(tmp)
        async with TestApiServer() as srv:
            write_kubeconfig(folder, srv.url)
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
