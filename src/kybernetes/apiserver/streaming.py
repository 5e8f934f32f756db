"""pods/log, pods/exec, pods/attach, pods/portforward: the apiserver's side of streaming.

    kubectl ──► apiserver: GET the pod, check it as the real server does (container name, phase,
                            a node assigned), find the node's kubelet (status.addresses InternalIP,
                            status.daemonEndpoints.kubeletEndpoint.Port)
            ──► kubelet (HTTPS; client certificate CN kube-apiserver-kubelet-client, O system:masters;
                         the kubelet's serving certificate must chain to the cluster CA)
                log:     GET /containerLogs/...  -> streamed back chunk by chunk (text/plain)
                exec, attach, portforward: WebSocket to the kubelet, WebSocket to kubectl, every
                         message relayed as is (streaming_proxy.py)

Components never call each other except here, as in Kubernetes.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from kybernetes.api import errors
from kybernetes.apiserver.request_info import RequestInfo

KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"
MASTERS_GROUP = "system:masters"
PREFERRED_ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")
DEFAULT_KUBELET_PORT = 10250

Obj = dict[str, Any]


@dataclass
class KubeletConnector:
    """How the apiserver reaches kubelets: the TLS context (its client certificate, the CA it
    trusts for kubelets) and one HTTP client session."""

    ssl_context: ssl.SSLContext | None
    problem: str = ""  # why there is no client certificate (requests then fail with this message)
    _session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.ssl_context if self.ssl_context is not None else False),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


CONNECTOR_KEY = web.AppKey("kubelet_connector", KubeletConnector)


def build_connector(*, ca_file: Path | None, cert_file: Path | None = None, key_file: Path | None = None,
                    ca_key_file: Path | None = None) -> KubeletConnector:
    """A connector with ``cert_file``/``key_file`` as the client certificate, or, without them, a
    client certificate issued now by the CA at ``ca_file`` + ``ca_key_file``."""
    if ca_file is None or not Path(ca_file).exists():
        return KubeletConnector(None, "the apiserver has no cluster CA, so it cannot reach kubelets")
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.check_hostname = False  # kubelets are reached by IP; the CA signature is what is checked
    if cert_file is not None and key_file is not None:
        ctx.load_cert_chain(str(cert_file), str(key_file))
        return KubeletConnector(ctx)
    if ca_key_file is None or not Path(ca_key_file).exists():
        return KubeletConnector(None, "the apiserver has no kubelet client certificate")
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from kybernetes.apiserver.pki import CertificateAuthority, issue_client_cert

    ca = CertificateAuthority(x509.load_pem_x509_certificate(Path(ca_file).read_bytes()),
                              serialization.load_pem_private_key(Path(ca_key_file).read_bytes(), None))  # type: ignore[arg-type]
    issued = issue_client_cert(ca, KUBELET_CLIENT_CN, [MASTERS_GROUP])
    with tempfile.TemporaryDirectory(prefix="kyb-kubelet-client-") as tmp:  # ssl loads keys from files only
        cert, key = Path(tmp) / "client.crt", Path(tmp) / "client.key"
        cert.write_bytes(issued.cert_pem)
        key.touch(mode=0o600)
        key.write_bytes(issued.key_pem)
        ctx.load_cert_chain(str(cert), str(key))
    return KubeletConnector(ctx)


def connector_of(request: web.Request) -> KubeletConnector:
    connector = request.app.get(CONNECTOR_KEY)
    if connector is None or connector.ssl_context is None:
        problem = connector.problem if connector is not None else "kubelet streaming is not configured"
        raise errors.ApiError(503, "ServiceUnavailable", problem)
    return connector


# -- the pod and its node -------------------------------------------------------------------------

def _containers(pod: Obj) -> list[str]:
    spec = pod.get("spec") or {}
    return [c.get("name", "") for key in ("containers", "initContainers", "ephemeralContainers")
            for c in spec.get(key) or []]


def pick_container(pod: Obj, requested: str) -> str:
    name = pod["metadata"]["name"]
    if requested:
        if requested not in _containers(pod):
            raise errors.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    regular = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    if len(regular) == 1:
        return regular[0]
    raise errors.bad_request(f"a container name must be specified for pod {name}, "
                             f"choose one of: [{' '.join(regular)}]")


def check_log_state(pod: Obj, container: str, previous: bool) -> None:
    """The real server's 400s for logs of a container that has none yet."""
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    statuses = [s for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")
                for s in status.get(key) or []]
    mine = next((s for s in statuses if s.get("name") == container), None)
    if mine is None:
        if not (pod.get("spec") or {}).get("nodeName"):
            raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: '
                                     "ContainerCreating")
        return
    waiting = (mine.get("state") or {}).get("waiting")
    if previous:
        if not (mine.get("lastState") or {}).get("terminated"):
            raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return
    if waiting and not (mine.get("lastState") or {}).get("terminated"):
        reason = waiting.get("reason") or "ContainerCreating"
        message = f'container "{container}" in pod "{name}" is waiting to start: {reason}'
        if reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"):
            message = (f'container "{container}" in pod "{name}" is waiting to start: '
                       f'image can\'t be pulled')
        raise errors.bad_request(message)


def check_running_for_exec(pod: Obj, verb: str) -> None:
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise errors.bad_request(f"cannot {verb} into a container in a completed pod; current phase is {phase}")


def kubelet_base_url(node: Obj) -> str:
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in reversed(status.get("addresses") or [])}
    address = next((addresses[t] for t in PREFERRED_ADDRESS_TYPES if addresses.get(t)), None)
    name = (node.get("metadata") or {}).get("name", "")
    if not address:
        raise errors.ApiError(503, "ServiceUnavailable", f"node {name} has no address to reach its kubelet")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_KUBELET_PORT
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}:{int(port)}"


async def get_pod(handlers, ri: RequestInfo, info) -> Obj:
    return await handlers.objects.get(info, ri.namespace, ri.name)


async def node_of(handlers, pod: Obj) -> Obj:
    """The pod's node (400 while the pod is not scheduled, as the real server answers)."""
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
    nodes = handlers.registry.get("", "v1", "nodes")
    node = await handlers.objects.get_or_none(nodes, None, node_name)
    if node is None:
        raise errors.ApiError(404, "NotFound", f'nodes "{node_name}" not found', name=node_name, kind="nodes")
    return node


def kubelet_path(verb: str, namespace: str, pod: str, container: str = "") -> str:
    parts = [verb, namespace, pod] + ([container] if container else [])
    return "/" + "/".join(quote(p, safe="") for p in parts)
