"""Real kubectl against a TLS apiserver and a simulated node's kubelet server: logs, exec, attach,
port-forward, cp and top, end to end through both WebSocket legs."""

from __future__ import annotations

import asyncio
import os
import select

import pytest

from tests.apiserver.streaming_cluster import KUBECTL, streaming_cluster
from tests.support.ports import free_port

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def cluster():
    async with streaming_cluster() as c:
        yield c


async def test_logs_tail_timestamps_and_container(cluster):
    await cluster.create_pod("talker", [
        {"name": "main", "command": ["sh", "-c", "echo one; echo two; echo three >&2"]},
        {"name": "side", "command": ["echo", "from the side"]}])
    await asyncio.sleep(0.2)
    code, out, err = await cluster.kubectl("logs", "talker", "-c", "main")
    assert code == 0, err
    assert out == "one\ntwo\nthree\n"
    code, out, err = await cluster.kubectl("logs", "talker", "-c", "main", "--tail=1")
    assert (code, out) == (0, "three\n"), err
    code, out, err = await cluster.kubectl("logs", "talker", "-c", "side", "--timestamps")
    assert code == 0, err
    stamp, text = out.rstrip("\n").split(" ", 1)
    assert text == "from the side" and stamp.endswith("Z") and "T" in stamp
    code, out, err = await cluster.kubectl("logs", "talker", "-c", "nope")
    assert code != 0 and "container nope is not valid for pod talker" in err


async def test_logs_follow_streams_new_lines(cluster):
    await cluster.create_pod("ticker", [{"name": "c", "command": ["sh", "-c", "echo a; sleep 0.6; echo b"]}])
    proc = await asyncio.create_subprocess_exec(
        KUBECTL, "logs", "-f", "ticker", env=cluster.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 10)
        assert first == b"a\n"
        second = await asyncio.wait_for(proc.stdout.readline(), 10)
        assert second == b"b\n"
    finally:
        proc.kill()
        await proc.wait()


async def test_logs_previous(cluster):
    await cluster.create_pod("crasher", [{"name": "c", "command": ["echo", "attempt"]}],
                             annotations={"sim.kybernetes.io/run-seconds": "0.2", "sim.kybernetes.io/exit-code": "1"})
    await cluster.wait_pod("crasher", lambda p: any(
        s.get("restartCount", 0) >= 1 for s in (p.get("status") or {}).get("containerStatuses") or []))
    code, out, err = await cluster.kubectl("logs", "crasher", "--previous")
    assert (code, out) == (0, "attempt\n"), err


async def test_exec_streams_and_exit_code(cluster):
    await cluster.create_pod("shell", [{"name": "c", "env": [{"name": "GREETING", "value": "hello"}]}])
    code, out, err = await cluster.kubectl("exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert code == 3
    assert out == "out\n"
    assert "err\n" in err and "command terminated with exit code 3" in err
    code, out, err = await cluster.kubectl("exec", "shell", "--", "env")
    assert code == 0 and "GREETING=hello" in out, err
    code, out, err = await cluster.kubectl("exec", "-i", "shell", "--", "cat", input=b"piped through\n")
    assert (code, out) == (0, "piped through\n"), err


async def test_exec_tty(cluster):
    """kubectl uses a tty only when its stdin is a terminal: run it on a pseudo-terminal."""
    await cluster.create_pod("tty", [{"name": "c"}])
    code, output = await run_on_pty(cluster, ["exec", "-i", "-t", "tty", "--", "sh"], b"echo hi\nexit 4\n")
    assert code == 4, output
    assert b"hi\r\n" in output


async def run_on_pty(cluster, args: list[str], typed: bytes) -> tuple[int, bytes]:
    master, slave = os.openpty()
    try:
        proc = await asyncio.create_subprocess_exec(KUBECTL, *args, env=cluster.env(), stdin=slave, stdout=slave,
                                                    stderr=slave)
        os.close(slave)
        slave = -1
        await asyncio.sleep(1.0)  # kubectl switches the terminal to raw mode, then reads
        os.write(master, typed)
        output = bytearray()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20

        def read() -> bytes:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                return b"?"
            try:
                return os.read(master, 4096)
            except OSError:
                return b""

        while loop.time() < deadline:
            chunk = await asyncio.to_thread(read)
            if chunk == b"?":
                if proc.returncode is not None:
                    break
                continue
            if not chunk:
                break
            output += chunk
        code = await asyncio.wait_for(proc.wait(), 10)
        return code, bytes(output)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


async def test_attach_to_the_main_process(cluster):
    await cluster.create_pod("attached", [{"name": "c", "command": ["cat"], "stdin": True}],
                             annotations={"sim.kybernetes.io/run-seconds": "3"}, restart_policy="Never")
    code, out, err = await cluster.kubectl("attach", "-i", "attached", "-c", "c", input=b"through attach\n")
    assert code == 0, err
    assert "through attach\n" in out
    code, out, err = await cluster.kubectl("logs", "attached")
    assert out == "through attach\n", err


async def test_port_forward_fetches_through_the_pod(cluster):
    await cluster.create_pod("web", [{"name": "c", "ports": [{"containerPort": 8080}]}])
    local = free_port()
    proc = await asyncio.create_subprocess_exec(KUBECTL, "port-forward", "pod/web", f"{local}:8080", env=cluster.env(),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        assert b"Forwarding from 127.0.0.1" in line, line
        for _ in range(2):  # two connections over the one tunnel
            reader, writer = await asyncio.open_connection("127.0.0.1", local)
            writer.write(b"GET / HTTP/1.1\r\nHost: web\r\n\r\n")
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"pod default/web port 8080\n")
        reader, writer = await asyncio.open_connection("127.0.0.1", local)
        writer.write(b"ping over the tunnel")
        await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(20), 10) == b"ping over the tunnel"
        writer.close()
    finally:
        proc.kill()
        await proc.wait()


async def test_cp_both_ways(cluster, tmp_path):
    await cluster.create_pod("files", [{"name": "c"}])
    source = tmp_path / "hello.txt"
    source.write_text("copied by kubectl cp\n")
    code, out, err = await cluster.kubectl("cp", str(source), "default/files:/tmp/hello.txt")
    assert code == 0, err
    code, out, err = await cluster.kubectl("exec", "files", "--", "cat", "/tmp/hello.txt")
    assert (code, out) == (0, "copied by kubectl cp\n"), err
    back = tmp_path / "back.txt"
    code, out, err = await cluster.kubectl("cp", "default/files:/tmp/hello.txt", str(back))
    assert code == 0, err
    assert back.read_text() == "copied by kubectl cp\n"


async def test_top_pod_and_node(cluster):
    await cluster.create_pod("busy", [{"name": "c"}], annotations={"sim.kybernetes.io/cpu-usage": "250m",
                                                                  "sim.kybernetes.io/memory-usage": "64Mi"})
    code, out, err = await cluster.kubectl("top", "pod", "busy")
    assert code == 0, err
    row = out.splitlines()[1].split()
    assert row[0] == "busy" and row[1] == "250m" and row[2] == "64Mi"
    code, out, err = await cluster.kubectl("top", "node")
    assert code == 0, err
    row = out.splitlines()[1].split()
    assert row[0] == cluster.node and row[1] == "250m" and row[3] == "64Mi"


