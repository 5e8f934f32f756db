"""Support for the runc runtime tests (no tests here): a busybox "image store" made of plain
directories, and a fixture-friendly runtime factory that cleans up everything it made.

    images = BusyboxImages(tmp_path / "images", config={"Cmd": ["sh"]})
    async with runc_runtime(tmp_path, images) as rt:   # uninstall() + leak checks at the end
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.runc import RuncRuntime, cgroups, linux
from kybernetes.kubelet.runtime.runc.images import ImageConfig

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "echo", "cat", "sleep", "true", "false", "nc", "wget", "httpd", "timeout", "id", "hostname",
           "ls", "dd", "head", "tail", "env", "kill", "seq", "ip", "mkdir", "grep", "ps", "yes", "tr")

requires_runc = pytest.mark.skipif(
    os.geteuid() != 0 or not all(Path(p).exists() for p in ("/usr/sbin/runc", "/usr/bin/conmon", BUSYBOX)),
    reason="needs root, runc, conmon and busybox-static (apt-get install runc conmon busybox-static)")


class BusyboxImages:
    """Images by name, each a busybox rootfs copied per container (no overlay, no store)."""

    def __init__(self, root: Path, configs: dict[str, ImageConfig] | None = None):
        self.root = root
        self.template = root / "template"
        self.configs = configs or {"busybox": ImageConfig(cmd=("sh",))}
        self.prepared: set[str] = set()
        (self.template / "bin").mkdir(parents=True, exist_ok=True)
        (self.template / "etc").mkdir(exist_ok=True)
        (self.template / "tmp").mkdir(exist_ok=True)
        shutil.copy(BUSYBOX, self.template / "bin" / "busybox")
        for applet in APPLETS:
            (self.template / "bin" / applet).symlink_to("busybox")
        (self.template / "etc" / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")
        (self.template / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nextra:x:2000:app\n")

    async def resolve(self, image: str) -> tuple[str, str]:
        name = image.split(":")[0]
        if name not in self.configs:
            raise LookupError(image)
        return name, f"docker.io/library/{name}@sha256:{'0' * 64}"

    async def prepare_rootfs(self, image_id: str, container_id: str,
                             mount_points: tuple[tuple[str, bool], ...] = ()) -> str:
        path = self.root / "rootfs" / container_id
        shutil.copytree(self.template, path, symlinks=True)
        self.prepared.add(container_id)
        return str(path)

    async def release_rootfs(self, container_id: str) -> None:
        shutil.rmtree(self.root / "rootfs" / container_id, ignore_errors=True)
        self.prepared.discard(container_id)

    async def image_config(self, image_id: str) -> ImageConfig:
        return self.configs[image_id]


def sandbox_config(name: str = "pod", **kwargs) -> cri.PodSandboxConfig:
    uid = secrets.token_hex(8)
    return cri.PodSandboxConfig(cri.PodSandboxMetadata(name, uid, "default"), hostname=name,
                                labels={cri.POD_UID_LABEL: uid, cri.POD_NAME_LABEL: name}, **kwargs)


def container_config(name: str, *command: str, image: str = "busybox", **kwargs) -> cri.ContainerConfig:
    return cri.ContainerConfig(cri.ContainerMetadata(name), cri.ImageSpec(image), command=tuple(command),
                               labels={cri.CONTAINER_NAME_LABEL: name}, **kwargs)


async def wait_exit(rt: RuncRuntime, container_id: str, timeout: float = 10.0) -> cri.ContainerStatus:
    """The container's status once it has exited; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = await rt.container_status(container_id)
        if status.state == cri.ContainerState.CONTAINER_EXITED:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"container {container_id} still {status.state} after {timeout}s")


def leftovers(rt: RuncRuntime) -> list[str]:
    """What the runtime left on the host: mounts under its dirs, cgroups, conmon processes."""
    found = [m for m in linux.mount_points() if m.startswith((str(rt.run_dir), str(rt.data_dir)))]
    if cgroups.exists_anywhere(f"/{rt.cgroup_root}"):
        found.append(f"cgroup /{rt.cgroup_root}")
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    found += [line for line in ps.splitlines() if "conmon" in line and str(rt.data_dir) in line]
    if any((rt.run_dir / "runc").iterdir()):
        found.append("runc state: " + ", ".join(p.name for p in (rt.run_dir / "runc").iterdir()))
    return found


@contextlib.asynccontextmanager
async def runc_runtime(tmp_path: Path, images: BusyboxImages | None = None, **kwargs) -> AsyncIterator[RuncRuntime]:
    suffix = secrets.token_hex(4)
    images = images or BusyboxImages(tmp_path / "images")
    rt = RuncRuntime(tmp_path / "data", images, run_dir=tmp_path / "run", cgroup_root=f"kybtest-{suffix}", **kwargs)
    try:
        yield rt
    finally:
        await rt.uninstall()
        leaked = leftovers(rt)
        _force_cleanup(rt)
        assert not leaked, f"the runtime leaked {leaked}"


def _force_cleanup(rt: RuncRuntime) -> None:
    """Last resort after a failed test: kill and delete anything still there."""
    runc_root = rt.run_dir / "runc"
    for state in list(runc_root.iterdir()) if runc_root.exists() else []:
        subprocess.run(["runc", "--root", str(runc_root), "delete", "--force", state.name], capture_output=True)
    for m in sorted(linux.mount_points(), key=len, reverse=True):
        if m.startswith((str(rt.run_dir), str(rt.data_dir))):
            linux.umount(m)
    cgroups.remove_tree(f"/{rt.cgroup_root}")
