"""`kyb dns` as a process: serves a Service from a real apiserver, registers kube-dns, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys

import yaml
from click.testing import CliRunner
from dnslib import DNSRecord

from kybernetes.cli.main import cli
from kybernetes.client.resource import ENDPOINTSLICES, SERVICES
from kybernetes.testing.apiserver import TestApiServer


def free_port() -> int:
    """A port free for both UDP and TCP right now."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def test_bad_flags_are_clear_errors():
    runner = CliRunner()
    result = runner.invoke(cli, ["dns", "--listen", "localhost:53"])
    assert result.exit_code == 2 and "--listen" in result.output
    result = runner.invoke(cli, ["dns", "--upstream", "1.1.1.1,nope"])
    assert result.exit_code == 2 and "--upstream" in result.output
    result = runner.invoke(cli, ["dns", "--node-name", "n1"])
    assert result.exit_code == 2 and "--advertise-address" in result.output


def test_kyb_up_and_agent_pass_dns_upstream_to_kyb_dns(tmp_path):
    from kybernetes.cli.agent import node_service_specs

    runner = CliRunner()
    for command in (["up", "--data-dir", str(tmp_path)], ["agent", "--kubeconfig", __file__]):
        result = runner.invoke(cli, [*command, "--dns-upstream", "127.0.0.1:5353,nope"])
        assert result.exit_code == 2 and "--dns-upstream" in result.output and "nope" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    specs = node_service_specs(kubeconfig=tmp_path / "kc", node_name="n1", node_address="127.0.0.1",
                               dns_service_ip="", dns_upstream="127.0.0.1:5353")
    [dns] = [s for s in specs if s.name == "dns"]
    assert dns.argv[dns.argv.index("--upstream") + 1] == "127.0.0.1:5353"
    [proxy] = [s for s in specs if s.name == "proxy"]
    assert "--upstream" not in proxy.argv


async def test_kyb_dns_serves_and_registers(tmp_path):
    async with TestApiServer() as srv, srv.client() as client:
        await client.create(SERVICES, {"metadata": {"name": "web"}, "spec": {
            "clusterIP": "10.43.3.3", "clusterIPs": ["10.43.3.3"], "ports": [{"port": 80}]}}, "default")
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "t",
            "clusters": [{"name": "t", "cluster": {"server": srv.url}}],
            "users": [{"name": "t", "user": {}}],
            "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}]}))
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kybernetes.cli", "dns", "--kubeconfig", str(kubeconfig),
            "--listen", f"127.0.0.1:{port}", "--upstream", "127.0.0.1:9", "--node-name", "n1",
            "--advertise-address", "127.0.0.1", "--log-level", "warning",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env={**os.environ})
        try:
            async def resolved() -> bool:
                with contextlib.suppress(OSError, TimeoutError, socket.timeout):
                    raw = await asyncio.to_thread(DNSRecord.question("web.default.svc.cluster.local").send,
                                                  "127.0.0.1", port, timeout=0.5)
                    return [str(rr.rdata) for rr in DNSRecord.parse(raw).rr] == ["10.43.3.3"]
                return False

            for _ in range(100):
                if await resolved():
                    break
                assert proc.returncode is None, (await proc.stderr.read()).decode()
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("kyb dns never answered")
            # The node registered itself behind kube-dns with the port it listens on.
            for _ in range(100):
                kube_dns = await client.get_or_none(ENDPOINTSLICES, "kube-dns-n1", "kube-system")
                if kube_dns is not None:
                    break
                await asyncio.sleep(0.05)
            assert kube_dns is not None and kube_dns["ports"][0]["port"] == port
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 10) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
