"""The fake runtime's streaming calls: its shell, attach, port-forward and stats."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.runtime.fake import FakeRuntime


@pytest.fixture
async def container(tmp_path):
    runtime = FakeRuntime(log_root=str(tmp_path), node_name="n")
    await runtime.images.pull_image(cri.ImageSpec("busybox"))
    config = cri.PodSandboxConfig(cri.PodSandboxMetadata("p", "u", "ns"), hostname="p")
    sandbox = await runtime.run_pod_sandbox(config)
    cid = await runtime.create_container(sandbox, cri.ContainerConfig(
        cri.ContainerMetadata("c"), cri.ImageSpec("busybox"), command=("sh", "-c", "echo up; echo warn >&2")), config)
    await runtime.start_container(cid)
    yield runtime, sandbox, cid


async def run(runtime, cid, *cmd, stdin: bytes | None = None, tty=False) -> tuple[bytes, bytes, int | None]:
    session = await runtime.exec(cri.ExecRequest(cid, cmd, tty=tty, stdin=stdin is not None))
    if stdin is not None:
        await session.write_stdin(stdin)
        await session.close_stdin()
    out, err = await asyncio.gather(*(asyncio.ensure_future(_join(s)) for s in (session.stdout, session.stderr)))
    return out, err, await session.wait()


async def _join(stream) -> bytes:
    return b"".join([c async for c in stream])


async def test_shell_commands(container):
    runtime, _, cid = container
    assert await run(runtime, cid, "hostname") == (b"p\n", b"", 0)
    assert await run(runtime, cid, "nope") == (b"", b"sh: nope: not found\n", 127)
    assert await run(runtime, cid, "sh", "-c", "false && echo no || echo yes; exit 2") == (b"yes\n", b"", 2)
    assert await run(runtime, cid, "sh", "-c", "echo saved > /tmp/f; cat /tmp/f; test -f /tmp/f") == (
        b"saved\n", b"", 0)
    assert await run(runtime, cid, "cat", stdin=b"in") == (b"in", b"", 0)
    out, err, code = await run(runtime, cid, "sh", "-c", "echo x >&2", tty=True)
    assert (out, err, code) == (b"x\r\n", b"", 0)  # a tty has no separate stderr


async def test_main_process_log_and_attach_rules(container):
    runtime, _, cid = container
    await asyncio.sleep(0.05)
    status = await runtime.container_status(cid)
    lines = open(status.log_path, "rb").read().splitlines()
    assert [line.split(b" ", 1)[1] for line in lines] == [b"stdout F up", b"stderr F warn"]
    with pytest.raises(cri.RuntimeServiceError):
        await runtime.attach(cri.AttachRequest(cid, stdin=True))  # the container has no stdin
    session = await runtime.attach(cri.AttachRequest(cid))
    await runtime.stop_container(cid, 0)
    assert await asyncio.wait_for(session.wait(), 5) == 137
    with pytest.raises(cri.RuntimeServiceError):
        await runtime.exec(cri.ExecRequest(cid, ("true",)))


async def test_port_forward_echoes(container):
    runtime, sandbox, _ = container
    reader, writer = await runtime.port_forward(sandbox, 9000)
    writer.write(b"echo me")
    await writer.drain()
    assert await reader.readexactly(7) == b"echo me"
    writer.close()
    with pytest.raises(cri.RuntimeServiceError):
        await runtime.port_forward(sandbox, 0)
