"""Calling one admission webhook: the AdmissionReview out, its answer back.

    build_review(attrs, webhook, info) ─► {"apiVersion": "admission.k8s.io/v1",
                                          "kind": "AdmissionReview", "request": {...}}
    WebhookCaller.call(webhook, review) ─► POST https://<url>?timeout=10s (TLS verified against
                                          clientConfig.caBundle, or the system roots without one)
                                       ─► the response part, checked (uid, allowed)

Everything that goes wrong on the way (refused connection, timeout, TLS, an HTTP error, an
answer that is not a valid AdmissionReview for this request) raises WebhookCallError, worded as
upstream words it: ``failed calling webhook "x": failed to call webhook: Post "url": reason``.
The caller's failurePolicy decides whether that fails the request.

One aiohttp session serves every webhook (connections are pooled per host and TLS context);
SSL contexts are cached per caBundle. A service reference is resolved by the caller-supplied
``resolve_service`` to an endpoint address; the certificate must then be valid for
``<service>.<namespace>.svc``, as for the real server.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from kybernetes.api import meta
from kybernetes.api.registry import ResourceInfo
from kybernetes.apiserver.admission import CONNECT, CREATE, DELETE, UPDATE, Attributes
from kybernetes.apiserver.webhook_config import KNOWN_REVIEW_VERSIONS, Webhook

# Resolves (namespace, name, port) of a Service to (host, port), or raises WebhookCallError.
ServiceResolver = Callable[[str, str, int], Awaitable[tuple[str, int]]]

_OPTIONS_KIND = {CREATE: "CreateOptions", UPDATE: "UpdateOptions", DELETE: "DeleteOptions"}
# Upstream refuses webhook answers above this size.
MAX_RESPONSE_BYTES = 3 * 1024 * 1024


class WebhookCallError(Exception):
    """The webhook could not be asked, or its answer was unusable (failurePolicy applies)."""

    def __init__(self, webhook: str, reason: str):
        super().__init__(f'failed calling webhook "{webhook}": {reason}')
        self.webhook = webhook
        self.reason = reason


def review_version(hook: Webhook) -> str | None:
    for version in hook.review_versions:
        if version in KNOWN_REVIEW_VERSIONS:
            return version
    return None


def _gvk(info: ResourceInfo, kind: str = "") -> dict[str, str]:
    return {"group": info.group, "version": info.version, "kind": kind or info.kind}


def _gvr(info: ResourceInfo) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "resource": info.resource}


def build_review(attrs: Attributes, hook: Webhook, matched: ResourceInfo, version: str = "v1") -> dict[str, Any]:
    """The AdmissionReview sent to ``hook``; ``matched`` is the version its rules asked for."""
    info = attrs.info
    kind = attrs.effective_kind
    namespace = attrs.namespace or ""
    if info.group == "" and info.resource == "namespaces":
        namespace = attrs.name  # upstream reports a namespace's own name as its namespace
    request: dict[str, Any] = {
        "uid": meta.new_uid(),
        "kind": _gvk(matched, kind if matched is info else ""),
        "resource": _gvr(matched),
        "requestKind": _gvk(info, kind),
        "requestResource": _gvr(info),
        "name": attrs.name,
        "operation": attrs.operation,
        "userInfo": attrs.user.to_dict() if hasattr(attrs.user, "to_dict") else {"username": ""},
        "object": attrs.obj,
        "oldObject": attrs.old_obj,
        "dryRun": attrs.dry_run,
    }
    if attrs.subresource:
        request["subResource"] = attrs.subresource
        request["requestSubResource"] = attrs.subresource
    if namespace:
        request["namespace"] = namespace
    if attrs.operation != CONNECT:
        options = {"kind": _OPTIONS_KIND[attrs.operation], "apiVersion": "meta.k8s.io/v1"}
        if attrs.dry_run:
            options["dryRun"] = ["All"]
        options.update(attrs.options or {})
        request["options"] = options
    return {"apiVersion": f"admission.k8s.io/{version}", "kind": "AdmissionReview", "request": request}


def _ssl_context(ca_bundle: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_bundle:
        try:
            pem = base64.b64decode(ca_bundle, validate=True).decode("ascii")
            ctx.load_verify_locations(cadata=pem)
        except (binascii.Error, UnicodeDecodeError, ssl.SSLError, ValueError) as e:
            raise ValueError(f"unable to load root certificates: {e}") from None
    return ctx


def _explain(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "context deadline exceeded"
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return f"tls: failed to verify certificate: {error.certificate_error}"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"dial tcp {error.host}:{error.port}: connect: {error.os_error.strerror or error.os_error}"
    return str(error) or type(error).__name__


async def _read_limited(resp: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            break
    return b"".join(chunks)


class WebhookCaller:
    def __init__(self, resolve_service: ServiceResolver | None = None):
        self._resolve_service = resolve_service
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}

    def _context_for(self, ca_bundle: str) -> ssl.SSLContext:
        digest = hashlib.sha256(ca_bundle.encode()).hexdigest()
        ctx = self._contexts.get(digest)
        if ctx is None:
            ctx = self._contexts[digest] = _ssl_context(ca_bundle)
        return ctx

    async def _target(self, hook: Webhook) -> tuple[str, str | None]:
        """(URL to post to, TLS server name when it differs from the URL's host)."""
        if hook.url:
            return hook.url, None
        service = hook.service or {}
        namespace, name = str(service.get("namespace") or ""), str(service.get("name") or "")
        port = int(service.get("port") or 443)
        path = str(service.get("path") or "/")
        shown = f"https://{name}.{namespace}.svc:{port}{path}"
        if self._resolve_service is None:
            raise WebhookCallError(hook.name, f'failed to call webhook: Post "{shown}": '
                                              f'no endpoints available for service "{name}"')
        try:
            host, target_port = await self._resolve_service(namespace, name, port)
        except WebhookCallError as e:
            raise WebhookCallError(hook.name, e.reason) from None
        return f"https://{host}:{target_port}{path}", f"{name}.{namespace}.svc"

    async def call(self, hook: Webhook, review: dict[str, Any]) -> dict[str, Any]:
        """POST the review; returns the checked ``response`` of the answer."""
        url, server_name = await self._target(hook)
        url = f"{url}{'&' if urlsplit(url).query else '?'}timeout={hook.timeout_seconds}s"
        try:
            ctx = self._context_for(hook.ca_bundle)
        except ValueError as e:
            raise WebhookCallError(hook.name, f"failed to call webhook: {e}") from None
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        body = orjson.dumps(review)
        try:
            async with asyncio.timeout(hook.timeout_seconds):
                async with self._session.post(
                        url, data=body, ssl=ctx, server_hostname=server_name,
                        headers={"Content-Type": "application/json", "Accept": "application/json"},
                ) as resp:
                    raw = await _read_limited(resp)
                    status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError, ssl.SSLError) as e:
            raise WebhookCallError(hook.name, f'failed to call webhook: Post "{url}": {_explain(e)}') from None
        if status < 200 or status >= 300:
            raise WebhookCallError(hook.name, f"failed to call webhook: an error on the server "
                                              f"(\"{raw[:200].decode(errors='replace')}\") has prevented "
                                              f"the request from succeeding (HTTP {status})")
        if len(raw) > MAX_RESPONSE_BYTES:
            raise WebhookCallError(hook.name, "received invalid webhook response: response is too large")
        return self._checked(hook, review, raw)

    @staticmethod
    def _checked(hook: Webhook, review: dict[str, Any], raw: bytes) -> dict[str, Any]:
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise WebhookCallError(hook.name, f"received invalid webhook response: {e}") from None
        if not isinstance(answer, dict):
            raise WebhookCallError(hook.name, "received invalid webhook response: not an object")
        want_version = review["apiVersion"]
        if answer.get("apiVersion") != want_version or answer.get("kind") != "AdmissionReview":
            raise WebhookCallError(hook.name, "received invalid webhook response: expected webhook response of "
                                              f"{want_version}, Kind=AdmissionReview, got "
                                              f"{answer.get('apiVersion')}, Kind={answer.get('kind')}")
        response = answer.get("response")
        if not isinstance(response, dict):
            raise WebhookCallError(hook.name, "received invalid webhook response: webhook response was absent")
        uid = review["request"]["uid"]
        if response.get("uid") != uid:
            raise WebhookCallError(hook.name, f"received invalid webhook response: expected response.uid="
                                              f"{uid!r}, got {response.get('uid')!r}".replace("'", '"'))
        if not isinstance(response.get("allowed"), bool):
            raise WebhookCallError(hook.name, "received invalid webhook response: response.allowed is required")
        return response

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    stop = close  # the admission chain stops its services with the server
