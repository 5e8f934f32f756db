"""Real etcd members on loopback for tests and benchmarks.

    with EtcdCluster(size=3) as cluster:
        url = cluster.store_url          # "etcd://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
        cluster.kill(0)                  # SIGKILL one member
    # every process stopped, every temp dir removed, also when the body raised

Each member gets free loopback ports (client and peer) and its own data dir under one temp dir.
Short heartbeat/election timings make leader loss recover in well under a second. Ports are found
by binding port 0 and releasing it; if a member still loses the race for its port, the whole
cluster is started again on new ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

from tests.support.ports import free_port

ETCD_BINARY = os.environ.get("KYB_ETCD_BINARY", shutil.which("etcd") or "/usr/bin/etcd")


@dataclass
class EtcdMember:
    name: str
    client_port: int
    peer_port: int
    data_dir: str
    log_path: str
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.client_url}/health", timeout=1) as response:
                return json.loads(response.read()).get("health") == "true"
        except (OSError, ValueError):
            return False


class EtcdCluster:
    def __init__(self, size: int = 1, *, start_timeout: float = 30.0):
        if not os.path.exists(ETCD_BINARY):
            raise RuntimeError(f"etcd binary not found at {ETCD_BINARY} (install Debian's etcd-server)")
        self.size = size
        self.start_timeout = start_timeout
        self.members: list[EtcdMember] = []
        self._root: str | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> EtcdCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._root = tempfile.mkdtemp(prefix="kyb-etcd-")
        try:
            for attempt in range(3):
                self._plan(attempt)
                for member in self.members:
                    self._launch(member)
                if self._wait_healthy():
                    return
                self._stop_members()
            raise RuntimeError(f"etcd cluster of {self.size} did not become healthy:\n{self.logs()}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._stop_members()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def _plan(self, attempt: int) -> None:
        assert self._root is not None
        self.members = []
        for index in range(self.size):
            name = f"m{index}"
            data_dir = os.path.join(self._root, f"try{attempt}", name)
            os.makedirs(data_dir)
            self.members.append(EtcdMember(name, free_port(), free_port(), data_dir, data_dir + ".log"))

    def _launch(self, member: EtcdMember) -> None:
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        args = [
            ETCD_BINARY,
            "--name", member.name,
            "--data-dir", member.data_dir,
            "--listen-client-urls", member.client_url,
            "--advertise-client-urls", member.client_url,
            "--listen-peer-urls", member.peer_url,
            "--initial-advertise-peer-urls", member.peer_url,
            "--initial-cluster", initial,
            "--initial-cluster-state", "new",
            "--initial-cluster-token", f"kyb-test-{os.getpid()}-{self.members[0].client_port}",
            "--heartbeat-interval", "50",
            "--election-timeout", "500",
            # a bit over the store's 1.5 MiB value limit, so the store's own check is what bites
            "--max-request-bytes", str(2 * 1024 * 1024),
            "--quota-backend-bytes", str(2 * 1024 * 1024 * 1024),
            "--logger", "zap",
            "--log-level", "warn",
        ]
        log = open(member.log_path, "ab")
        try:
            member.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        finally:
            log.close()

    def _wait_healthy(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if any(not m.alive for m in self.members):
                return False
            if all(m.healthy() for m in self.members):
                return True
            time.sleep(0.05)
        return False

    def _stop_members(self) -> None:
        for member in self.members:
            if member.alive:
                member.process.send_signal(signal.SIGTERM)
        for member in self.members:
            if member.process is not None:
                try:
                    # a member whose peers are gone waits seconds trying to hand over leadership
                    member.process.wait(timeout=1.5)
                except subprocess.TimeoutExpired:
                    member.process.kill()
                    member.process.wait(timeout=5)

    # --- for tests ------------------------------------------------------------------------------

    @property
    def endpoints(self) -> list[str]:
        return [f"127.0.0.1:{m.client_port}" for m in self.members]

    @property
    def store_url(self) -> str:
        return "etcd://" + ",".join(self.endpoints)

    def kill(self, index: int) -> None:
        """SIGKILL one member (it stays down)."""
        member = self.members[index]
        if member.alive:
            member.process.kill()
            member.process.wait(timeout=5)

    def leader_index(self) -> int | None:
        """Which member leads, from each member's /v3/maintenance/status."""
        for index, member in enumerate(self.members):
            if not member.alive:
                continue
            with contextlib.suppress(OSError, ValueError):
                request = urllib.request.Request(f"{member.client_url}/v3/maintenance/status", data=b"{}",
                                                 method="POST")
                with urllib.request.urlopen(request, timeout=1) as response:
                    status = json.loads(response.read())
                if status.get("leader") and status["leader"] == status.get("header", {}).get("member_id"):
                    return index
        return None

    def logs(self) -> str:
        out = []
        for member in self.members:
            with contextlib.suppress(OSError):
                with open(member.log_path, errors="replace") as handle:
                    out.append(f"--- {member.name}\n{handle.read()[-4000:]}")
        return "\n".join(out)
