"""The ``kubernetes`` Service in ``default``: how pods find the apiserver.

    Service   default/kubernetes   clusterIP = the first address of the service CIDR,
                                   port 443 "https" -> the apiserver's port
    Endpoints default/kubernetes   the advertise address : the apiserver's port
    EndpointSlice default/kubernetes  the same, for the proxy and DNS

The apiserver writes them at start-up and keeps them so (every ``interval`` seconds it puts back
what was deleted or changed), as kube-apiserver's kubernetes-service controller does. They go
through the ordinary object store, so the cluster IP is allocated like any requested one. The
Service has no selector: the endpoint controllers leave its endpoints to us (the Endpoints carry
skip-mirror so no slice is mirrored from them).

The advertise address is the configured one, else the bind address when it is a specific
address, else the host's first non-loopback IPv4 address (127.0.0.1 when there is none or the
apiserver is bound to loopback).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.apiserver.objects import ObjectStore
from kybernetes.util.clock import Clock, RealClock

log = logging.getLogger(__name__)

NAME, NAMESPACE = "kubernetes", "default"
SERVICE_LABELS = {"component": "apiserver", "provider": "kubernetes"}


def default_advertise_address(bind_address: str) -> str:
    """The address other machines (and pods) reach this apiserver at."""
    try:
        bound = ipaddress.ip_address(bind_address) if bind_address else None
    except ValueError:
        bound = None
    if bound is not None and bound.is_loopback:
        return "127.0.0.1" if bound.version == 4 else str(bound)
    if bound is not None and not bound.is_unspecified:
        return str(bound)
    return host_address() or "127.0.0.1"


def host_address() -> str | None:
    """The host's first non-loopback IPv4 address, without sending a packet: a UDP socket
    'connected' to a public address reports the source address the routing table would use."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never contacted, only routed
            address = s.getsockname()[0]
    except OSError:
        address = None
    if address and not ipaddress.ip_address(address).is_loopback and address != "0.0.0.0":
        return address
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            candidate = str(info[4][0])
            if not ipaddress.ip_address(candidate).is_loopback:
                return candidate
    except OSError:
        pass
    return None


class KubernetesService:
    def __init__(self, objects: ObjectStore, *, cluster_ip: str, advertise_address: str, port: int = 0,
                 interval: float = 10.0, clock: Clock | None = None):
        self.objects = objects
        self.cluster_ip = cluster_ip
        self.advertise_address = advertise_address
        self.port = port  # 0 until the apiserver listens (a test server on a free port)
        self.interval = interval
        self.clock = clock or RealClock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.reconcile_logged()
        self._task = asyncio.create_task(self._keep(), name="kubernetes-service")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def set_port(self, port: int) -> None:
        """The port the apiserver really listens on (known only once it listens)."""
        if port and port != self.port:
            self.port = port
            await self.reconcile_logged()

    async def _keep(self) -> None:
        while True:
            await self.clock.sleep(self.interval)
            await self.reconcile_logged()

    async def reconcile_logged(self) -> None:
        try:
            await self.reconcile()
        except ApiError as e:
            log.warning("could not reconcile the kubernetes service: %s", e.message)
        except Exception as e:  # the store may be closing; next round tries again
            if not type(e).__module__.startswith("kybernetes."):
                raise
            log.warning("could not reconcile the kubernetes service: %s", e)

    async def reconcile(self) -> None:
        if not self.port:
            return
        await self._ensure("services", self._service(), self._service_differs)
        await self._ensure("endpoints", self._endpoints(), _differs("subsets", "metadata.labels"))
        await self._ensure("endpointslices", self._slice(), _differs("endpoints", "ports", "addressType"),
                           group="discovery.k8s.io")

    async def _ensure(self, resource: str, wanted: dict[str, Any], differs, group: str = "") -> None:
        info = self.objects.registry.get(group, "v1", resource)
        if info is None:
            return
        current = await self.objects.get_or_none(info, NAMESPACE, NAME)
        if current is None:
            try:
                await self.objects.create(info, NAMESPACE, wanted)
            except ApiError as e:
                if e.code != 409:  # another apiserver made it first
                    raise
            return
        if not differs(current, wanted):
            return

        def change(stored: dict[str, Any]) -> dict[str, Any]:
            for field_name, value in wanted.items():
                if field_name == "metadata":
                    stored["metadata"].setdefault("labels", {}).update(value.get("labels") or {})
                elif field_name == "spec":  # the cluster IP is immutable: keep the allocated one
                    stored["spec"].update({k: v for k, v in value.items() if k != "clusterIP"})
                elif field_name not in ("kind", "apiVersion"):
                    stored[field_name] = value
            return stored

        await self.objects.update(info, NAMESPACE, NAME, change)

    def _service(self) -> dict[str, Any]:
        return {
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(SERVICE_LABELS)},
            "spec": {"type": "ClusterIP", "clusterIP": self.cluster_ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": self.port}]},
        }

    @staticmethod
    def _service_differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
        spec = current.get("spec") or {}
        return spec.get("ports") != wanted["spec"]["ports"] or spec.get("type") != "ClusterIP" \
            or bool(spec.get("selector"))

    def _endpoints(self) -> dict[str, Any]:
        return {
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": self.advertise_address}],
                         "ports": [{"name": "https", "port": self.port, "protocol": "TCP"}]}],
        }

    def _slice(self) -> dict[str, Any]:
        family = "IPv6" if ipaddress.ip_address(self.advertise_address).version == 6 else "IPv4"
        return {
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"kubernetes.io/service-name": NAME}},
            "addressType": family,
            "endpoints": [{"addresses": [self.advertise_address], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": self.port, "protocol": "TCP"}],
        }


def _lookup(obj: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _differs(*paths: str):
    def check(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
        for path in paths:
            want = _lookup(wanted, path)
            have = _lookup(current, path)
            if path == "metadata.labels":
                if any((have or {}).get(k) != v for k, v in (want or {}).items()):
                    return True
            elif _strip(have) != _strip(want):
                return True
        return False

    return check


def _strip(value: Any) -> Any:
    """Compare what we set, not what defaulting added (conditions' serving/terminating, ...)."""
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in ("serving", "terminating", "appProtocol")}
    return value
