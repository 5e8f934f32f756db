"""From a pod's container to the runtime's ContainerConfig, as Kubernetes' kubelet builds it.

    command, args      $(VAR)-expanded against the final environment (container_env.py)
    envs               container_env.EnvResolver: service links, envFrom, env with valueFrom
    working_dir, stdin, tty, labels and annotations the kubelet finds its containers by
    mounts             each volumeMount: the volume's host path (volumes.VolumeManager), or a
                       subPath / subPathExpr bound safely (volumes/subpath.py); readOnly;
                       mountPropagation; the service-account token mount for containers without
                       one; the termination-message file at terminationMessagePath; the
                       kubelet-managed /etc/hosts (pod IPs, hostname/subdomain, hostAliases)
    linux.resources    cpu shares from requests.cpu (1024 per CPU, at least 2), CFS quota from
                       limits.cpu (period 100 ms), memory limit, OOM score by QoS class
    linux.security_context   pod and container securityContext merged (the container's wins):
                       runAsUser/Group, runAsNonRoot (enforced here), fsGroup and
                       supplementalGroups, capabilities, privileged, allowPrivilegeEscalation ->
                       no_new_privs, readOnlyRootFilesystem, seccomp, procMount

Whatever makes the configuration impossible raises ContainerConfigError with the message the
container's waiting state shows (reason CreateContainerConfigError).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kybernetes.api.quantity import QuantityError, parse_quantity
from kybernetes.kubelet.container_env import EnvResolver, EventSink, expand
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.status import is_sidecar, qos_class
from kybernetes.kubelet.volumes import subpath
from kybernetes.kubelet.volumes.downward import PodFacts
from kybernetes.kubelet.volumes.errors import ContainerConfigError
from kybernetes.kubelet.volumes.manager import PodVolumes
from kybernetes.kubelet.volumes.service_account import has_mount_at
from kybernetes.kubelet.volumes.sources import ObjectCache
from kybernetes.util.files import read_text, write_text

Obj = dict[str, Any]

DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
TERMINATION_MESSAGE_PATH_ANNOTATION = "io.kubernetes.container.terminationMessagePath"
TERMINATION_MESSAGE_POLICY_ANNOTATION = "io.kubernetes.container.terminationMessagePolicy"
# Ours: where on the node the termination message file is (upstream finds it through the CRI
# status' mounts, which our ContainerStatus does not carry).
TERMINATION_MESSAGE_HOST_PATH_ANNOTATION = "io.kybernetes.container.terminationMessageHostPath"

CPU_PERIOD_US = 100_000
MIN_SHARES, SHARES_PER_CPU, MIN_QUOTA_US = 2, 1024, 1000
GUARANTEED_OOM_SCORE_ADJ, BEST_EFFORT_OOM_SCORE_ADJ = -997, 1000

_PROPAGATION = {
    None: cri.MountPropagation.PROPAGATION_PRIVATE,
    "None": cri.MountPropagation.PROPAGATION_PRIVATE,
    "HostToContainer": cri.MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
    "Bidirectional": cri.MountPropagation.PROPAGATION_BIDIRECTIONAL,
}


def format_pod(pod: Obj) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('name', '')}_{m.get('namespace', '')}({m.get('uid', '')})"


def _quantity(resources: Obj, kind: str, name: str) -> Any:
    value = ((resources or {}).get(kind) or {}).get(name)
    if value is None:
        return None
    try:
        return parse_quantity(value)
    except QuantityError:
        raise ContainerConfigError(f"invalid {kind}.{name} quantity {value!r}") from None


# -- resources ----------------------------------------------------------------------------------

def oom_score_adj(pod: Obj, container: Obj, node_memory_capacity: int) -> int:
    qos = qos_class(pod.get("spec") or {})
    if qos == "Guaranteed":
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == "BestEffort":
        return BEST_EFFORT_OOM_SCORE_ADJ
    request = _quantity(container.get("resources") or {}, "requests", "memory")
    adj = 1000 - (1000 * int(request) // node_memory_capacity if request and node_memory_capacity else 0)
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    return adj - 1 if adj == BEST_EFFORT_OOM_SCORE_ADJ else adj


def linux_resources(pod: Obj, container: Obj, node_memory_capacity: int = 0) -> cri.LinuxContainerResources:
    resources = container.get("resources") or {}
    cpu_request = _quantity(resources, "requests", "cpu") or _quantity(resources, "limits", "cpu")
    cpu_limit = _quantity(resources, "limits", "cpu")
    memory_limit = _quantity(resources, "limits", "memory")
    shares = max(MIN_SHARES, cpu_request.milli * SHARES_PER_CPU // 1000) if cpu_request else MIN_SHARES
    quota = max(MIN_QUOTA_US, cpu_limit.milli * CPU_PERIOD_US // 1000) if cpu_limit and cpu_limit.milli else 0
    return cri.LinuxContainerResources(
        cpu_period=CPU_PERIOD_US if quota else 0, cpu_quota=quota, cpu_shares=shares,
        memory_limit_in_bytes=int(memory_limit) if memory_limit else 0,
        oom_score_adj=oom_score_adj(pod, container, node_memory_capacity))


# -- security -----------------------------------------------------------------------------------

def _verify_non_root(pod: Obj, container: Obj, run_as_user: int | None, image_user: str | None) -> None:
    where = f'(pod: "{format_pod(pod)}", container: {container.get("name", "")})'
    if run_as_user is not None:
        if run_as_user == 0:
            raise ContainerConfigError(f"container's runAsUser breaks non-root policy {where}")
        return
    if image_user is None:
        return  # unknown here: the runtime resolves the image's user
    user = image_user.split(":", 1)[0]
    if user in ("", "0", "root"):
        raise ContainerConfigError(f"container has runAsNonRoot and image will run as root {where}")
    if not user.isdigit():
        raise ContainerConfigError(f"container has runAsNonRoot and image has non-numeric user ({user}), "
                                   f"cannot verify user is non-root {where}")


def _seccomp(profile: Obj | None) -> cri.SecurityProfile | None:
    if not profile:
        return None
    kind = profile.get("type")
    if kind == "RuntimeDefault":
        return cri.SecurityProfile(cri.SecurityProfileType.RuntimeDefault)
    if kind == "Unconfined":
        return cri.SecurityProfile(cri.SecurityProfileType.Unconfined)
    raise ContainerConfigError(f"seccomp profile type {kind!r} is not supported on this node")


def security_context(pod: Obj, container: Obj, image_user: str | None = None) -> cri.LinuxContainerSecurityContext:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    sc = container.get("securityContext") or {}

    def pick(key: str) -> Any:
        return sc[key] if sc.get(key) is not None else pod_sc.get(key)

    run_as_user, run_as_group = pick("runAsUser"), pick("runAsGroup")
    if pick("runAsNonRoot"):
        _verify_non_root(pod, container, run_as_user, image_user)
    groups = [int(g) for g in pod_sc.get("supplementalGroups") or []]
    if pod_sc.get("fsGroup") is not None and int(pod_sc["fsGroup"]) not in groups:
        groups.append(int(pod_sc["fsGroup"]))
    caps = sc.get("capabilities") or {}
    privileged = bool(sc.get("privileged"))
    unmasked = sc.get("procMount") == "Unmasked"
    return cri.LinuxContainerSecurityContext(
        capabilities=cri.Capability(tuple(caps.get("add") or ()), tuple(caps.get("drop") or ())) if caps else None,
        privileged=privileged,
        run_as_user=int(run_as_user) if run_as_user is not None else None,
        run_as_group=int(run_as_group) if run_as_group is not None else None,
        supplemental_groups=tuple(groups),
        readonly_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        no_new_privs=sc.get("allowPrivilegeEscalation") is False and not privileged,
        masked_paths=() if unmasked else None,
        readonly_paths=() if unmasked else None,
        seccomp=_seccomp(sc.get("seccompProfile") or pod_sc.get("seccompProfile")))


# -- mounts -------------------------------------------------------------------------------------

def _subpath_of(mount: Obj, env: dict[str, str]) -> str:
    if mount.get("subPathExpr"):
        missing: set[str] = set()

        def lookup(key: str) -> str:
            if not env.get(key):
                missing.add(key)
            return env.get(key, "")

        expanded = expand(str(mount["subPathExpr"]), lookup)
        if missing:
            raise ContainerConfigError(f"missing value for {', '.join(sorted(missing))}")
        subpath.check_relative(expanded)
        return expanded
    return str(mount.get("subPath") or "")


def container_mounts(pod: Obj, container: Obj, volumes: PodVolumes | None, env: dict[str, str],
                     attempt: int = 0) -> tuple[tuple[cri.Mount, ...], str]:
    """The container's mounts, and the host path of its termination-message file ("" if none)."""
    if volumes is None:
        if container.get("volumeMounts"):
            raise ContainerConfigError("the pod's volumes are not set up on this node")
        return (), ""
    wanted = list(container.get("volumeMounts") or [])
    wanted += [m for m in volumes.extra_mounts if not has_mount_at(container, m["mountPath"])]
    privileged = bool((container.get("securityContext") or {}).get("privileged"))
    mounts = []
    for index, mount in enumerate(wanted):
        name, path = str(mount.get("name") or ""), str(mount.get("mountPath") or "")
        host = volumes.paths.get(name)
        if host is None:
            raise ContainerConfigError(f'cannot find volume "{name}" to mount into container '
                                       f'"{container.get("name", "")}"')
        propagation = _PROPAGATION.get(mount.get("mountPropagation"))
        if propagation is None:
            raise ContainerConfigError(f"invalid mountPropagation {mount.get('mountPropagation')!r}")
        if propagation == cri.MountPropagation.PROPAGATION_BIDIRECTIONAL and not privileged:
            raise ContainerConfigError("Bidirectional mount propagation is available only to privileged containers")
        sub = _subpath_of(mount, env)
        if sub:
            target = subpath.target_for(volumes.pod_dir, name, container.get("name", ""), index)
            host = subpath.prepare(host, sub, target)
        mounts.append(cri.Mount(container_path=path, host_path=str(host), readonly=bool(mount.get("readOnly")),
                                propagation=propagation))
    log_host = ""
    message_path = container.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH
    if not any(m.container_path == message_path for m in mounts):
        directory = os.path.join(volumes.pod_dir, "containers", str(container.get("name", "")))
        os.makedirs(directory, exist_ok=True)
        log_file = os.path.join(directory, f"termination-log-{attempt}")
        fd = os.open(log_file, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        os.close(fd)
        os.chmod(log_file, 0o666)
        mounts.append(cri.Mount(container_path=message_path, host_path=log_file))
        log_host = log_file
    return tuple(mounts), log_host


# -- /etc/hosts ---------------------------------------------------------------------------------

HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
LOCAL_HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
               "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")


