"""Pulling an image from an OCI / Docker registry (the distribution HTTP API v2) into the store.

    resolve   GET /v2/<repo>/manifests/<tag|digest>   (Accept: index, list, OCI and Docker manifests)
              an index or manifest list -> the entry for this node's platform -> GET it by digest
    config    GET /v2/<repo>/blobs/<config digest>    -> diffIDs, and the runtime's ImageConfig
    layers    GET /v2/<repo>/blobs/<layer digest>     each one not unpacked yet: to ingest/, digest
                                                      checked, then unpacked (diffID checked)
    record    the image, its tag and its repo digest (the digest the reference resolved to first:
              the index's, as containerd reports it)

Every endpoint of the registry (its mirrors from registries.yaml, then itself) is tried in turn
until one resolves the reference; blobs come from that same endpoint. Auth follows the registry's
401 challenge: ``Basic`` with the credentials, or ``Bearer realm=,service=,scope=`` -> a token
from the realm (with the credentials, an identity token, or anonymously, as Docker Hub allows).
Credentials come from registries.yaml's configs for the endpoint's host, else from the pod's
imagePullSecrets (the AuthConfig passed in).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import urllib.parse
from dataclasses import dataclass, replace

import aiohttp
import orjson

from kybernetes.kubelet.images.credentials import basic_header, parse_challenge
from kybernetes.kubelet.images.errors import DigestMismatchError, ImageStoreError
from kybernetes.kubelet.images.manifest import (
    ACCEPT,
    INDEX_TYPES,
    MAX_MANIFEST_BYTES,
    Platform,
    diff_ids_of,
    manifest_parts,
    media_type_of,
    parse_json,
    select_platform,
)
from kybernetes.kubelet.images.reference import ImageReference
from kybernetes.kubelet.images.registries import Endpoint, RegistriesConfig, is_loopback
from kybernetes.kubelet.images.store import ImageRecord, ImageStore, sha256_digest
from kybernetes.kubelet.runtime.protocol import AuthConfig, ImagePullError

_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=15, sock_connect=15, sock_read=120)
_PARALLEL_LAYERS = 3


class _AttemptError(Exception):
    """This endpoint could not resolve the reference; the next one may."""


@dataclass(frozen=True)
class PullResult:
    record: ImageRecord
    repo_digest: str  # registry/repo@sha256:... (the status' imageID)


class _Repository:
    """One repository at one endpoint, with that endpoint's auth state."""

    def __init__(self, http: aiohttp.ClientSession, endpoint: Endpoint, repository: str,
                 auth: AuthConfig | None, ssl) -> None:
        self.http, self.endpoint, self.repository, self.auth = http, endpoint, repository, auth
        self.ssl = ssl if ssl is not None else True  # True: aiohttp's default verification
        self.authorization = ""

    def url(self, kind: str, reference: str) -> str:
        return f"{self.endpoint.api}/{self.repository}/{kind}/{reference}"

    async def get(self, url: str, headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
        for attempt in (0, 1):
            sent = dict(headers or {})
            if self.authorization:
                sent["Authorization"] = self.authorization
            response = await self.http.get(url, headers=sent, ssl=self.ssl)
            challenge = response.headers.get("WWW-Authenticate", "")
            if response.status == 401 and attempt == 0 and challenge:
                response.release()
                await self._login(challenge)
                continue
            return response
        raise AssertionError("unreachable")

    async def _login(self, challenge: str) -> None:
        scheme, params = parse_challenge(challenge)
        auth = self.auth or AuthConfig()
        if scheme == "basic":
            if not (auth.username or auth.password or auth.auth):
                raise _AttemptError("the registry wants basic credentials and none are configured")
            self.authorization = basic_header(auth)
            return
        if scheme != "bearer":
            raise _AttemptError(f"unsupported auth scheme {scheme!r}")
        if auth.registry_token:
            self.authorization = f"Bearer {auth.registry_token}"
            return
        realm = params.get("realm", "")
        split = urllib.parse.urlsplit(realm)
        if split.scheme not in ("http", "https") or (split.scheme == "http" and not is_loopback(split.netloc)):
            raise _AttemptError(f"refusing token realm {realm!r} (HTTPS, or HTTP on loopback only)")
        query = {"service": params.get("service", "")}
        scope = params.get("scope") or f"repository:{self.repository}:pull"
        if auth.identity_token:
            form = {**query, "scope": scope, "grant_type": "refresh_token", "refresh_token": auth.identity_token,
                    "client_id": "kybernetes"}
            response = await self.http.post(realm, data=form, ssl=self.ssl)
        else:
            headers = {"Authorization": basic_header(auth)} if (auth.username or auth.auth) else {}
            response = await self.http.get(realm, params={**query, "scope": scope}, headers=headers, ssl=self.ssl)
        async with response:
            if response.status != 200:
                raise _AttemptError(f"token request to {realm} answered {response.status}"
                                    + (" (unauthorized: check the credentials)" if response.status == 401 else ""))
            try:
                body = orjson.loads(await response.read())
                token = body.get("token") or body.get("access_token")
            except (ValueError, AttributeError):
                token = None
            if not isinstance(token, str) or not token:
                raise _AttemptError(f"token request to {realm} gave no token")
        self.authorization = f"Bearer {token}"

    async def manifest(self, reference: str) -> tuple[dict, bytes, str]:
        """(document, bytes, digest) of a manifest or index, digest-checked."""
        response = await self.get(self.url("manifests", reference), {"Accept": ACCEPT})
        async with response:
            if response.status != 200:
                raise _AttemptError(_status_text(response.status, await response.read(), f"manifest {reference}"))
            body = await response.content.read(MAX_MANIFEST_BYTES + 1)
            if len(body) > MAX_MANIFEST_BYTES:
                raise ImagePullError(f"manifest {reference} is larger than {MAX_MANIFEST_BYTES} bytes")
            content_type = response.headers.get("Content-Type", "")
            claimed = response.headers.get("Docker-Content-Digest", "")
        digest = sha256_digest(body)
        expected = reference if reference.startswith("sha256:") else claimed if claimed.startswith("sha256:") else ""
        if expected and digest != expected:
            raise DigestMismatchError(f"manifest {reference} has digest {digest}, expected {expected}")
        doc = parse_json(body, f"manifest {reference}")
        doc.setdefault("mediaType", media_type_of(doc, content_type))
        return doc, body, digest

    async def blob(self, digest: str) -> bytes:
        response = await self.get(self.url("blobs", digest))
        async with response:
            if response.status != 200:
                raise ImagePullError(_status_text(response.status, await response.read(), f"blob {digest}"))
            data = await response.read()
        if sha256_digest(data) != digest:
            raise DigestMismatchError(f"blob has digest {sha256_digest(data)}, expected {digest}")
        return data

    async def blob_to_file(self, digest: str, size: int, path: str) -> None:
        response = await self.get(self.url("blobs", digest))
        async with response:
            if response.status != 200:
                raise ImagePullError(_status_text(response.status, await response.read(), f"layer {digest}"))
            sha, written = hashlib.sha256(), 0
            with open(path, "wb") as out:
                async for chunk in response.content.iter_chunked(1 << 20):
                    sha.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
        if "sha256:" + sha.hexdigest() != digest:
            raise DigestMismatchError(f"layer blob has digest sha256:{sha.hexdigest()}, expected {digest}")
        if size >= 0 and written != size:
            raise DigestMismatchError(f"layer blob {digest} is {written} bytes, the manifest says {size}")


def _status_text(status: int, body: bytes, what: str) -> str:
    if status == 404:
        return f"{what}: not found"
    if status in (401, 403):
        return f"{what}: {'unauthorized' if status == 401 else 'denied'} ({status})"
    text = body[:200].decode("utf-8", "replace").strip()
    return f"{what}: unexpected status {status}" + (f": {text}" if text else "")


@dataclass(frozen=True)
class _Resolved:
    top_digest: str  # what the reference named: an index's digest, or the manifest's
    top_body: bytes
    manifest: dict  # the image manifest for this platform
    manifest_body: bytes
    manifest_digest: str


async def _resolve(repo: _Repository, ref: ImageReference, platform: Platform) -> _Resolved:
    top, top_body, top_digest = await repo.manifest(ref.digest or ref.tag)
    if top["mediaType"] not in INDEX_TYPES:
        return _Resolved(top_digest, top_body, top, top_body, top_digest)
    entry = select_platform(top, platform, f"manifest list of {ref}")
    manifest, body, digest = await repo.manifest(entry.digest)
    if manifest["mediaType"] in INDEX_TYPES:
        raise ImagePullError(f"{ref}: an index inside an index is not supported")
    return _Resolved(top_digest, top_body, manifest, body, digest)


async def pull_image(store: ImageStore, ref: ImageReference, registries: RegistriesConfig,
                     auth: AuthConfig | None = None, platform: Platform | None = None) -> PullResult:
    platform = platform or Platform.of_this_machine()
    errors: list[str] = []
    async with aiohttp.ClientSession(timeout=_TIMEOUT, trust_env=False) as http:
        for endpoint in registries.endpoints(ref.registry):
            config = registries.config_for(endpoint.host)
            if endpoint.url.startswith("http://") and not is_loopback(endpoint.host):
                errors.append(f"{endpoint.url}: refused: plain HTTP is only used for registries on loopback")
                continue
            try:
                ssl = config.tls.ssl_context() if config.tls and endpoint.url.startswith("https") else None
                repo = _Repository(http, endpoint, ref.repository, config.auth or auth, ssl)
                resolved = await _resolve(repo, ref, platform)
            except (TimeoutError, _AttemptError, aiohttp.ClientError, OSError) as e:
                errors.append(f"{endpoint.url}: {_describe(e)}")
                continue
            except ImagePullError as e:
                raise ImagePullError(f'failed to pull and unpack image "{ref}": {e}') from None
            try:
                try:
                    return await _fetch(store, repo, ref, resolved)
                except* Exception as group:  # the TaskGroup's: report the first layer's error
                    raise group.exceptions[0] from None
            except (TimeoutError, aiohttp.ClientError, OSError, ImageStoreError) as e:
                raise ImagePullError(f'failed to pull and unpack image "{ref}": {_describe(e)}') from None
            except ImagePullError as e:
                raise ImagePullError(f'failed to pull and unpack image "{ref}": {e}') from None
    raise ImagePullError(f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '
                         + "; ".join(errors))


def _describe(e: BaseException) -> str:
    if isinstance(e, asyncio.TimeoutError):
        return "timed out"
    return str(e) or type(e).__name__


async def _fetch(store: ImageStore, repo: _Repository, ref: ImageReference, resolved: _Resolved) -> PullResult:
    config_desc, layers = manifest_parts(resolved.manifest, f"manifest of {ref}")
    config = store.read_blob(config_desc.digest) if store.has_blob(config_desc.digest) \
        else await repo.blob(config_desc.digest)
    diff_ids = diff_ids_of(parse_json(config, f"config of {ref}"), f"config of {ref}")
    if len(diff_ids) != len(layers):
        raise ImagePullError(f"the manifest lists {len(layers)} layers, the config {len(diff_ids)} diffIDs")
    limit = asyncio.Semaphore(_PARALLEL_LAYERS)

    async def fetch_layer(descriptor, diff_id: str) -> None:
        if store.has_layer(diff_id):
            return
        async with limit:
            tmp = store.ingest_dir()
            try:
                path = os.path.join(tmp, "blob")
                await repo.blob_to_file(descriptor.digest, descriptor.size, path)

                def unpack() -> None:
                    with open(path, "rb") as f:
                        store.unpack_layer(f, diff_id, descriptor.digest)
                await _to_thread_to_the_end(unpack)
            finally:
                await _to_thread_to_the_end(_remove_tree, tmp)

    for attempt in (0, 1):
        # a TaskGroup: when one layer fails the others are cancelled and waited for, so nothing is
        # left writing into the store after the pull has failed
        async with asyncio.TaskGroup() as group:
            for descriptor, diff_id in zip(layers, diff_ids, strict=True):
                group.create_task(fetch_layer(descriptor, diff_id))
        store.write_blob(resolved.top_body, resolved.top_digest)
        store.write_blob(resolved.manifest_body, resolved.manifest_digest)
        tags = [str(replace(ref, digest=""))] if ref.tag and not ref.digest else []
        try:
            record = await asyncio.to_thread(store.commit_image, config, diff_ids, tags,
                                             [ref.with_digest(resolved.top_digest)], resolved.manifest_digest)
        except ImageStoreError:
            if attempt:
                raise
            continue  # a layer was pruned between unpacking and recording (a GC ran): fetch it again
        return PullResult(record, ref.with_digest(resolved.top_digest))
    raise AssertionError("unreachable")


async def _to_thread_to_the_end(fn, *args) -> None:
    """Run ``fn`` in a thread; if cancelled meanwhile, still wait for the thread before going on."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


def _remove_tree(path: str) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=True)
