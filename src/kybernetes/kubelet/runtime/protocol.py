"""The container runtime protocol: CRI's RuntimeService and ImageService, as Python.

The kubelet drives every node through this one seam, exactly as Kubernetes' kubelet drives
containerd or CRI-O over the CRI gRPC API: the fake runtime of simulated nodes (fake.py) and the
runc + conmon runtime of real nodes implement the same calls, so the pod worker, the status
computation and the node agent do not know which one they talk to.

    pod sandbox  (one per pod attempt: its network namespace, its IP)      run / stop / remove
       └─ containers  (one per container attempt; attempt = restartCount)  create / start / stop / remove
    images                                                                pull / status / list / remove
    container events  (CRI's GetContainerEvents stream: created, started, stopped, deleted)

The messages are dataclasses shaped like CRI's (api.proto of k8s.io/cri-api): field names in
snake case, timestamps in nanoseconds since the epoch, states as the same enum names. Only what
the kubelet uses is here. Streaming (exec, attach, port-forward) is CRI's Exec/Attach/PortForward
without its URL indirection: the call returns the live session itself (StreamSession, or a pair
of asyncio streams for a port), and the kubelet's own server (kubelet/server/) speaks the wire
protocols. Stats are CRI's ContainerStats: cumulative CPU time and the memory working set.

The kubelet keeps its own bookkeeping in labels and annotations on sandboxes and containers, as
upstream does (``io.kubernetes.pod.uid``, ``io.kubernetes.container.name``, ...), so that after a
restart it can rebuild everything from ``list_pod_sandbox`` and ``list_containers`` alone.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# Labels the kubelet puts on what it asks the runtime to create (the same keys as upstream).
POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
POD_UID_LABEL = "io.kubernetes.pod.uid"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
# Our own: which list of the pod spec a container comes from (init, sidecar or regular).
CONTAINER_TYPE_ANNOTATION = "io.kybernetes.container.type"
RESTART_COUNT_ANNOTATION = "io.kubernetes.container.restartCount"

CONTAINER_TYPE_INIT = "init"
CONTAINER_TYPE_SIDECAR = "sidecar"
CONTAINER_TYPE_REGULAR = "regular"


class RuntimeServiceError(Exception):
    """A runtime call failed (CRI's gRPC error)."""


class NotFoundError(RuntimeServiceError):
    """No sandbox, container or image with that id."""


class ImagePullError(RuntimeServiceError):
    """The image could not be pulled (the kubelet reports ErrImagePull)."""


class PodSandboxState(enum.StrEnum):
    SANDBOX_READY = "SANDBOX_READY"
    SANDBOX_NOTREADY = "SANDBOX_NOTREADY"


class ContainerState(enum.StrEnum):
    CONTAINER_CREATED = "CONTAINER_CREATED"
    CONTAINER_RUNNING = "CONTAINER_RUNNING"
    CONTAINER_EXITED = "CONTAINER_EXITED"
    CONTAINER_UNKNOWN = "CONTAINER_UNKNOWN"


class ContainerEventType(enum.StrEnum):
    CONTAINER_CREATED_EVENT = "CONTAINER_CREATED_EVENT"
    CONTAINER_STARTED_EVENT = "CONTAINER_STARTED_EVENT"
    CONTAINER_STOPPED_EVENT = "CONTAINER_STOPPED_EVENT"
    CONTAINER_DELETED_EVENT = "CONTAINER_DELETED_EVENT"


# -- versions and conditions --------------------------------------------------------------------

@dataclass(frozen=True)
class VersionResponse:
    version: str  # the CRI API version
    runtime_name: str
    runtime_version: str
    runtime_api_version: str


@dataclass(frozen=True)
class RuntimeCondition:
    type: str  # "RuntimeReady" or "NetworkReady"
    status: bool
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class RuntimeStatus:
    conditions: tuple[RuntimeCondition, ...]

    def condition(self, type_: str) -> RuntimeCondition | None:
        return next((c for c in self.conditions if c.type == type_), None)


# -- sandboxes ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PodSandboxMetadata:
    name: str
    uid: str
    namespace: str
    attempt: int = 0


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    host_port: int = 0
    protocol: str = "TCP"
    host_ip: str = ""


class NamespaceMode(enum.StrEnum):
    """CRI's NamespaceMode: whose namespace a pod or container uses."""

    POD = "POD"  # the pod sandbox's own (shared by its containers)
    CONTAINER = "CONTAINER"  # the container's own
    NODE = "NODE"  # the host's (hostNetwork, hostPID, hostIPC)


@dataclass(frozen=True)
class NamespaceOption:
    network: NamespaceMode = NamespaceMode.POD
    pid: NamespaceMode = NamespaceMode.CONTAINER
    ipc: NamespaceMode = NamespaceMode.POD


@dataclass(frozen=True)
class LinuxSandboxSecurityContext:
    namespace_options: NamespaceOption = NamespaceOption()
    privileged: bool = False


@dataclass(frozen=True)
class LinuxPodSandboxConfig:
    cgroup_parent: str = ""  # the pod's cgroup, relative to each hierarchy's root
    security_context: LinuxSandboxSecurityContext = LinuxSandboxSecurityContext()
    sysctls: dict[str, str] = field(default_factory=dict)  # namespaced sysctls for every container


@dataclass(frozen=True)
class DNSConfig:
    """What the runtime writes into the pod's /etc/resolv.conf."""

    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class PodSandboxConfig:
    metadata: PodSandboxMetadata
    hostname: str = ""
    log_directory: str = ""
    port_mappings: tuple[PortMapping, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    host_network: bool = False  # CRI: linux.security_context.namespace_options.network == NODE
    dns_config: DNSConfig | None = None
    linux: LinuxPodSandboxConfig | None = None

    @property
    def namespace_options(self) -> NamespaceOption:
        options = self.linux.security_context.namespace_options if self.linux else NamespaceOption()
        if self.host_network and options.network != NamespaceMode.NODE:
            options = NamespaceOption(NamespaceMode.NODE, options.pid, options.ipc)
        return options


@dataclass(frozen=True)
class PodSandboxNetworkStatus:
    ip: str = ""
    additional_ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class PodSandbox:
    """An entry of list_pod_sandbox."""

    id: str
    metadata: PodSandboxMetadata
    state: PodSandboxState
    created_at: int  # ns since the epoch
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PodSandboxStatus:
    id: str
    metadata: PodSandboxMetadata
    state: PodSandboxState
    created_at: int
    network: PodSandboxNetworkStatus = PodSandboxNetworkStatus()
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PodSandboxFilter:
    id: str = ""
    state: PodSandboxState | None = None
    label_selector: dict[str, str] = field(default_factory=dict)


# -- containers ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageSpec:
    image: str
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str


@dataclass(frozen=True)
class ContainerMetadata:
    name: str
    attempt: int = 0  # the restart count of this container in its pod


class MountPropagation(enum.StrEnum):
    PROPAGATION_PRIVATE = "PROPAGATION_PRIVATE"
    PROPAGATION_HOST_TO_CONTAINER = "PROPAGATION_HOST_TO_CONTAINER"  # rslave
    PROPAGATION_BIDIRECTIONAL = "PROPAGATION_BIDIRECTIONAL"  # rshared


@dataclass(frozen=True)
class Mount:
    """A host path bind-mounted into a container (volumes, service-account tokens, ...)."""

    container_path: str
    host_path: str
    readonly: bool = False
    selinux_relabel: bool = False
    propagation: MountPropagation = MountPropagation.PROPAGATION_PRIVATE


@dataclass(frozen=True)
class LinuxContainerResources:
    """cgroup limits; 0 means "not set" as in CRI."""

    cpu_period: int = 0  # CFS period in microseconds
    cpu_quota: int = 0  # CFS quota in microseconds per period (from limits.cpu)
    cpu_shares: int = 0  # relative weight (from requests.cpu; 1024 = one CPU)
    memory_limit_in_bytes: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    oom_score_adj: int = 0


@dataclass(frozen=True)
class Capability:
    add_capabilities: tuple[str, ...] = ()  # "NET_ADMIN" or "CAP_NET_ADMIN"; "ALL" adds every one
    drop_capabilities: tuple[str, ...] = ()  # "ALL" drops the defaults


class SecurityProfileType(enum.StrEnum):
    RuntimeDefault = "RuntimeDefault"
    Unconfined = "Unconfined"


@dataclass(frozen=True)
class SecurityProfile:
    profile_type: SecurityProfileType = SecurityProfileType.Unconfined


@dataclass(frozen=True)
class LinuxContainerSecurityContext:
    capabilities: Capability | None = None
    privileged: bool = False
    run_as_user: int | None = None  # wins over the image's User
    run_as_group: int | None = None
    run_as_username: str = ""  # a user name, resolved through the image's /etc/passwd
    supplemental_groups: tuple[int, ...] = ()
    readonly_rootfs: bool = False
    no_new_privs: bool = False
    masked_paths: tuple[str, ...] | None = None  # None: the runtime's defaults; (): none
    readonly_paths: tuple[str, ...] | None = None  # None: the runtime's defaults; (): none
    seccomp: SecurityProfile | None = None  # None: Unconfined, as CRI


@dataclass(frozen=True)
class LinuxContainerConfig:
    resources: LinuxContainerResources | None = None
    security_context: LinuxContainerSecurityContext | None = None


@dataclass(frozen=True)
class ContainerConfig:
    metadata: ContainerMetadata
    image: ImageSpec
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    working_dir: str = ""
    envs: tuple[KeyValue, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    log_path: str = ""
    stdin: bool = False
    tty: bool = False
    mounts: tuple[Mount, ...] = ()
    linux: LinuxContainerConfig | None = None
    stdin_once: bool = False  # the container's stdin closes when its first attacher detaches


@dataclass(frozen=True)
class ExecSyncResponse:
    """CRI's ExecSyncResponse; unpacks as ``stdout, stderr, exit_code`` too."""

    stdout: bytes
    stderr: bytes
    exit_code: int

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter((self.stdout, self.stderr, self.exit_code))


@dataclass(frozen=True)
class Container:
    """An entry of list_containers."""

    id: str
    pod_sandbox_id: str
    metadata: ContainerMetadata
    image: ImageSpec
    image_ref: str
    state: ContainerState
    created_at: int
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerStatus:
    id: str
    metadata: ContainerMetadata
    state: ContainerState
    created_at: int
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    image: ImageSpec = ImageSpec("")
    image_ref: str = ""
    reason: str = ""  # why it exited: "Completed", "Error", "OOMKilled", ...
    message: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    log_path: str = ""


@dataclass(frozen=True)
class ContainerFilter:
    id: str = ""
    state: ContainerState | None = None
    pod_sandbox_id: str = ""
    label_selector: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerEvent:
    container_id: str
    event_type: ContainerEventType
    created_at: int
    pod_sandbox_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)


# -- images -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Image:
    id: str
    repo_tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()
    size: int = 0


@dataclass(frozen=True)
class AuthConfig:
    username: str = ""
    password: str = ""
    auth: str = ""
    server_address: str = ""
    identity_token: str = ""
    registry_token: str = ""


# -- streaming and stats ------------------------------------------------------------------------

@dataclass(frozen=True)
class ExecRequest:
    """CRI's ExecRequest: run ``cmd`` in a running container, with these streams wired up."""

    container_id: str
    cmd: tuple[str, ...]
    tty: bool = False
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True


@dataclass(frozen=True)
class AttachRequest:
    """CRI's AttachRequest: connect to the streams of a running container's main process."""

    container_id: str
    tty: bool = False
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True


@runtime_checkable
class StreamSession(Protocol):
    """A live exec or attach. ``stdout``/``stderr`` end when the process closes them (with a tty
    everything arrives on stdout and stderr is empty). ``wait`` returns the exit code of an exec,
    or of the container for an attach (None: detached while it still runs). ``close`` ends the
    session: an exec's process is killed, an attach merely detaches."""

    stdout: AsyncIterator[bytes]
    stderr: AsyncIterator[bytes]

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    async def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int | None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class CpuUsage:
    timestamp: int  # ns since the epoch
    usage_core_nano_seconds: int  # cumulative CPU time


@dataclass(frozen=True)
class MemoryUsage:
    timestamp: int
    working_set_bytes: int


@dataclass(frozen=True)
class ContainerAttributes:
    id: str
    metadata: ContainerMetadata
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerStats:
    attributes: ContainerAttributes
    cpu: CpuUsage
    memory: MemoryUsage


@dataclass(frozen=True)
class ContainerStatsFilter:
    id: str = ""
    pod_sandbox_id: str = ""
    label_selector: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class StreamingRuntime(Protocol):
    """The streaming calls of a RuntimeService (a runtime without them cannot exec/attach/forward)."""

    async def exec(self, request: ExecRequest) -> StreamSession:
        """Start ``request.cmd`` in the container; NotFoundError/RuntimeServiceError when it cannot."""

    async def attach(self, request: AttachRequest) -> StreamSession: ...

    async def port_forward(self, pod_sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to ``port`` inside the sandbox's network namespace."""


@runtime_checkable
class ExecSyncRuntime(Protocol):
    """CRI's ExecSync, for exec probes: run ``cmd`` in the container to completion."""

    async def exec_sync(self, container_id: str, cmd: tuple[str, ...] | list[str],
                        timeout: float = 0) -> ExecSyncResponse:
        """The output and exit code; ``timeout`` seconds (0: none), then the process is killed and
        RuntimeServiceError raised."""


@runtime_checkable
class StatsRuntime(Protocol):
    async def container_stats(self, container_id: str) -> ContainerStats: ...

    async def list_container_stats(self, filter: ContainerStatsFilter | None = None) -> list[ContainerStats]: ...


# -- the services -------------------------------------------------------------------------------

@runtime_checkable
class RuntimeService(Protocol):
    async def version(self) -> VersionResponse: ...

    async def status(self) -> RuntimeStatus: ...

    async def update_runtime_config(self, pod_cidr: str) -> None:
        """The node's spec.podCIDR changed: allocate pod IPs from it from now on."""

    async def run_pod_sandbox(self, config: PodSandboxConfig, runtime_handler: str = "") -> str: ...

    async def stop_pod_sandbox(self, pod_sandbox_id: str) -> None: ...

    async def remove_pod_sandbox(self, pod_sandbox_id: str) -> None: ...

    async def pod_sandbox_status(self, pod_sandbox_id: str) -> PodSandboxStatus: ...

    async def list_pod_sandbox(self, filter: PodSandboxFilter | None = None) -> list[PodSandbox]: ...

    async def create_container(self, pod_sandbox_id: str, config: ContainerConfig,
                               sandbox_config: PodSandboxConfig) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, timeout: int) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds (0: at once); returns once it exited."""

    async def remove_container(self, container_id: str) -> None: ...

    async def list_containers(self, filter: ContainerFilter | None = None) -> list[Container]: ...

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    def get_container_events(self) -> AsyncIterator[ContainerEvent]:
        """Every container state change from now on (CRI's GetContainerEvents stream)."""
        ...


@runtime_checkable
class ImageService(Protocol):
    async def list_images(self, filter: ImageSpec | None = None) -> list[Image]: ...

    async def image_status(self, image: ImageSpec) -> Image | None: ...

    async def pull_image(self, image: ImageSpec, auth: AuthConfig | None = None,
                         sandbox_config: PodSandboxConfig | None = None) -> str:
        """Pull ``image``; its reference (``repo@sha256:...``), which becomes a status' imageID."""

    async def remove_image(self, image: ImageSpec) -> None: ...


def matches_labels(labels: dict[str, str], selector: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