def hosts_file(pod: Obj, pod_ips: tuple[str, ...], cluster_domain: str, host_hosts: str = "") -> str:
    """The pod's /etc/hosts as the kubelet writes it: localhost, the pod's IPs with its hostname
    (and FQDN when it has a subdomain), then hostAliases; a hostNetwork pod gets the node's
    file with the aliases appended."""
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    if spec.get("hostNetwork"):
        text = host_hosts
    else:
        hostname = str(spec.get("hostname") or meta.get("name") or "")[:63]
        names = hostname
        if spec.get("subdomain"):
            names = f"{hostname}.{spec['subdomain']}.{meta.get('namespace', '')}.svc.{cluster_domain}\t{hostname}"
        text = HOSTS_HEADER + LOCAL_HOSTS + "".join(f"{ip}\t{names}\n" for ip in pod_ips)
    aliases = [a for a in spec.get("hostAliases") or [] if a.get("ip") and a.get("hostnames")]
    if aliases:
        text += "\n# Entries added by HostAliases.\n"
        text += "".join(f"{a['ip']}\t" + "\t".join(a["hostnames"]) + "\n" for a in aliases)
    return text


def write_hosts_file(pod: Obj, volumes: PodVolumes, facts: PodFacts, cluster_domain: str) -> str:
    """<pod dir>/etc-hosts, written in place only when its text changes (running containers
    have the file itself bind-mounted); its path."""
    host_hosts = ""
    if (pod.get("spec") or {}).get("hostNetwork"):
        try:
            host_hosts = Path("/etc/hosts").read_text()
        except OSError:
            host_hosts = LOCAL_HOSTS
    text = hosts_file(pod, facts.pod_ips, cluster_domain, host_hosts)
    path = os.path.join(volumes.pod_dir, "etc-hosts")
    if read_text(path) == text:
        return path
    write_text(path, text)
    os.chmod(path, 0o644)
    return path


