"""The runc + conmon container runtime: CRI's RuntimeService for real nodes (the CRI-O stack).

    RuncRuntime (service.py, container_ops.py, streaming.py)
      ├─ sandbox.py    pod namespaces as bind-mounted files (unshare), hostname/hosts/resolv.conf
      ├─ (network)     the injected kubelet/network PodNetworkPlugin (CNI ADD/DEL); NoNetwork by default
      ├─ images.py     the injected image store: rootfs per container, image config
      ├─ spec.py       OCI config.json from the CRI config (users.py, seccomp.py, cgroups.py)
      ├─ conmon.py     conmon per container; runc create/start/kill/delete; exit watching
      └─ state.py      JSON records, so a restarted kubelet re-adopts everything

Directories: ``data_dir`` (persistent: the state records, default logs) and ``run_dir`` (volatile,
/run/kybernetes, on a tmpfs: namespace files, runc's state root, conmon's sockets and exit files,
container bundles, sandbox files; run_dir.py says why). cgroups go
under ``/<cgroup_root>/pod<id>/<container id>`` unless the kubelet gives a cgroup parent.
"""

from kybernetes.kubelet.runtime.runc.service import RuncRuntime

__all__ = ["RuncRuntime"]
