"""The RuntimeDefault seccomp profile: everything allowed except a deny list.

Container runtimes ship an allow list of some 350 system calls; ours is the shorter inverse,
written for this project: the calls a workload has no business making (loading kernel modules,
rebooting, changing the clock, tracing other processes, keyrings, BPF, new namespaces and
mounts from inside, ...) fail with EPERM, everything else is allowed. Privileged containers and
the Unconfined profile get no filter at all.
"""

from __future__ import annotations

import platform

DENIED_SYSCALLS = (
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
    "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "init_module",
    "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie",
    "mount", "mount_setattr", "move_mount", "name_to_handle_at", "nfsservctl", "open_by_handle_at",
    "open_tree", "perf_event_open", "pivot_root", "process_vm_readv", "process_vm_writev",
    "ptrace", "query_module", "quotactl", "reboot", "request_key", "setns", "settimeofday",
    "swapoff", "swapon", "sysfs", "_sysctl", "umount", "umount2", "unshare", "uselib",
    "userfaultfd", "ustat", "vhangup",
)

_ARCHITECTURES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
}

EPERM = 1


def runtime_default_profile() -> dict:
    """The spec's ``linux.seccomp`` for RuntimeDefault."""
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": _ARCHITECTURES.get(platform.machine(), []),
        "syscalls": [{"names": list(DENIED_SYSCALLS), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM}],
    }
