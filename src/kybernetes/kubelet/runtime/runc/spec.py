"""The OCI runtime spec (a bundle's config.json) of one container, from its CRI config.

    process   command: Kubernetes' rules over the image's Entrypoint/Cmd; env: the image's, then
              the container's (later wins); cwd; user (numbers, resolved in the image);
              capabilities (containerd's default set, adds and drops); no_new_privs; rlimits
    root      the rootfs the image store prepared, read-only if asked
    mounts    /proc /dev /dev/pts /dev/shm /dev/mqueue /sys /sys/fs/cgroup, the sandbox's
              /etc/hostname, /etc/hosts and /etc/resolv.conf, then the CRI mounts (volumes);
              ``mount_destinations`` says where they land, for the image store
    linux     the sandbox's network, IPC and UTS namespace files (or the host's), a PID and a
              mount namespace of its own, cgroupsPath and resources, masked and read-only /proc
              paths, seccomp, sysctls

A privileged container gets every capability, every device, /sys read-write, and no masks or
seccomp filter, as in other runtimes.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from kybernetes.kubelet.runtime.protocol import (
    ContainerConfig,
    LinuxContainerSecurityContext,
    MountPropagation,
    NamespaceMode,
    PodSandboxConfig,
    SecurityProfileType,
)
from kybernetes.kubelet.runtime.runc import cgroups
from kybernetes.kubelet.runtime.runc.images import ImageConfig
from kybernetes.kubelet.runtime.runc.seccomp import runtime_default_profile
from kybernetes.kubelet.runtime.runc.users import ResolvedUser

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Every capability, in kernel order (capability.h numbers them 0..40).
ALL_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
# The set containerd gives a container that asks for nothing.
DEFAULT_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
    "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)
DEFAULT_MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


class SpecError(Exception):
    """The container cannot be described to runc (no command, unknown capability, ...)."""


def command_line(config: ContainerConfig, image: ImageConfig) -> list[str]:
    """Kubernetes' rule: command replaces Entrypoint, args replace Cmd; a command without args
    drops the image's Cmd too."""
    if config.command:
        argv = list(config.command) + list(config.args)
    else:
        argv = list(image.entrypoint) + list(config.args or image.cmd)
    if not argv:
        raise SpecError("no command specified: neither the container nor its image gives one")
    return argv


def environment(config: ContainerConfig, image: ImageConfig, hostname: str, home: str) -> list[str]:
    env: dict[str, str] = {"PATH": DEFAULT_PATH}
    for item in image.env:
        key, _, value = item.partition("=")
        env[key] = value
    if hostname:
        env["HOSTNAME"] = hostname
    for kv in config.envs:
        env[kv.key] = kv.value
    env.setdefault("HOME", home)
    return [f"{k}={v}" for k, v in env.items()]


def _cap_name(name: str) -> str:
    bare = name.upper().removeprefix("CAP_")
    if bare != "ALL" and bare not in ALL_CAPABILITIES:
        raise SpecError(f"unknown capability {name!r}")
    return bare


def capabilities(security: LinuxContainerSecurityContext | None) -> list[str]:
    if security is not None and security.privileged:
        caps = list(ALL_CAPABILITIES)
    else:
        caps = list(DEFAULT_CAPABILITIES)
        requested = security.capabilities if security is not None else None
        if requested is not None:
            drops = {_cap_name(c) for c in requested.drop_capabilities}
            adds = [_cap_name(c) for c in requested.add_capabilities]
            if "ALL" in drops:
                caps = []
            caps = [c for c in caps if c not in drops]
            for cap in (ALL_CAPABILITIES if "ALL" in adds else adds):
                if cap not in caps:
                    caps.append(cap)
    last = _last_capability()
    return [f"CAP_{c}" for c in caps if ALL_CAPABILITIES.index(c) <= last]


@functools.cache
def _last_capability() -> int:
    """The kernel's highest capability number (fixed while it runs)."""
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return len(ALL_CAPABILITIES) - 1


def _base_mounts(privileged: bool) -> list[dict]:
    sys_options = ["nosuid", "noexec", "nodev"] + ([] if privileged else ["ro"])
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_options},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime"] + ([] if privileged else ["ro"])},
    ]


_PROPAGATION_OPTION = {
    MountPropagation.PROPAGATION_PRIVATE: "rprivate",
    MountPropagation.PROPAGATION_HOST_TO_CONTAINER: "rslave",
    MountPropagation.PROPAGATION_BIDIRECTIONAL: "rshared",
}


