"""One probe attempt against a real container: exec, httpGet, tcpSocket, grpc (Kubernetes' prober).

    exec        the command runs in the container (the runtime's exec_sync) within timeoutSeconds;
                exit code 0 is success
    httpGet     GET scheme://host:port/path with the probe's headers, from the node to the pod's
                IP (or ``host``); 200 <= status < 400 is success; redirects are not followed;
                HTTPS does not verify the certificate (as upstream)
    tcpSocket   a TCP connection opens within timeoutSeconds
    grpc        grpc.health.v1.Health/Check (the probe's ``service``, default "") over plain
                HTTP/2 to the pod's IP and port, within timeoutSeconds; SERVING is success. The
                two messages are one field each, so they are encoded here by hand (no generated
                protobuf code); grpcio makes the call

``port`` may be a number or the name of one of the container's ports. The outcome carries the
message ``kubectl describe`` shows in the Unhealthy event.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp

from kybernetes.kubelet.runtime import protocol as cri

Obj = dict[str, Any]
DEFAULT_TIMEOUT = 1.0
MAX_OUTPUT = 10 * 1024


@dataclass(frozen=True)
class ProbeOutcome:
    ok: bool
    message: str = ""


class ProbeSpecError(ValueError):
    """The probe cannot be run as written (no handler, an unknown named port)."""


def probe_timeout(probe: Obj) -> float:
    try:
        return max(float(probe.get("timeoutSeconds") or DEFAULT_TIMEOUT), 0.001)
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT


def resolve_port(port: Any, container: Obj) -> int:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        number = int(port)
    else:
        number = next((int(p.get("containerPort") or 0) for p in container.get("ports") or []
                       if p.get("name") == port), 0)
    if not 0 < number < 65536:
        raise ProbeSpecError(f"invalid port {port!r} for container {container.get('name', '')!r}")
    return number


async def exec_probe(runtime: Any, container_id: str, probe: Obj) -> ProbeOutcome:
    command = [str(a) for a in (probe.get("exec") or {}).get("command") or []]
    if not command:
        return ProbeOutcome(False, "exec probe without a command")
    if not isinstance(runtime, cri.ExecSyncRuntime):
        return ProbeOutcome(False, "the container runtime cannot exec")
    try:
        out, err, code = await runtime.exec_sync(container_id, command, timeout=probe_timeout(probe))
    except cri.RuntimeServiceError as e:
        return ProbeOutcome(False, f"command {command!r} failed: {e}")
    if code == 0:
        return ProbeOutcome(True)
    output = (out + err)[:MAX_OUTPUT].decode(errors="replace").strip()
    return ProbeOutcome(False, output or f"command {command!r} exited with {code}")


async def http_probe(host: str, container: Obj, probe: Obj) -> ProbeOutcome:
    http = probe.get("httpGet") or {}
    port = resolve_port(http.get("port"), container)
    scheme = str(http.get("scheme") or "HTTP").lower()
    target = http.get("host") or host
    path = str(http.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    display = f"[{target}]" if ":" in target else target
    url = f"{scheme}://{display}:{port}{path}"
    headers = {"User-Agent": "kube-probe/1.33", "Accept": "*/*"}
    for h in http.get("httpHeaders") or []:
        if h.get("name"):
            headers[str(h["name"])] = str(h.get("value") or "")
    tls: ssl.SSLContext | bool = False
    if scheme == "https":
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    timeout = aiohttp.ClientTimeout(total=probe_timeout(probe))
    try:
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session, \
                session.get(url, headers=headers, allow_redirects=False, ssl=tls) as response:
            body = await response.content.read(MAX_OUTPUT)
            if 200 <= response.status < 400:
                return ProbeOutcome(True)
            text = body.decode(errors="replace").strip()
            return ProbeOutcome(False, f"HTTP probe failed with statuscode: {response.status}"
                                       + (f" ({text[:200]})" if text else ""))
    except TimeoutError:
        return ProbeOutcome(False, f'Get "{url}": context deadline exceeded')
    except (aiohttp.ClientError, OSError, ValueError) as e:
        return ProbeOutcome(False, f'Get "{url}": {e}')


async def tcp_probe(host: str, container: Obj, probe: Obj) -> ProbeOutcome:
    tcp = probe.get("tcpSocket") or {}
    port = resolve_port(tcp.get("port"), container)
    target = tcp.get("host") or host
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(target, port), probe_timeout(probe))
    except TimeoutError:
        return ProbeOutcome(False, f"dial tcp {target}:{port}: i/o timeout")
    except OSError as e:
        return ProbeOutcome(False, f"dial tcp {target}:{port}: {e.strerror or e}")
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return ProbeOutcome(True)


# -- gRPC health checking ------------------------------------------------------------------------

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return value, i


def encode_health_request(service: str) -> bytes:
    """HealthCheckRequest { string service = 1; } (empty: the field is left out)."""
    raw = service.encode()
    return b"\x0a" + _varint(len(raw)) + raw if raw else b""


def decode_health_request(data: bytes) -> str:
    service, i = "", 0
    while i < len(data):
        key, i = _read_varint(data, i)
        if key & 7 == 2:
            length, i = _read_varint(data, i)
            if key >> 3 == 1:
                service = data[i:i + length].decode(errors="replace")
            i += length
        elif key & 7 == 0:
            _, i = _read_varint(data, i)
        else:
            raise ValueError(f"unexpected wire type {key & 7}")
    return service


def encode_health_response(status: int) -> bytes:
    """HealthCheckResponse { ServingStatus status = 1; } (0 is the default: left out)."""
    return b"\x08" + _varint(status) if status else b""


def decode_health_response(data: bytes) -> int:
    status, i = 0, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        if key & 7 == 0:
            value, i = _read_varint(data, i)
            if key >> 3 == 1:
                status = value
        elif key & 7 == 2:
            length, i = _read_varint(data, i)
            i += length
        else:
            raise ValueError(f"unexpected wire type {key & 7}")
    return status


def _go_seconds(seconds: float) -> str:
    return f"{seconds:g}s"


async def grpc_probe(host: str, probe: Obj) -> ProbeOutcome:
    import grpc  # grpcio: imported on first use (only gRPC probes need it)

    spec = probe.get("grpc") or {}
    try:
        port = int(spec.get("port"))
    except (TypeError, ValueError):
        raise ProbeSpecError(f"invalid grpc port {spec.get('port')!r}") from None
    if not 0 < port < 65536:
        raise ProbeSpecError(f"invalid grpc port {port}")
    service = str(spec.get("service") or "")
    timeout = probe_timeout(probe)
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options = [("grpc.enable_http_proxy", 0), ("grpc.primary_user_agent", "kube-probe/1.33"),
               ("grpc.enable_retries", 0)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        try:
            await asyncio.wait_for(channel.channel_ready(), timeout)
        except TimeoutError:
            return ProbeOutcome(False, f'timeout: failed to connect service "{target}" within {_go_seconds(timeout)}')
        check = channel.unary_unary(HEALTH_CHECK, request_serializer=encode_health_request,
                                    response_deserializer=decode_health_response)
        try:
            status = await check(service, timeout=max(deadline - loop.time(), 0.001), wait_for_ready=False)
        except grpc.aio.AioRpcError as e:
            code = e.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return ProbeOutcome(False, "error: this server does not implement the grpc health protocol "
                                           f"(grpc.health.v1.Health): {e.details()}")
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return ProbeOutcome(False, f"timeout: health rpc did not complete within {_go_seconds(timeout)}")
            return ProbeOutcome(False, f"error: health rpc probe failed: rpc error: code = "
                                       f"{code.name.title().replace('_', '')} desc = {e.details()}")
        except ValueError as e:  # a response that is not a HealthCheckResponse
            return ProbeOutcome(False, f"error: health rpc probe failed: {e}")
    if status != 1:
        return ProbeOutcome(False, f'service unhealthy (responded with "{SERVING_STATUS.get(status, status)}")')
    return ProbeOutcome(True)


async def run_probe(runtime: Any, container_id: str, host: str, container: Obj, probe: Obj) -> ProbeOutcome:
    """One attempt of ``probe`` for the container; never raises for a failing target."""
    try:
        if probe.get("exec"):
            return await exec_probe(runtime, container_id, probe)
        if probe.get("httpGet"):
            return await http_probe(host, container, probe)
        if probe.get("tcpSocket"):
            return await tcp_probe(host, container, probe)
        if probe.get("grpc"):
            return await grpc_probe(host, probe)
    except ProbeSpecError as e:
        return ProbeOutcome(False, str(e))
    return ProbeOutcome(False, "probe without a handler (exec, httpGet, tcpSocket or grpc)")
