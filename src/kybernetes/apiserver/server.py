"""The apiserver process: configuration, the aiohttp application, and the serve loop.

    request ─► bind_metrics ─► observe (metrics) ─► Status errors ─► authn (401)
            ─► impersonation (Impersonate-* headers: 400/403, else act as that user) ─► authz (403)
            ─► /version /api /apis... (discovery) | /healthz... | /metrics
            ─► /api/{tail} and /apis/{tail}: the generic REST handlers (handlers.py)

build_app wires the pieces over an opened store; run_apiserver opens the store, serves HTTPS
(the serving certificate; client certificates requested, verified against the cluster CA, but
optional so bearer tokens work too) until told to stop, then closes watches and the store.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kybernetes.api.errors import ApiError
from kybernetes.api.registry import Registry
from kybernetes.apiserver import deletion
from kybernetes.apiserver.admission_chain import build_admission_chain
from kybernetes.apiserver.admission_context import admission_request_middleware
from kybernetes.apiserver.authn import (
    AnonymousAdmin,
    Authenticator,
    AuthenticatorChain,
    authentication_middleware,
    build_authenticator,
    request_user,
)
from kybernetes.apiserver.authz import Attributes, Authorizer, AuthorizerChain, SystemMasters, ensure_allowed
from kybernetes.apiserver.crd_controller import setup_crds
from kybernetes.apiserver.discovery import setup_discovery
from kybernetes.apiserver.handlers import ResourceHandlers, request_info_of
from kybernetes.apiserver.health import health_checks, setup_health
from kybernetes.apiserver.impersonation import impersonation_middleware
from kybernetes.apiserver.metrics import observe_request, setup_metrics
from kybernetes.apiserver.metrics_api import setup_metrics_api
from kybernetes.apiserver.objects import ObjectStore
from kybernetes.apiserver.openapi import setup_openapi
from kybernetes.apiserver.rbac_setup import RbacRuntime, rbac_write_middleware, setup_rbac
from kybernetes.apiserver.responses import status_errors_middleware
from kybernetes.apiserver.sa_authenticator import ServiceAccountTokenAuthenticator
from kybernetes.apiserver.sa_issuer import load_authority
from kybernetes.apiserver.sa_token_review import AUTHENTICATOR_KEY, TOKEN_REVIEW_PATH, handle_token_review
from kybernetes.apiserver.service_alloc_setup import serving_on, setup_service_allocation
from kybernetes.apiserver.serviceaccount_tokens import TOKEN_AUTHORITY_KEY
from kybernetes.apiserver.streaming import CONNECTOR_KEY, KubeletConnector, build_connector
from kybernetes.apiserver.warnings import setup_warnings
from kybernetes.apiserver.watch import WATCH_HUB_KEY, WatchHub
from kybernetes.apiserver.watch_cache import WATCH_CACHE_KEY, WatchCache
from kybernetes.store import Store

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

OBJECTS_KEY = web.AppKey("objects", ObjectStore)
HANDLERS_KEY = web.AppKey("resource_handlers", ResourceHandlers)


@dataclass
class ApiServerConfig:
    data_dir: Path
    bind_address: str = "0.0.0.0"
    port: int = 6443
    store_url: str = ""  # "" means sqlite:///<data_dir>/state.db
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    client_ca_file: Path | None = None
    token_auth_file: Path | None = None
    # Every request is system:masters; only for tests over plain HTTP.
    anonymous_admin: bool = False
    # Service-account tokens (sa_issuer.py): the signing key (default <data_dir>/pki/sa.key when it
    # exists, else a key of this process only), the issuer (iss) and the audiences this server
    # accepts (default [issuer]).
    service_account_key_file: Path | None = None
    service_account_issuer: str = ""
    api_audiences: tuple[str, ...] = ()
    # Empty a Terminating namespace inside the apiserver (deletion.py). Kubernetes leaves it to the
    # namespace controller; turn this off when a controller-manager runs it (kyb up / kyb server).
    inline_namespace_cleanup: bool = True
    # Reaching kubelets for logs/exec/attach/port-forward/top (streaming.py): the client certificate
    # (default: issued at start by the cluster CA, CN kube-apiserver-kubelet-client) and the CA that
    # kubelets' serving certificates must chain to (default: client_ca_file).
    kubelet_client_certificate: Path | None = None
    kubelet_client_key: Path | None = None
    kubelet_certificate_authority: Path | None = None

    # Services (service_alloc*.py): the CIDR cluster IPs come from (two, comma-separated, for dual
    # stack; the first is primary), the node-port range, and the address the `kubernetes` Service's
    # endpoints name ("": the bind address when specific, else the host's first non-loopback one).
    service_cluster_ip_range: str = "10.43.0.0/16"
    service_node_port_range: str = "30000-32767"
    advertise_address: str = ""

    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{Path(self.data_dir).resolve() / 'state.db'}"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    start = time.perf_counter()
    code = 500
    try:
        response = await handler(request)
        code = response.status
        return response
    finally:
        ri = request_info_of(request)
        observe_request(ri.verb.upper() if ri.is_resource_request else request.method, ri.group, ri.resource,
                        ri.subresource, code, time.perf_counter() - start, version=ri.version)


def authorization_middleware(authorizer: Authorizer):
    @web.middleware
    async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
        user = request_user(request)
        if user is not None:
            ri = request_info_of(request)
            if ri.is_resource_request:
                attrs = Attributes(user=user, verb=ri.verb, group=ri.group, version=ri.version,
                                   resource=ri.resource, subresource=ri.subresource,
                                   namespace=ri.namespace or "", name=ri.name, path=request.path)
            else:
                attrs = Attributes(user=user, verb=request.method.lower(), path=request.path)
            ensure_allowed(authorizer, attrs)
        return await handler(request)

    return authorize


async def ensure_system_namespaces(objects: ObjectStore) -> None:
    info = objects.registry.get("", "v1", "namespaces")
    if info is None:
        return
    for name in SYSTEM_NAMESPACES:
        if await objects.get_or_none(info, None, name) is not None:
            continue
        try:
            await objects.create(info, None, {"metadata": {"name": name}})
        except ApiError as e:
            if e.code != 409:  # another apiserver on the same store made it first
                raise


def build_app(config: ApiServerConfig, store: Store, registry: Registry,
              authenticator: Authenticator | None = None, authorizer: Authorizer | None = None,
              ) -> web.Application:
    objects = ObjectStore(store, registry)
    token_authority = load_authority(key_file=config.service_account_key_file, data_dir=config.data_dir,
                                     issuer=config.service_account_issuer, audiences=config.api_audiences)
    if authenticator is None:
        base = build_authenticator(client_ca_file=config.client_ca_file,
                                   token_auth_file=config.token_auth_file,
                                   anonymous_admin=config.anonymous_admin)
        sa_tokens = ServiceAccountTokenAuthenticator(token_authority, objects)
        # A service-account token is honoured even on an anonymous-admin test server.
        members = [sa_tokens, base] if isinstance(base, AnonymousAdmin) else [base, sa_tokens]
        authenticator = AuthenticatorChain(members)
    rbac = RbacRuntime(store, registry)  # the default policy is kept even with another authorizer
    if authorizer is None:
        authorizer = AuthorizerChain([SystemMasters(), rbac.authorizer])
    app = web.Application(
        middlewares=[observe_middleware, status_errors_middleware,
                     authentication_middleware(authenticator), impersonation_middleware(authorizer),
                     authorization_middleware(authorizer),
                     rbac_write_middleware(rbac, request_info_of),
                     admission_request_middleware],
        client_max_size=4 * 1024 * 1024,
    )

    objects.admission = build_admission_chain(objects)
    objects.on_removed = lambda info, namespace: deletion.on_removed(objects, info, namespace)
    objects.inline_namespace_cleanup = config.inline_namespace_cleanup
    hub = WatchHub(store, registry)
    handlers = ResourceHandlers(objects, registry, hub)
    watch_cache = WatchCache(store, hub)
    handlers.watch_cache = watch_cache
    objects.watch_cache = watch_cache
    app[WATCH_CACHE_KEY] = watch_cache
    handlers.authorizer = authorizer
    app[OBJECTS_KEY] = objects
    app[HANDLERS_KEY] = handlers
    app[WATCH_HUB_KEY] = hub
    app[TOKEN_AUTHORITY_KEY] = token_authority
    app[AUTHENTICATOR_KEY] = authenticator
    app[CONNECTOR_KEY] = _kubelet_connector(config)

    setup_metrics_api(app, objects, registry)  # registers metrics.k8s.io before discovery renders
    setup_discovery(app, registry)
    setup_health(app)
    setup_metrics(app)
    openapi = setup_openapi(app, registry)
    setup_crds(app, objects, registry, hub, openapi)  # before ready: stored CRDs are served first
    setup_warnings(app)

    async def token_review(request: web.Request) -> web.StreamResponse:
        return await handle_token_review(request, token_authority.audiences)

    app.router.add_post(TOKEN_REVIEW_PATH, token_review)
    for prefix in ("/api/{tail:.*}", "/apis/{tail:.*}"):
        app.router.add_route("*", prefix, handlers.handle)

    async def on_startup(app: web.Application) -> None:
        await hub.start()
        await watch_cache.start(registry)
        await objects.admission.start()
        await ensure_system_namespaces(objects)
        health_checks(app).set_ready()

    async def on_shutdown(app: web.Application) -> None:
        health_checks(app).mark_shutting_down()
        await watch_cache.stop()
        await hub.stop()
        await objects.admission.stop()
        await app[CONNECTOR_KEY].close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    setup_service_allocation(app, config, objects, store, registry)  # starts after the namespaces exist
    setup_rbac(app, rbac, objects, hub)
    return app


def _kubelet_connector(config: ApiServerConfig) -> KubeletConnector:
    ca = config.kubelet_certificate_authority or config.client_ca_file
    ca_key = Path(config.client_ca_file).with_name("ca.key") if config.client_ca_file else None
    if ca_key is None or not ca_key.exists():
        ca_key = Path(config.data_dir) / "pki" / "ca.key"
    try:
        return build_connector(ca_file=Path(ca) if ca else None, cert_file=config.kubelet_client_certificate,
                               key_file=config.kubelet_client_key, ca_key_file=ca_key)
    except (OSError, ValueError) as e:
        log.warning("cannot reach kubelets (logs, exec, port-forward will fail): %s", e)
        return KubeletConnector(None, f"the apiserver cannot reach kubelets: {e}")


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency, but stay usable without it
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _ssl_context(config: ApiServerConfig):
    if config.tls_cert_file is None or config.tls_key_file is None:
        return None
    from kybernetes.apiserver.pki import serving_ssl_context

    return serving_ssl_context(Path(config.tls_cert_file), Path(config.tls_key_file),
                               Path(config.client_ca_file) if config.client_ca_file else None)


async def run_apiserver(config: ApiServerConfig, *, stop: asyncio.Event | None = None,
                        on_ready: Callable[[str], Any] | None = None,
                        registry: Registry | None = None) -> None:
    """Serve until ``stop`` is set or SIGTERM/SIGINT arrives; ``on_ready(url)`` once listening."""
    from kybernetes.api.builtin_kinds import builtin_registry
    from kybernetes.store import open_store

    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    ssl_context = _ssl_context(config)
    store = await open_store(config.resolved_store_url())
    runner: web.AppRunner | None = None
    try:
        app = build_app(config, store, registry or builtin_registry())
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, config.bind_address, config.port, ssl_context=ssl_context,
                           reuse_address=True)
        await site.start()
        port = config.port
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            port = server.sockets[0].getsockname()[1]
        await serving_on(app, port)
        scheme = "https" if ssl_context is not None else "http"
        host = "127.0.0.1" if config.bind_address in ("0.0.0.0", "::", "") else config.bind_address
        url = f"{scheme}://{host}:{port}"
        if ssl_context is None:
            log.warning("serving plain HTTP on %s: no TLS certificate configured", url)
        log.info("apiserver listening on %s", url)
        if on_ready is not None:
            result = on_ready(url)
            if asyncio.iscoroutine(result):
                await result
        await stop.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        await store.close()
        for sig in handled:
            loop.remove_signal_handler(sig)


def main_run(config: ApiServerConfig) -> None:
    """Run the apiserver in this process (uvloop when available) until SIGTERM/SIGINT."""
    _install_uvloop()
    asyncio.run(run_apiserver(config))