# -- the whole config ---------------------------------------------------------------------------

class ContainerConfigBuilder:
    def __init__(self, sources: ObjectCache, *, events: EventSink | None = None,
                 apiserver: tuple[str, int] | None = None, node_memory_capacity: int = 0,
                 cluster_domain: str = "cluster.local"):
        self.env = EnvResolver(sources, events=events, apiserver=apiserver)
        self.node_memory_capacity = node_memory_capacity
        self.cluster_domain = cluster_domain

    async def build(self, pod: Obj, container: Obj, *, attempt: int, init: bool = False,
                    volumes: PodVolumes | None = None, facts: PodFacts = PodFacts(),
                    image_user: str | None = None, log_path: str = "") -> cri.ContainerConfig:
        m = pod.get("metadata") or {}
        kind = (cri.CONTAINER_TYPE_SIDECAR if is_sidecar(container) else cri.CONTAINER_TYPE_INIT) if init \
            else cri.CONTAINER_TYPE_REGULAR
        env = await self.env.resolve(pod, container, facts)

        def lookup(key: str) -> str | None:
            return env.get(key)

        command = tuple(expand(str(a), lookup) for a in container.get("command") or ())
        args = tuple(expand(str(a), lookup) for a in container.get("args") or ())
        mounts, message_host = container_mounts(pod, container, volumes, env, attempt)
        if volumes is not None and not any(m.container_path == "/etc/hosts" for m in mounts):
            mounts += (cri.Mount("/etc/hosts", write_hosts_file(pod, volumes, facts, self.cluster_domain)),)
        labels = {cri.POD_NAME_LABEL: m.get("name", ""), cri.POD_NAMESPACE_LABEL: m.get("namespace", ""),
                  cri.POD_UID_LABEL: m.get("uid", ""), cri.CONTAINER_NAME_LABEL: container.get("name", "")}
        annotations = {cri.CONTAINER_TYPE_ANNOTATION: kind, cri.RESTART_COUNT_ANNOTATION: str(attempt),
                       TERMINATION_MESSAGE_PATH_ANNOTATION:
                           container.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH,
                       TERMINATION_MESSAGE_POLICY_ANNOTATION: container.get("terminationMessagePolicy") or "File"}
        if message_host:
            annotations[TERMINATION_MESSAGE_HOST_PATH_ANNOTATION] = message_host
        linux = cri.LinuxContainerConfig(resources=linux_resources(pod, container, self.node_memory_capacity),
                                         security_context=security_context(pod, container, image_user))
        return cri.ContainerConfig(
            cri.ContainerMetadata(container.get("name", ""), attempt), cri.ImageSpec(container.get("image", "")),
            command=command, args=args, working_dir=container.get("workingDir") or "",
            envs=tuple(cri.KeyValue(k, v) for k, v in env.items()), labels=labels, annotations=annotations,
            log_path=log_path, stdin=bool(container.get("stdin")), stdin_once=bool(container.get("stdinOnce")),
            tty=bool(container.get("tty")),
            mounts=mounts, linux=linux)
