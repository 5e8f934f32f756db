"""One probe attempt against a real container: exec, httpGet, tcpSocket (Kubernetes' prober).

    exec        the command runs in the container (the runtime's exec_sync) within timeoutSeconds;
                exit code 0 is success
    httpGet     GET scheme://host:port/path with the probe's headers, from the node to the pod's
                IP (or ``host``); 200 <= status < 400 is success; redirects are not followed;
                HTTPS does not verify the certificate (as upstream)
    tcpSocket   a TCP connection opens within timeoutSeconds
    grpc        the standard gRPC health protocol is not spoken here: reported as a failure

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
            return ProbeOutcome(False, "grpc probes are not supported by this kubelet")
    except ProbeSpecError as e:
        return ProbeOutcome(False, str(e))
    return ProbeOutcome(False, "probe without a handler (exec, httpGet, tcpSocket or grpc)")
