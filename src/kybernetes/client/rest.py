"""ApiClient: the one way components talk to an apiserver (client-go's rest + dynamic client).

    async with ApiClient.from_kubeconfig() as client:
        pod = await client.get(PODS, "web-0", "default")
        await client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 3}}, "default")
        async with client.watch(PODS, resource_version=rv) as events:
            async for event_type, obj in events: ...

Objects are plain dicts (they round-trip fields we do not know). Every request passes the
client-side token bucket (default 50 QPS, burst 100, like the controllers' clients; ``qps=0``
turns it off). Failures come back as ApiError from the server's Status. Requests are retried,
after a backoff on the Clock, when that is safe: a 429 or a refused connection for any verb
(the server did not act on it; Retry-After is honoured), a 5xx or a dropped connection only for
the verbs that may be repeated (GET, HEAD, PUT).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from kybernetes.api.errors import ApiError
from kybernetes.client.errors import ApiConnectionError, connection_error, error_from_response
from kybernetes.client.kubeconfig import ClusterAccess, load_kubeconfig
from kybernetes.client.ratelimit import TokenBucket
from kybernetes.client.resource import Resource
from kybernetes.client.watch import WatchStream
from kybernetes.util.backoff import Backoff
from kybernetes.util.clock import REAL_CLOCK, Clock

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT"})
RETRY_CODES = frozenset({500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0

Params = dict[str, Any] | None


def _query(params: Params) -> list[tuple[str, str]]:
    """aiohttp wants strings: booleans as Kubernetes writes them, lists as repeated keys."""
    out: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is None:
                continue
            out.append((key, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return out


class ApiClient:
    def __init__(self, url: str, *, token: str | None = None, ssl_context: ssl.SSLContext | None = None,
                 tls_server_name: str | None = None, namespace: str = "default", qps: float = 50,
                 burst: int = 100, clock: Clock | None = None, max_retries: int = 5,
                 request_timeout: float = 60.0, user_agent: str = "kybernetes",
                 retry_backoff: Backoff | None = None):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"apiserver URL must start with http:// or https:// (got {url!r})")
        self.url = url.rstrip("/")
        self.namespace = namespace
        self.clock = clock or REAL_CLOCK
        self.rate_limiter = TokenBucket(qps, burst if qps else 0, self.clock)
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self._retry_backoff = retry_backoff or Backoff(initial=0.1, maximum=5.0, jitter=0.2)
        self._token = token
        self._ssl = ssl_context
        self._server_hostname = tls_server_name
        self._headers = {"Accept": "application/json", "User-Agent": user_agent}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None

    # -- construction and lifetime -------------------------------------------------------------

    @classmethod
    def from_access(cls, access: ClusterAccess, **kwargs: Any) -> ApiClient:
        kwargs.setdefault("namespace", access.namespace)
        return cls(access.server, token=access.token, ssl_context=access.ssl_context(),
                   tls_server_name=access.tls_server_name, **kwargs)

    @classmethod
    def from_kubeconfig(cls, path: Path | str | None = None, context: str | None = None,
                        **kwargs: Any) -> ApiClient:
        return cls.from_access(load_kubeconfig(Path(path) if path else None, context), **kwargs)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True, limit=0)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the transport ---------------------------------------------------------------------------

    async def _send(self, method: str, path: str, params: Params, data: bytes | None,
                    content_type: str | None, *, stream: bool, accept: str = "") -> aiohttp.ClientResponse:
        """One response with a 2xx status, after retries; the caller releases it."""
        headers = {"Content-Type": content_type} if content_type and data is not None else {}
        if accept:
            headers["Accept"] = accept
        timeout = (aiohttp.ClientTimeout(total=None, sock_connect=self.request_timeout) if stream
                   else aiohttp.ClientTimeout(total=self.request_timeout))
        backoff = Backoff(self._retry_backoff.initial, self._retry_backoff.maximum,
                          self._retry_backoff.factor, self._retry_backoff.jitter)
        attempt = 0
        while True:
            attempt += 1
            await self.rate_limiter.acquire()
            retry_after: float | None = None
            try:
                response = await self.session.request(
                    method, self.url + path, params=_query(params), data=data, headers=headers,
                    timeout=timeout, server_hostname=self._server_hostname)
            except aiohttp.ClientConnectorError as e:  # nothing was sent: safe to retry any verb
                error: Exception = connection_error(self.url, str(e) or type(e).__name__)
                retryable = True
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                error = connection_error(self.url, str(e) or type(e).__name__)
                retryable = method in IDEMPOTENT_METHODS
            else:
                if response.status < 300:
                    return response
                try:
                    body = await response.read()
                except (aiohttp.ClientError, TimeoutError, OSError):
                    body = b""
                finally:
                    response.release()
                error = error_from_response(response.status, body, _loads_or_none(body))
                retry_after = _retry_after(response.headers.get("Retry-After"))
                retryable = response.status == 429 or (
                    response.status in RETRY_CODES and method in IDEMPOTENT_METHODS)
            if not retryable or attempt > self.max_retries:
                raise error
            await self.clock.sleep(retry_after if retry_after is not None else backoff.next_delay())

    async def request(self, method: str, path: str, *, params: Params = None, body: Any = None,
                      content_type: str = "application/json", raw: bool = False, accept: str = "") -> Any:
        """Send one request; the decoded JSON body (``raw=True``: the bytes). ``accept``: an
        Accept header (a JSON flavour, e.g. aggregated discovery's)."""
        data = body if isinstance(body, bytes) or body is None else orjson.dumps(body)
        response = await self._send(method.upper(), path, params, data, content_type, stream=False, accept=accept)
        try:
            payload = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise connection_error(self.url, f"reading the response: {e or type(e).__name__}") from None
        finally:
            response.release()
        if raw:
            return payload
        if not payload:
            return None
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise ApiConnectionError(500, "InternalError",
                                     f"{method} {path}: the server sent a body that is not JSON") from None

    # -- verbs ----------------------------------------------------------------------------------

    def _ns(self, resource: Resource, namespace: str | None, obj: dict[str, Any] | None = None) -> str | None:
        if not resource.namespaced:
            return None
        meta_ns = ((obj or {}).get("metadata") or {}).get("namespace") if isinstance(obj, dict) else None
        return namespace or meta_ns or self.namespace

    async def get(self, resource: Resource, name: str, namespace: str | None = None, *,
                  subresource: str | None = None, params: Params = None) -> dict[str, Any]:
        return await self.request("GET", resource.path(self._ns(resource, namespace), name, subresource),
                                  params=params)

    async def get_or_none(self, resource: Resource, name: str, namespace: str | None = None,
                          **kwargs: Any) -> dict[str, Any] | None:
        try:
            return await self.get(resource, name, namespace, **kwargs)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    async def list(self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None, limit: int | None = None, continue_token: str | None = None,
                   resource_version: str | None = None, resource_version_match: str | None = None,
                   params: Params = None) -> dict[str, Any]:
        """One page of a list (``namespace=None``: all namespaces)."""
        query = {"labelSelector": label_selector, "fieldSelector": field_selector, "limit": limit,
                 "continue": continue_token, "resourceVersion": resource_version,
                 "resourceVersionMatch": resource_version_match, **(params or {})}
        return await self.request("GET", resource.path(namespace if resource.namespaced else None), params=query)

    async def list_all(self, resource: Resource, namespace: str | None = None, *, page_size: int = 500,
                       **kwargs: Any) -> dict[str, Any]:
        """Every page of a consistent list, as one List whose resourceVersion is the snapshot's."""
        first = await self.list(resource, namespace, limit=page_size, **kwargs)
        items = list(first.get("items") or [])
        token = (first.get("metadata") or {}).get("continue")
        kwargs.pop("resource_version", None)  # the continue token carries the snapshot
        kwargs.pop("resource_version_match", None)
        while token:
            page = await self.list(resource, namespace, limit=page_size, continue_token=token, **kwargs)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
        first["items"] = items
        first.setdefault("metadata", {}).pop("continue", None)
        first["metadata"].pop("remainingItemCount", None)
        return first

    async def create(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, *,
                     name: str | None = None, subresource: str | None = None, dry_run: bool = False,
                     field_manager: str | None = None, params: Params = None) -> dict[str, Any]:
        """POST ``obj``; with ``subresource`` (binding, eviction, token) ``name`` names the parent."""
        if not isinstance(obj, dict):
            raise TypeError(f"create needs an object (dict), not {type(obj).__name__}")
        path = resource.path(self._ns(resource, namespace, obj), name if subresource else None, subresource)
        query = {"dryRun": "All" if dry_run else None, "fieldManager": field_manager, **(params or {})}
        return await self.request("POST", path, params=query, body=obj)

    async def update(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, *,
                     subresource: str | None = None, dry_run: bool = False, field_manager: str | None = None,
                     params: Params = None) -> dict[str, Any]:
        """PUT ``obj`` (its metadata.resourceVersion makes it a compare-and-swap)."""
        name = ((obj.get("metadata") or {}).get("name") if isinstance(obj, dict) else None)
        if not name:
            raise ValueError("update needs an object with metadata.name")
        path = resource.path(self._ns(resource, namespace, obj), name, subresource)
        query = {"dryRun": "All" if dry_run else None, "fieldManager": field_manager, **(params or {})}
        return await self.request("PUT", path, params=query, body=obj)

    async def update_status(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None,
                            **kwargs: Any) -> dict[str, Any]:
        return await self.update(resource, obj, namespace, subresource="status", **kwargs)

    async def patch(self, resource: Resource, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None, dry_run: bool = False,
                    field_manager: str | None = None, force: bool | None = None,
                    params: Params = None) -> dict[str, Any]:
        """PATCH with ``patch_type`` merge | json | strategic | apply (server-side apply)."""
        content_type = PATCH_TYPES.get(patch_type)
        if content_type is None:
            raise ValueError(f"unknown patch type {patch_type!r}; use one of {', '.join(PATCH_TYPES)}")
        if patch_type == "apply" and not field_manager:
            raise ValueError("server-side apply needs a field_manager")
        path = resource.path(self._ns(resource, namespace), name, subresource)
        query = {"dryRun": "All" if dry_run else None, "fieldManager": field_manager, "force": force,
                 **(params or {})}
        return await self.request("PATCH", path, params=query, body=patch, content_type=content_type)

    async def delete(self, resource: Resource, name: str, namespace: str | None = None, *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: dict[str, str] | None = None, dry_run: bool = False) -> dict[str, Any]:
        """DELETE; the answer is the object (finalizers pending / graceful) or a Status."""
        options = _delete_options(propagation_policy, grace_period_seconds, preconditions, dry_run)
        return await self.request("DELETE", resource.path(self._ns(resource, namespace), name), body=options)

    async def delete_collection(self, resource: Resource, namespace: str | None = None, *,
                                label_selector: str | None = None, field_selector: str | None = None,
                                propagation_policy: str | None = None) -> dict[str, Any]:
        options = _delete_options(propagation_policy, None, None, False)
        return await self.request("DELETE", resource.path(self._ns(resource, namespace)), body=options,
                                  params={"labelSelector": label_selector, "fieldSelector": field_selector})

    def watch(self, resource: Resource, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              allow_bookmarks: bool = True, timeout_seconds: int | None = None,
              send_initial_events: bool | None = None, params: Params = None) -> WatchStream:
        """A watch from ``resource_version`` (None: from now), opened on first use."""
        path = resource.path(namespace if resource.namespaced else None)
        query = {"watch": True, "resourceVersion": resource_version, "labelSelector": label_selector,
                 "fieldSelector": field_selector, "allowWatchBookmarks": allow_bookmarks or None,
                 "timeoutSeconds": timeout_seconds, "sendInitialEvents": send_initial_events,
                 **(params or {})}
        if send_initial_events:
            query["resourceVersionMatch"] = "NotOlderThan"

        async def open_response() -> aiohttp.ClientResponse:
            return await self._send("GET", path, query, None, None, stream=True)

        return WatchStream(open_response, str(resource))


def _delete_options(propagation_policy: str | None, grace_period_seconds: int | None,
                    preconditions: dict[str, str] | None, dry_run: bool) -> dict[str, Any] | None:
    options: dict[str, Any] = {}
    if propagation_policy:
        options["propagationPolicy"] = propagation_policy
    if grace_period_seconds is not None:
        options["gracePeriodSeconds"] = grace_period_seconds
    if preconditions:
        options["preconditions"] = preconditions
    if dry_run:
        options["dryRun"] = ["All"]
    if not options:
        return None
    return {"kind": "DeleteOptions", "apiVersion": "v1", **options}


def _loads_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:  # an HTTP date: not worth parsing; fall back to our backoff
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
