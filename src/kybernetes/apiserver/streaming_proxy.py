"""The relays of pods/log, exec, attach and portforward (the checks are in streaming.py).

Logs are an HTTP stream: the kubelet's chunks are written to kubectl as they arrive. exec,
attach and portforward are WebSockets on both legs: the apiserver opens the kubelet's WebSocket
with the subprotocol kubectl asked for, answers kubectl's upgrade with what the kubelet chose,
then copies every message both ways until one side closes (and closes the other). Pings from
kubectl are answered here (autoping): kubectl drops a connection without pongs after 61 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from kybernetes.api import errors
from kybernetes.apiserver import streaming as st
from kybernetes.apiserver.request_info import RequestInfo

log = logging.getLogger(__name__)

LOG_PARAMS = ("follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes",
              "insecureSkipTLSVerifyBackend")
INT_LOG_PARAMS = ("tailLines", "sinceSeconds", "limitBytes")
EXEC_PARAMS = {"stdin": "input", "stdout": "output", "stderr": "error", "tty": "tty"}
STREAM_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PORT_FORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
CLIENT_CHECK_SECONDS = 1.0


def _client_gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


def _kubelet_error(status: int, text: str) -> errors.ApiError:
    text = text.strip() or f"the kubelet answered {status}"
    if status == 400:
        return errors.bad_request(text)
    if status == 404:
        return errors.ApiError(404, "NotFound", text)
    return errors.ApiError(500, "InternalError", f"error from the kubelet ({status}): {text}")


async def handle_pod_stream(handlers, request: web.Request, ri: RequestInfo, info) -> web.StreamResponse:
    if ri.subresource == "log":
        return await proxy_log(handlers, request, ri, info)
    if ri.subresource in ("exec", "attach"):
        return await proxy_remote_command(handlers, request, ri, info)
    return await proxy_port_forward(handlers, request, ri, info)


# -- logs -------------------------------------------------------------------------------------------

async def proxy_log(handlers, request: web.Request, ri: RequestInfo, info) -> web.StreamResponse:
    q = request.query
    for name in INT_LOG_PARAMS:
        if q.get(name):
            try:
                value = int(q[name])
            except ValueError:
                raise errors.bad_request(f'{name}: Invalid value: "{q[name]}": must be an integer') from None
            if value < (0 if name == "tailLines" else 1):
                raise errors.invalid("PodLogOptions", "", [errors.Cause(
                    "FieldValueInvalid", f"Invalid value: {value}: must be greater than "
                    f"{'or equal to 0' if name == 'tailLines' else '0'}", name)])
    pod = await st.get_pod(handlers, ri, info)
    previous = q.get("previous") in ("true", "1", "True")
    container = st.pick_container(pod, q.get("container", ""))
    node = await st.node_of(handlers, pod)
    st.check_log_state(pod, container, previous)
    connector = st.connector_of(request)
    url = st.kubelet_base_url(node) + st.kubelet_path("containerLogs", ri.namespace or "", ri.name, container)
    params = [(k, q[k]) for k in LOG_PARAMS if k in q and k != "insecureSkipTLSVerifyBackend"]
    try:
        upstream = await connector.session().get(url, params=params)
    except (aiohttp.ClientError, OSError) as e:
        raise errors.ApiError(500, "InternalError", f"Get \"{url}\": {e}") from None
    try:
        if upstream.status != 200:
            raise _kubelet_error(upstream.status, await upstream.text())
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError, aiohttp.ClientPayloadError):
            while True:
                try:
                    chunk = await asyncio.wait_for(upstream.content.readany(), CLIENT_CHECK_SECONDS)
                except TimeoutError:
                    if _client_gone(request):  # kubectl went away from a quiet follow: stop the kubelet's too
                        return response
                    continue
                if not chunk:
                    break
                await response.write(chunk)
            await response.write_eof()
        return response
    finally:
        upstream.release()


# -- WebSockets -------------------------------------------------------------------------------------

def _offered(request: web.Request) -> list[str]:
    return [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]


def _require_websocket(request: web.Request) -> None:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise errors.bad_request("Upgrade request required: this server streams over WebSocket only "
                                 "(v5.channel.k8s.io, SPDY/3.1+portforward.k8s.io)")


async def proxy_remote_command(handlers, request: web.Request, ri: RequestInfo, info) -> web.StreamResponse:
    _require_websocket(request)
    offered = [p for p in _offered(request) if p in STREAM_PROTOCOLS]
    if not offered:
        raise errors.bad_request(f"no supported WebSocket subprotocol offered; use {STREAM_PROTOCOLS[0]}")
    pod = await st.get_pod(handlers, ri, info)
    q = request.query
    container = st.pick_container(pod, q.get("container", ""))
    st.check_running_for_exec(pod, ri.subresource)
    node = await st.node_of(handlers, pod)
    if ri.subresource == "exec" and not q.getall("command", []):
        raise errors.bad_request("you must specify at least one command for the container")
    params = [("command", c) for c in q.getall("command", [])]
    params += [(ours, q[theirs]) for theirs, ours in EXEC_PARAMS.items() if theirs in q]
    url = st.kubelet_base_url(node) + st.kubelet_path(ri.subresource, ri.namespace or "", ri.name, container)
    return await _relay_websocket(request, url, params, offered)


async def proxy_port_forward(handlers, request: web.Request, ri: RequestInfo, info) -> web.StreamResponse:
    _require_websocket(request)
    if PORT_FORWARD_PROTOCOL not in _offered(request):
        raise errors.bad_request(f"no supported WebSocket subprotocol offered; use {PORT_FORWARD_PROTOCOL}")
    node = await st.node_of(handlers, await st.get_pod(handlers, ri, info))
    url = st.kubelet_base_url(node) + st.kubelet_path("portForward", ri.namespace or "", ri.name)
    return await _relay_websocket(request, url, [], [PORT_FORWARD_PROTOCOL])


async def _relay_websocket(request: web.Request, url: str, params: list[tuple[str, str]],
                           protocols: list[str]) -> web.StreamResponse:
    connector = st.connector_of(request)
    try:
        upstream = await connector.session().ws_connect(url, params=params, protocols=protocols, autoping=True,
                                                        max_msg_size=0)
    except aiohttp.WSServerHandshakeError as e:
        raise errors.ApiError(500, "InternalError", f"error dialing the kubelet: {e.status} {e.message}") from None
    except (aiohttp.ClientError, OSError) as e:
        raise errors.ApiError(500, "InternalError", f"error dialing the kubelet at {url}: {e}") from None
    chosen = upstream.protocol or protocols[0]
    downstream = web.WebSocketResponse(protocols=(chosen,), autoping=True, max_msg_size=0)
    try:
        await downstream.prepare(request)
        await relay(downstream, upstream)
    finally:
        await upstream.close()
    return downstream


async def _copy(source: Any, sink: Any) -> int | None:
    """Messages from ``source`` to ``sink`` until ``source`` closes; its close code."""
    async for msg in source:
        if msg.type == WSMsgType.BINARY:
            await sink.send_bytes(msg.data)
        elif msg.type == WSMsgType.TEXT:
            await sink.send_str(msg.data)
        elif msg.type == WSMsgType.ERROR:
            break
    return source.close_code


async def relay(downstream: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    to_kubelet = asyncio.ensure_future(_copy(downstream, upstream))
    to_client = asyncio.ensure_future(_copy(upstream, downstream))
    try:
        done, _ = await asyncio.wait({to_kubelet, to_client}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (to_kubelet, to_client):
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    code = upstream.close_code or downstream.close_code or 1000
    with contextlib.suppress(Exception):
        await downstream.close(code=code if code in (1000, 1001, 1011) else 1000)
    with contextlib.suppress(Exception):
        await upstream.close()
