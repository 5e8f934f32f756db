"""A throw-away network for the proxy's real tests: a bridge, network namespaces on veths, and a
tiny HTTP server in each "pod" answering with its own name.

    host ── kpb<sfx> (10.250.R.1/24) ─┬─ kpv<sfx>0 ══ netns kp-<sfx>-pod0 (10.250.R.10) :8080
                                      ├─ kpv<sfx>1 ══ netns kp-<sfx>-pod1 (10.250.R.11) :8080
                                      ├─ kpv<sfx>2 ══ netns kp-<sfx>-pod2 (10.250.R.12) :8080
                                      └─ kpv<sfx>3 ══ netns kp-<sfx>-client (10.250.R.20)
    10.251.R.0/24 (service CIDR) routed to kpd<sfx> (a veth with nothing behind it)

Names carry a random suffix and R is picked among /24s no route uses, so parallel runs never
collide. ``NetLab.close`` removes everything it made (servers, namespaces, bridge, dummy; veths and
the route go with them) and is safe to call after a partial set-up.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SERVER = r"""
import http.server, sys
name = sys.argv[1]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""

# Runs inside a namespace: N GETs, each on a new connection, printed as one JSON list
# ("refused" / "timeout" / "error" for failures).
CLIENT = r"""
import http.client, json, socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = []
for _ in range(count):
    try:
        c = http.client.HTTPConnection(host, port, timeout=2)
        c.request("GET", "/", headers={"Connection": "close"})
        out.append(c.getresponse().read().decode())
        c.close()
    except ConnectionRefusedError:
        out.append("refused")
    except (socket.timeout, TimeoutError):
        out.append("timeout")
    except OSError as e:
        out.append("error:" + str(e))
print(json.dumps(out))
"""


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


def free_subnet_octet() -> int:
    routes = run("ip", "-4", "route", "show", "table", "all").stdout
    for _ in range(200):
        r = random.randrange(1, 255)
        if f"10.250.{r}." not in routes and f"10.251.{r}." not in routes:
            return r
    raise RuntimeError("no free 10.250.x.0/24 subnet for the test network")


IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


@dataclass
class NetLab:
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    octet: int = field(default_factory=free_subnet_octet)
    pods: int = 3
    namespaces: list[str] = field(default_factory=list)
    servers: list[subprocess.Popen] = field(default_factory=list)
    bridge_made: bool = False
    dummy_made: bool = False
    ip_forward_was: str | None = None  # restored on close

    @property
    def bridge(self) -> str:
        return f"kpb{self.suffix}"

    @property
    def dummy(self) -> str:
        return f"kpd{self.suffix}"

    @property
    def gateway(self) -> str:
        return f"10.250.{self.octet}.1"

    @property
    def cluster_cidr(self) -> str:
        return f"10.250.{self.octet}.0/24"

    @property
    def service_cidr(self) -> str:
        return f"10.251.{self.octet}.0/24"

    def service_ip(self, host: int) -> str:
        return f"10.251.{self.octet}.{host}"

    def pod_name(self, i: int) -> str:
        return f"kp-{self.suffix}-pod{i}"

    def pod_ip(self, i: int) -> str:
        return f"10.250.{self.octet}.{10 + i}"

    @property
    def client(self) -> str:
        return f"kp-{self.suffix}-client"

    @property
    def client_ip(self) -> str:
        return f"10.250.{self.octet}.20"

    def _attach(self, netns: str, index: int, address: str) -> None:
        host_if, peer = f"kpv{self.suffix}{index}", f"kpp{self.suffix}{index}"
        run("ip", "netns", "add", netns)
        self.namespaces.append(netns)
        run("ip", "link", "add", host_if, "type", "veth", "peer", "name", peer)
        run("ip", "link", "set", peer, "netns", netns)
        run("ip", "link", "set", host_if, "master", self.bridge, "up")
        run("bridge", "link", "set", "dev", host_if, "hairpin", "on")
        run("ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up")
        run("ip", "netns", "exec", netns, "ip", "link", "set", peer, "name", "eth0")
        run("ip", "netns", "exec", netns, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
        run("ip", "netns", "exec", netns, "ip", "link", "set", "eth0", "up")
        run("ip", "netns", "exec", netns, "ip", "route", "add", "default", "via", self.gateway)

    def open(self) -> NetLab:
        try:
            # A node forwards between its pods' interfaces (the kubelet's CNI bridge turns this on);
            # the lab is such a node, so it does the same for its lifetime and then restores it.
            self.ip_forward_was = IP_FORWARD.read_text().strip()
            IP_FORWARD.write_text("1")
            run("ip", "link", "add", self.bridge, "type", "bridge")
            self.bridge_made = True
            run("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            run("ip", "link", "set", self.bridge, "up")
            # Service IPs route to a device of their own, as the default route would take them out of the
            # host: a route back out of the bridge would make the kernel answer pods with ICMP redirects,
            # which eat the per-host ICMP budget the REJECT's port-unreachable needs.
            # (A veth pair with nothing behind it: the dummy driver may not be loaded.)
            run("ip", "link", "add", self.dummy, "type", "veth", "peer", "name", f"kpe{self.suffix}")
            self.dummy_made = True
            run("ip", "link", "set", self.dummy, "up")
            run("ip", "route", "add", self.service_cidr, "dev", self.dummy)
            # Only this bridge may carry 127.0.0.1-sourced packets (localhost node ports).
            with open(f"/proc/sys/net/ipv4/conf/{self.bridge}/route_localnet", "w") as f:
                f.write("1\n")
            for i in range(self.pods):
                self._attach(self.pod_name(i), i, self.pod_ip(i))
                self.servers.append(subprocess.Popen(
                    ["ip", "netns", "exec", self.pod_name(i), sys.executable, "-c", SERVER, self.pod_name(i)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self._attach(self.client, self.pods, self.client_ip)
            self._wait_servers()
        except BaseException:
            self.close()
            raise
        return self

    def _wait_servers(self) -> None:
        deadline = time.monotonic() + 10
        for i in range(self.pods):
            while self.get_from(self.client, self.pod_ip(i), 8080, 1) != [self.pod_name(i)]:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"test server in {self.pod_name(i)} did not start")
                time.sleep(0.05)

    def get_from(self, netns: str, host: str, port: int, count: int) -> list[str]:
        """``count`` GETs to host:port from inside ``netns``, each on a new connection."""
        out = run("ip", "netns", "exec", netns, sys.executable, "-c", CLIENT, host, str(port), str(count))
        return json.loads(out.stdout)

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(OSError):
                server.kill()
            with contextlib.suppress(Exception):
                server.wait(5)
        self.servers.clear()
        for netns in self.namespaces:
            run("ip", "netns", "del", netns, check=False)  # takes the veth pair with it
        self.namespaces.clear()
        if self.bridge_made:
            run("ip", "link", "del", self.bridge, check=False)
            self.bridge_made = False
        if self.dummy_made:
            run("ip", "link", "del", self.dummy, check=False)  # and the service route through it
            self.dummy_made = False
        if self.ip_forward_was is not None:
            IP_FORWARD.write_text(self.ip_forward_was)
            self.ip_forward_was = None


def is_root() -> bool:
    return os.geteuid() == 0
