"""Pod sandboxes without a pause container: namespaces kept alive by bind-mounted files.

A pod's network, IPC and UTS namespaces must outlive any one of its containers, so they are
created once and each is bind-mounted onto a file (as ``ip netns add`` and ``unshare --net=FILE``
do). Every container of the pod then joins them by path in its OCI spec; no process has to stay
in them. They are made in this process, by a thread of its own that is born for it and ends with
it: namespaces belong to tasks, so unshare(2) moves only that thread into new network, IPC and UTS
namespaces, where it sets the pod's hostname, brings ``lo`` up and bind-mounts its namespaces
(/proc/thread-self/ns/*) onto the files; no other thread ever runs in them. (Running util-linux
``unshare`` with a shell, ``hostname`` and ``ip`` for that cost four processes per pod start.)
The files live under the runtime's run directory, which is made a shared mount point (as
iproute2 does for /run/netns) so that copies of the mounts in other mount namespaces go away
when we unmount them:

    <run dir>/ns/net/<id, 16 hex>   the pod's network namespace: CNI attaches its interface here
    <run dir>/ns/ipc/<id, 16 hex>   shared System V IPC and POSIX message queues
    <run dir>/ns/uts/<id, 16 hex>   the pod's hostname
                                    (the sandbox record keeps the paths: older ones use the whole id)
    <data dir>/sandboxes/<id>/      hostname, hosts, resolv.conf: bind-mounted into each container

hostNetwork/hostIPC pods use the host's namespace instead (a host-network pod keeps the host's
UTS namespace and hostname too, as in Kubernetes).
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from kybernetes.kubelet.runtime.protocol import DNSConfig, NamespaceMode, PodSandboxConfig
from kybernetes.kubelet.runtime.runc import linux
from kybernetes.util.files import read_text, write_text

HOSTS_HEADER = "# Kubernetes-managed hosts file (written by the kybernetes runc runtime).\n"
LOCAL_HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
               "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")


SHORT_NAME = 16  # hex digits of the sandbox id that name its namespace files and its pod cgroup


class SandboxError(Exception):
    """A namespace could not be created or a sandbox file written."""


class SandboxHost:
    """Creates and removes the host-side parts of sandboxes."""

    def __init__(self, run_dir: Path):
        self.sandboxes_dir = run_dir / "sandboxes"
        self.ns_dir = run_dir / "ns"
        # as strings too: a pod start names several files under each, and pathlib's joins cost
        # more than the rest of the work here
        self._sandboxes_prefix = f"{self.sandboxes_dir}{os.sep}"
        self._ns_prefix = f"{self.ns_dir}{os.sep}"
        self._ns_dir_ready = False
        self.added_ns_mount = False

    def _prepare_ns_dir(self) -> None:
        if self._ns_dir_ready:
            return
        for kind in ("net", "ipc", "uts"):
            (self.ns_dir / kind).mkdir(parents=True, exist_ok=True)
        try:
            self.added_ns_mount = linux.make_shared_mount_dir(str(self.ns_dir)) or self.added_ns_mount
        except OSError as e:
            raise SandboxError(f"cannot make {self.ns_dir} a shared mount point: {e}") from None
        self._ns_dir_ready = True

    def sandbox_dir(self, sandbox_id: str) -> Path:
        return self.sandboxes_dir / sandbox_id

    def ns_paths(self, sandbox_id: str, config: PodSandboxConfig) -> tuple[str, str, str]:
        """(netns, ipcns, utsns) file paths; "" for a namespace shared with the host. Named by the
        first 16 hex digits of the sandbox id (as its cgroup is), unless a file of that name is
        there already: each is a line of the node's mountinfo, which runc reads whole four times
        per container start."""
        options = config.namespace_options
        host_net = options.network == NamespaceMode.NODE
        name = sandbox_id[:SHORT_NAME]
        ns = self._ns_prefix
        if any(os.path.lexists(f"{ns}{kind}{os.sep}{name}") for kind in ("net", "ipc", "uts")):
            name = sandbox_id
        net = "" if host_net else f"{ns}net{os.sep}{name}"
        ipc = "" if options.ipc == NamespaceMode.NODE else f"{ns}ipc{os.sep}{name}"
        uts = "" if host_net else f"{ns}uts{os.sep}{name}"
        return net, ipc, uts

    async def create_namespaces(self, paths: tuple[str, str, str], config: PodSandboxConfig) -> None:
        """Make the namespaces behind ``paths`` (``ns_paths``' answer, already in the sandbox's
        record); "" for one shared with the host."""
        net, ipc, uts = paths
        if not (net or ipc or uts):
            return
        self._prepare_ns_dir()
        hostname = (config.hostname or config.metadata.name)[:63] if uts else ""
        try:
            for path in paths:
                if path:
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))  # the mount point
            await linux.on_own_thread(lambda: _make_namespaces(net, ipc, uts, hostname))
        except OSError as e:
            self.remove_namespaces(paths)
            raise SandboxError(f"cannot create the pod's namespaces: {e}") from None

    @staticmethod
    def remove_namespaces(paths: tuple[str, ...]) -> None:
        for path in paths:
            if path:
                linux.umount(path)
                Path(path).unlink(missing_ok=True)

    def write_files(self, sandbox_id: str, config: PodSandboxConfig, ips: tuple[str, ...]) -> str:
        """hostname, hosts and resolv.conf of the pod, as its containers will see them; their
        directory."""
        directory = self._sandboxes_prefix + sandbox_id
        os.makedirs(directory, exist_ok=True)
        host_net = config.namespace_options.network == NamespaceMode.NODE
        host_name = read_text("/etc/hostname") if host_net else None
        hostname = host_name.strip() if host_name is not None else (config.hostname or config.metadata.name)[:63]
        write_text(os.path.join(directory, "hostname"), hostname + "\n")
        if host_net:
            shutil.copyfile("/etc/hosts", os.path.join(directory, "hosts"))
        else:
            own = "".join(f"{ip}\t{hostname}\n" for ip in ips)
            write_text(os.path.join(directory, "hosts"), HOSTS_HEADER + LOCAL_HOSTS + own)
        resolv = resolv_conf(config.dns_config)
        if resolv is None:
            try:
                shutil.copyfile("/etc/resolv.conf", os.path.join(directory, "resolv.conf"))
            except OSError:
                write_text(os.path.join(directory, "resolv.conf"), "")
        else:
            write_text(os.path.join(directory, "resolv.conf"), resolv)
        return directory

    def remove_files(self, sandbox_id: str) -> None:
        shutil.rmtree(self.sandbox_dir(sandbox_id), ignore_errors=True)

    def uninstall(self) -> None:
        """Undo the shared mount of the namespace directory (nothing else may be left in it)."""
        if self.ns_dir.exists():
            for kind in ("net", "ipc", "uts"):
                for path in (self.ns_dir / kind).glob("*"):
                    linux.umount(str(path))
                    path.unlink(missing_ok=True)
            if str(self.ns_dir) in linux.mount_points():
                linux.umount(str(self.ns_dir))
        self._ns_dir_ready = False
        self.added_ns_mount = False


def _make_namespaces(net: str, ipc: str, uts: str, hostname: str) -> None:
    """On a thread that ends right after: new namespaces for the non-empty paths, the hostname
    set and ``lo`` up in them, each bind-mounted onto its path (the mount namespace is the
    process', so the mounts are the host's)."""
    linux.unshare((linux.CLONE_NEWNET if net else 0) | (linux.CLONE_NEWIPC if ipc else 0)
                  | (linux.CLONE_NEWUTS if uts else 0))
    if uts and hostname:
        socket.sethostname(hostname)
    if net:
        linux.set_link_up("lo")
    for path, kind in ((net, "net"), (ipc, "ipc"), (uts, "uts")):
        if path:
            linux.mount(f"/proc/thread-self/ns/{kind}", path, None, linux.MS_BIND)


def resolv_conf(dns: DNSConfig | None) -> str | None:
    """The resolv.conf for ``dns`` (None: no DNS config was given, use the host's)."""
    if dns is None or not (dns.servers or dns.searches or dns.options):
        return None
    lines = [f"nameserver {server}" for server in dns.servers]
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "\n".join(lines) + "\n"