def mounts(config: ContainerConfig, sandbox_dir: str, privileged: bool) -> tuple[list[dict], str]:
    """The spec's mounts and the rootfs propagation they need."""
    result = _base_mounts(privileged)
    asked = {m.container_path.rstrip("/") or "/" for m in config.mounts}
    for name in ("hostname", "hosts", "resolv.conf"):
        source = os.path.join(sandbox_dir, name)
        if sandbox_dir and os.path.exists(source) and f"/etc/{name}" not in asked:
            result.append({"destination": f"/etc/{name}", "type": "bind", "source": source,
                           "options": ["rbind", "rprivate"]})
    propagation = ""
    for m in config.mounts:
        if not m.container_path.startswith("/"):
            raise SpecError(f"mount path {m.container_path!r} must be absolute")
        if not os.path.exists(m.host_path):
            raise SpecError(f"mount source {m.host_path!r} does not exist")
        option = _PROPAGATION_OPTION[m.propagation]
        if option == "rshared" or (option == "rslave" and propagation != "rshared"):
            propagation = option
        result.append({"destination": m.container_path, "type": "bind", "source": m.host_path,
                       "options": ["rbind", option] + (["ro"] if m.readonly else ["rw"])})
    return result, propagation


def mount_destinations(spec_mounts: list[dict]) -> list[tuple[str, bool]]:
    """Where the spec's mounts (``mounts``' list) land in the rootfs: (destination, is a
    directory), for the image store to provide those the image lacks (runc would create them in
    the container's writable layer). Destinations under another one of the list land in that
    mount's filesystem and are left out (/dev/pts, /sys/fs/cgroup, /dev/termination-log), as is
    "/" itself. Non-bind mounts need a directory; a bind mount needs what its source is."""
    points: dict[str, bool] = {}
    for m in spec_mounts:
        destination = "/" + "/".join(p for p in m["destination"].split("/") if p and p != ".")
        if destination != "/" and destination not in points:
            points[destination] = m["type"] != "bind" or os.path.isdir(m["source"])
    return [(d, is_dir) for d, is_dir in points.items() if not _under_another(d, points)]


def _under_another(destination: str, points: dict[str, bool]) -> bool:
    """Whether a directory above ``destination`` (a normalized absolute path) is in ``points``."""
    parent = destination.rpartition("/")[0]
    while parent:
        if parent in points:
            return True
        parent = parent.rpartition("/")[0]
    return False


def namespaces(sandbox_config: PodSandboxConfig, netns: str, ipcns: str, utsns: str) -> list[dict]:
    options = sandbox_config.namespace_options
    spaces: list[dict] = [{"type": "mount"}]
    if options.pid != NamespaceMode.NODE:
        spaces.append({"type": "pid"})
    for kind, path in (("network", netns), ("ipc", ipcns), ("uts", utsns)):
        if path:
            spaces.append({"type": kind, "path": path})
    if cgroups.is_unified():
        spaces.append({"type": "cgroup"})
    return spaces


def build_spec(*, config: ContainerConfig, sandbox_config: PodSandboxConfig, image: ImageConfig,
               user: ResolvedUser, rootfs: str, cgroups_path: str, sandbox_dir: str,
               netns: str, ipcns: str, utsns: str, hostname: str,
               planned_mounts: tuple[list[dict], str] | None = None) -> dict:
    """``planned_mounts``: what ``mounts`` returned for this container already, if the caller
    needed it before (the image store's mount points)."""
    linux_config = config.linux
    security = linux_config.security_context if linux_config else None
    resources = linux_config.resources if linux_config else None
    privileged = bool(security and security.privileged)
    caps = capabilities(security)
    spec_mounts, propagation = planned_mounts or mounts(config, sandbox_dir, privileged)
    process: dict = {
        "terminal": bool(config.tty),
        "user": {"uid": user.uid, "gid": user.gid,
                 "additionalGids": sorted(set(user.additional_gids) |
                                          set(security.supplemental_groups if security else ()))},
        "args": command_line(config, image),
        "env": environment(config, image, hostname, user.home),
        "cwd": config.working_dir or image.working_dir or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": bool(security and security.no_new_privs),
    }
    if resources is not None and resources.oom_score_adj:
        process["oomScoreAdj"] = resources.oom_score_adj
    linux: dict = {
        "cgroupsPath": cgroups_path,
        "resources": cgroups.oci_resources(resources),
        "namespaces": namespaces(sandbox_config, netns, ipcns, utsns),
    }
    sysctls = sandbox_config.linux.sysctls if sandbox_config.linux else {}
    if sysctls:
        linux["sysctl"] = dict(sysctls)
    if propagation:
        linux["rootfsPropagation"] = propagation
    if privileged:
        linux["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
    else:
        linux["maskedPaths"] = list(DEFAULT_MASKED_PATHS if security is None or security.masked_paths is None
                                    else security.masked_paths)
        linux["readonlyPaths"] = list(DEFAULT_READONLY_PATHS if security is None or security.readonly_paths is None
                                      else security.readonly_paths)
        if security and security.seccomp and security.seccomp.profile_type == SecurityProfileType.RuntimeDefault:
            linux["seccomp"] = runtime_default_profile()
    spec: dict = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": bool(security and security.readonly_rootfs)},
        "mounts": spec_mounts,
        "linux": linux,
        "annotations": {k: v for k, v in config.annotations.items()},
    }
    # No "hostname": the sandbox set it in the UTS namespace every container joins.
    return spec
