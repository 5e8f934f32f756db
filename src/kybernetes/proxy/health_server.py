"""The service health server: one HTTP listener per ``spec.healthCheckNodePort`` (kube-proxy's).

A LoadBalancer Service with ``externalTrafficPolicy: Local`` only works on nodes that have a
ready endpoint of it: elsewhere its traffic is dropped (rules_service.py). An external load
balancer learns which nodes to use by probing each node at the service's healthCheckNodePort:

    GET http://<node>:<healthCheckNodePort>/<anything>
      200 {"service": {"namespace": ..., "name": ...}, "localEndpoints": N, "serviceProxyHealthy": true}
      503 the same body, when N is 0 or the proxy's last sync failed

``health_checks`` derives, from the proxier's service ports and EndpointSlices, which ports to serve
and how many ready endpoints of each service run on this node (pure). ``ServiceHealthServer.sync``
opens the listeners that are wanted and not open, closes the ones no longer wanted, and updates
the counts; the proxy calls it after every sync of the rules. A port that cannot be bound is
logged and tried again at the next sync, and never stops the others.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from kybernetes.proxy.model import ServicePort, endpoints_from_slices

log = logging.getLogger(__name__)
Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class HealthCheck:
    namespace: str
    name: str
    port: int
    local_endpoints: int = 0


def health_checks(ports: Mapping[str, list[ServicePort]], slices: Mapping[str, Mapping[str, Obj]],
                  node_name: str) -> dict[str, HealthCheck]:
    """service key -> its health check, for every service whose ports (model.service_ports) carry a
    healthCheckNodePort. local_endpoints counts the distinct addresses of this node's ready
    endpoints (any port). Cheap for services without one: the proxier calls it every sync."""
    out: dict[str, HealthCheck] = {}
    for key, service_ports in ports.items():
        # Every port of a service carries the service's healthCheckNodePort (model.service_ports).
        check_port = service_ports[0].health_check_node_port if service_ports else 0
        if not 0 < check_port < 65536:
            continue
        by_port = endpoints_from_slices(list((slices.get(key) or {}).values()), node_name)
        local = {e.ip for endpoints in by_port.values() for e in endpoints if e.is_local and e.ready}
        out[key] = HealthCheck(service_ports[0].namespace, service_ports[0].name, check_port, len(local))
    return out


def response_body(check: HealthCheck, healthy: bool) -> bytes:
    return orjson.dumps({"service": {"namespace": check.namespace, "name": check.name},
                         "localEndpoints": check.local_endpoints, "serviceProxyHealthy": healthy})


class _Listener:
    """One service's HTTP server on its port; its check is swapped in place on updates."""

    def __init__(self, check: HealthCheck, healthy: Callable[[], bool]):
        self.check = check
        self.healthy = healthy
        self.runner: web.ServerRunner | None = None

    async def handle(self, request: web.BaseRequest) -> web.Response:
        check, healthy = self.check, self.healthy()
        status = 200 if check.local_endpoints > 0 and healthy else 503
        return web.Response(status=status, body=response_body(check, healthy), content_type="application/json",
                            headers={"X-Content-Type-Options": "nosniff",
                                     "X-Load-Balancing-Endpoint-Weight": str(check.local_endpoints)})

    async def open(self, address: str) -> None:
        runner = web.ServerRunner(web.Server(self.handle), handle_signals=False, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, address or None, self.check.port, reuse_address=True).start()
        except BaseException:
            await runner.cleanup()
            raise
        self.runner = runner

    async def close(self) -> None:
        runner, self.runner = self.runner, None
        if runner is not None:
            await runner.cleanup()


class ServiceHealthServer:
    """The listeners of this node's health-checked services.

    ``address`` is where they listen ("" = every address of the node, as kube-proxy does);
    ``healthy`` says whether the proxy itself is healthy (its last sync of the rules worked)."""

    def __init__(self, address: str = "", healthy: Callable[[], bool] | None = None):
        self.address = address
        self.healthy = healthy or (lambda: True)
        self._listeners: dict[str, _Listener] = {}

    @property
    def ports(self) -> dict[str, int]:
        """service key -> port, of the listeners open now."""
        return {key: listener.check.port for key, listener in self._listeners.items()}

    async def sync(self, checks: Mapping[str, HealthCheck]) -> None:
        for key in list(self._listeners):
            wanted = checks.get(key)
            if wanted is None or wanted.port != self._listeners[key].check.port:
                await self._listeners.pop(key).close()
        for key, check in checks.items():
            listener = self._listeners.get(key)
            if listener is not None:
                listener.check = check
                continue
            listener = _Listener(check, self.healthy)
            try:
                await listener.open(self.address)
            except OSError as e:
                log.error("cannot serve the health check of service %s on port %d (retried at the next sync): %s",
                          key, check.port, e)
                continue
            self._listeners[key] = listener

    async def close(self) -> None:
        for key in list(self._listeners):
            with contextlib.suppress(Exception):
                await self._listeners.pop(key).close()
