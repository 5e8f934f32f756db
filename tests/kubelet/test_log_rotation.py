"""Container log rotation (kubelet/log_rotation.py): the files renamed and pruned, the rename
undone when the runtime cannot reopen, the manager over a runtime, and for real: conmon told
through its control FIFO to reopen a running container's log, with `kubectl logs` (read_logs)
still seeing every line in order across the rotated files."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kybernetes.cli.kubelet import kubelet as kubelet_command
from kybernetes.kubelet.log_rotation import (
    ContainerLogManager,
    LogRotationError,
    LogRotationPolicy,
    rotate_log,
    rotated_files,
)
from kybernetes.kubelet.logs import LogOptions, read_logs
from kybernetes.kubelet.runtime import protocol as cri
from tests.kubelet.test_runc_support import container_config, requires_runc, runc_runtime, sandbox_config


def names(live: Path) -> list[str]:
    return [p.name for _n, p in rotated_files(live)]


def contents(live: Path) -> list[str]:
    return [p.read_text() for _n, p in rotated_files(live)]


async def test_rotation_shifts_the_numbered_files_and_keeps_at_most_max_files(tmp_path):
    live = tmp_path / "0.log"
    reopened = []

    async def reopen() -> None:
        reopened.append(1)
        live.write_text("")  # what conmon does: a new file under the name

    for generation in range(1, 6):
        live.write_text(f"gen{generation}")
        await rotate_log(live, 3, reopen)
    assert live.read_text() == "" and len(reopened) == 5
    assert names(live) == ["0.log.1", "0.log.2"]  # 3 files in all, the live one included
    assert contents(live) == ["gen5", "gen4"]


async def test_a_failed_reopen_puts_the_file_back(tmp_path):
    live = tmp_path / "0.log"
    (tmp_path / "0.log.1").write_text("older")
    live.write_text("current")

    async def reopen() -> None:
        raise cri.RuntimeServiceError("container is not running")

    with pytest.raises(cri.RuntimeServiceError):
        await rotate_log(live, 5, reopen)
    assert live.read_text() == "current"
    assert names(live) == ["0.log.1"] and contents(live) == ["older"]


async def test_gaps_in_the_numbering_are_closed(tmp_path):
    live = tmp_path / "0.log"
    for n, text in ((3, "b"), (4, "c"), (7, "d")):
        (tmp_path / f"0.log.{n}").write_text(text)
    live.write_text("a")

    async def reopen() -> None:
        live.write_text("")

    await rotate_log(live, 4, reopen)
    assert names(live) == ["0.log.1", "0.log.2", "0.log.3"] and contents(live) == ["a", "b", "c"]


def test_policy_limits():
    assert LogRotationPolicy() == LogRotationPolicy(10 * 1024 * 1024, 5)
    with pytest.raises(LogRotationError):
        LogRotationPolicy(max_size=0)
    with pytest.raises(LogRotationError):
        LogRotationPolicy(max_files=1)


class StubRuntime:
    """Two running containers and an exited one, each with a log file."""

    def __init__(self, root: Path):
        self.logs = {cid: root / f"{cid}.log" for cid in ("big", "small", "exited")}
        self.reopened: list[str] = []

    async def list_containers(self, filter: cri.ContainerFilter | None = None) -> list[cri.Container]:
        ids = ["big", "small"] if filter and filter.state == cri.ContainerState.CONTAINER_RUNNING else list(self.logs)
        return [cri.Container(cid, "sandbox", cri.ContainerMetadata(cid), cri.ImageSpec("busybox"), "busybox",
                              cri.ContainerState.CONTAINER_RUNNING, 0) for cid in ids]

    async def container_status(self, container_id: str) -> cri.ContainerStatus:
        state = cri.ContainerState.CONTAINER_EXITED if container_id == "exited" else cri.ContainerState.CONTAINER_RUNNING
        return cri.ContainerStatus(container_id, cri.ContainerMetadata(container_id), state, 0,
                                   log_path=str(self.logs[container_id]))

    async def reopen_container_log(self, container_id: str) -> None:
        self.reopened.append(container_id)
        self.logs[container_id].write_text("")


async def test_the_manager_rotates_only_running_containers_over_the_size(tmp_path):
    runtime = StubRuntime(tmp_path)
    runtime.logs["big"].write_text("x" * 200)
    runtime.logs["small"].write_text("x" * 50)
    runtime.logs["exited"].write_text("x" * 500)
    manager = ContainerLogManager(runtime, LogRotationPolicy(max_size=100, max_files=2))
    assert await manager.rotate_all() == ["big"]
    assert runtime.reopened == ["big"]
    assert (tmp_path / "big.log.1").read_text() == "x" * 200 and runtime.logs["big"].read_text() == ""
    assert not (tmp_path / "small.log.1").exists() and not (tmp_path / "exited.log.1").exists()
    assert await manager.rotate_all() == []  # the new file is small


async def test_a_runtime_that_cannot_reopen_logs_is_never_rotated(tmp_path):
    class NoReopen:
        pass

    manager = ContainerLogManager(NoReopen())
    assert not manager.supported
    await asyncio.wait_for(manager.run(), 1)  # returns at once


def test_the_kubelet_command_checks_the_rotation_flags(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    runner = CliRunner()
    bad_size = runner.invoke(kubelet_command, ["--kubeconfig", str(kubeconfig), "--container-log-max-size", "lots"])
    assert bad_size.exit_code == 2 and "is not a size" in bad_size.output
    bad_files = runner.invoke(kubelet_command, ["--kubeconfig", str(kubeconfig), "--container-log-max-files", "1"])
    assert bad_files.exit_code == 2 and "--container-log-max-files" in bad_files.output


@requires_runc
async def test_conmon_reopens_a_running_containers_log_and_no_line_is_lost(tmp_path):
    script = "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo line-$i-padding-padding-padding; sleep 0.002; done"
    async with runc_runtime(tmp_path) as rt:
        sandbox_id = await rt.run_pod_sandbox(sandbox_config("rotating"))
        container_id = await rt.create_container(sandbox_id, container_config("c", "sh", "-c", script),
                                                 sandbox_config("rotating"))
        await rt.start_container(container_id)
        live = Path((await rt.container_status(container_id)).log_path)
        manager = ContainerLogManager(rt, LogRotationPolicy(max_size=4000, max_files=3), log_root=rt.logs_dir)
        rotations = 0
        deadline = time.monotonic() + 20
        while rotations < 4:
            assert time.monotonic() < deadline, f"only {rotations} rotations"
            rotations += len(await manager.rotate_all())
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        assert len(rotated_files(live)) == 2 and live.exists()  # 3 files at most
        assert live.stat().st_size > 0  # conmon writes to the new file
        text = b"".join([c async for c in read_logs(live, LogOptions())]).decode()
        numbers = [int(line.split("-")[1]) for line in text.splitlines()]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # in order, no gap
        assert numbers[0] > 1  # the oldest files were deleted
        assert await manager.remove_orphaned_files() == []  # the container is still there
        await rt.stop_container(container_id, 0)
        with pytest.raises(cri.RuntimeServiceError):
            await rt.reopen_container_log(container_id)
        leftover = [p for _n, p in rotated_files(live)]
        await rt.remove_container(container_id)  # the live log goes with it, the numbered ones stay...
        assert not live.exists() and len(leftover) == 2
        assert sorted(await manager.remove_orphaned_files()) == sorted(leftover)  # ... until swept
        assert rotated_files(live) == []


async def test_rotated_files_of_removed_containers_are_swept(tmp_path):
    runtime = StubRuntime(tmp_path)
    for cid in ("big", "small"):
        (tmp_path / f"{cid}.log.1").write_text("old")
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "main_0.log.1").write_text("old")
    (tmp_path / "gone" / "main_0.log.2").write_text("older")
    (tmp_path / "gone" / "notes.log.txt").write_text("not ours")
    manager = ContainerLogManager(runtime, log_root=tmp_path)
    removed = await manager.remove_orphaned_files()
    assert sorted(p.name for p in removed) == ["main_0.log.1", "main_0.log.2"]
    assert (tmp_path / "big.log.1").exists() and (tmp_path / "small.log.1").exists()
    assert (tmp_path / "gone" / "notes.log.txt").exists()
