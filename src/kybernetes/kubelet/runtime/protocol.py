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
the kubelet uses is here; streaming (exec, attach, port-forward) and stats come with issue 5.

The kubelet keeps its own bookkeeping in labels and annotations on sandboxes and containers, as
upstream does (``io.kubernetes.pod.uid``, ``io.kubernetes.container.name``, ...), so that after a
restart it can rebuild everything from ``list_pod_sandbox`` and ``list_containers`` alone.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class PodSandboxConfig:
    metadata: PodSandboxMetadata
    hostname: str = ""
    log_directory: str = ""
    port_mappings: tuple[PortMapping, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    host_network: bool = False  # CRI: linux.security_context.namespace_options.network == NODE


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
