"""The kubelet's HTTPS server: the endpoints the apiserver calls on a node.

    GET  /containerLogs/{ns}/{pod}/{container}   ?follow tailLines sinceSeconds sinceTime timestamps
                                                  previous limitBytes  -> text/plain, streamed
    GET  /exec/{ns}/{pod}/{container}?command=..  WebSocket, v5.channel.k8s.io (remotecommand.py)
    GET  /attach/{ns}/{pod}/{container}           WebSocket, v5.channel.k8s.io
    GET  /portForward/{ns}/{pod}                  WebSocket, SPDY/3.1+portforward.k8s.io (portforward.py)
    GET  /stats/summary   /metrics/resource       usage for kubectl top (stats.py)
    GET  /healthz

Only the apiserver may call it: TLS with a client certificate the cluster CA signed, whose CN is
``kube-apiserver-kubelet-client`` or which is in group system:masters. A server fronting several
simulated nodes answers for all of them; /stats/* then take ``?node=NAME``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from aiohttp import web

from kybernetes.kubelet.logs import LogOptions, LogOptionsError, parse_time, read_logs
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.kubelet.server.portforward import handle_port_forward
from kybernetes.kubelet.server.remotecommand import bad_request, handle_remote_command
from kybernetes.kubelet.server.resolve import Node, PodResolver, TargetError
from kybernetes.kubelet.server.stats import StatsSampler, node_summary, resource_metrics

log = logging.getLogger(__name__)

APISERVER_CLIENT_CN = "kube-apiserver-kubelet-client"
MASTERS_GROUP = "system:masters"
DEFAULT_PORT = 10250

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def server_ssl_context(cert_file: Path | str, key_file: Path | str, client_ca_file: Path | str) -> ssl.SSLContext:
    """Serve ``cert_file`` and require a client certificate signed by ``client_ca_file``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    ctx.load_verify_locations(cafile=str(client_ca_file))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _subject(request: web.Request) -> tuple[str, list[str]] | None:
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    cert = ssl_object.getpeercert() if ssl_object is not None else None
    if not cert:
        return None
    cn, groups = "", []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                groups.append(value)
    return cn, groups


def _authorizer(require_client_cert: bool):
    @web.middleware
    async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
        if require_client_cert and request.path != "/healthz":
            subject = _subject(request)
            if subject is None:
                return web.Response(status=401, text="Unauthorized\n")
            cn, groups = subject
            if cn != APISERVER_CLIENT_CN and MASTERS_GROUP not in groups:
                return web.Response(status=403, text=f'Forbidden (user={cn}, verb=get, resource=nodes, '
                                                     f'subresource=proxy)\n')
        return await handler(request)

    return authorize


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise LogOptionsError(f"{name}: {raw!r} is not an integer") from None


def log_options(request: web.Request) -> LogOptions:
    q = request.query
    since_ns = None
    since_seconds = _int_param(request, "sinceSeconds")
    if since_seconds is not None:
        if since_seconds < 1:
            raise LogOptionsError("sinceSeconds must be greater than 0")
        since_ns = time.time_ns() - since_seconds * 1_000_000_000
    elif q.get("sinceTime"):
        try:
            since_ns = parse_time(q["sinceTime"])
        except ValueError as e:
            raise LogOptionsError(f"sinceTime: {e}") from None
    truthy = ("1", "true", "True")
    return LogOptions(follow=q.get("follow") in truthy, tail_lines=_int_param(request, "tailLines"),
                      since_ns=since_ns, timestamps=q.get("timestamps") in truthy,
                      limit_bytes=_int_param(request, "limitBytes"))


class KubeletServer:
    def __init__(self, nodes: Callable[[], Iterable[Node]], *, address: str = "0.0.0.0", port: int = DEFAULT_PORT,
                 ssl_context: ssl.SSLContext | None = None):
        self.resolver = PodResolver(nodes)
        self.nodes = nodes
        self.address = address
        self.port = port
        self.ssl_context = ssl_context
        self.sampler = StatsSampler()
        self.started = time.time()
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_authorizer(self.ssl_context is not None)])
        r = app.router
        r.add_get("/healthz", self.healthz)
        r.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        for verb, attach in (("exec", False), ("attach", True)):
            handler = self._remote_command(attach)
            r.add_route("GET", f"/{verb}/{{namespace}}/{{pod}}/{{container}}", handler)
            r.add_route("POST", f"/{verb}/{{namespace}}/{{pod}}/{{container}}", handler)
        for method in ("GET", "POST"):
            r.add_route(method, "/portForward/{namespace}/{pod}", self.port_forward)
        r.add_get("/stats/summary", self.stats_summary)
        r.add_get("/metrics/resource", self.metrics_resource)
        return app

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        return await handle_port_forward(request, self.resolver)

    def _remote_command(self, attach: bool) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await handle_remote_command(request, self.resolver, attach=attach)
        return handle

    # -- lifetime -------------------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen; the port (useful with port 0)."""
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.address, self.port, ssl_context=self.ssl_context, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("kubelet server listening on %s:%d", self.address, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def run(self) -> None:
        """Serve until cancelled."""
        if self._runner is None:
            await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # -- logs ---------------------------------------------------------------------------------------

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        ns, pod, name = (request.match_info[k] for k in ("namespace", "pod", "container"))
        try:
            options = log_options(request)
            found = await self.resolver.container(ns, pod, name, previous=request.query.get("previous") in
                                                  ("1", "true", "True"))
        except LogOptionsError as e:
            return bad_request(str(e))
        except TargetError as e:
            return bad_request(str(e), e.code)
        runtime, container_id = found.node.runtime, found.status.id

        async def running() -> bool:
            if request.transport is None or request.transport.is_closing():
                return False  # the apiserver hung up: stop following
            try:
                status = await runtime.container_status(container_id)
            except cri.NotFoundError:
                return False
            return status.state == cri.ContainerState.CONTAINER_RUNNING

        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        if found.status.log_path:
            try:
                async for chunk in read_logs(found.status.log_path, options, running=running):
                    await response.write(chunk)
            except (ConnectionResetError, asyncio.CancelledError):
                return response
        await response.write_eof()
        return response

    # -- stats --------------------------------------------------------------------------------------

    def _selected(self, request: web.Request) -> list[Node]:
        wanted = request.query.get("node")
        return [n for n in self.nodes() if not wanted or n.name == wanted]

    async def stats_summary(self, request: web.Request) -> web.StreamResponse:
        nodes = self._selected(request)
        if not nodes:
            return bad_request(f"node {request.query.get('node')!r} is not served here", 404)
        return web.json_response(await node_summary(nodes[0], self.sampler, self.started))

    async def metrics_resource(self, request: web.Request) -> web.StreamResponse:
        summaries = [await node_summary(n, self.sampler, self.started) for n in self._selected(request)]
        return web.Response(text=resource_metrics(summaries), content_type="text/plain",
                            headers={"X-Content-Type-Options": "nosniff"})
