"""Container lifecycle hooks: running one postStart or preStop handler, as the kubelet does.

    exec     the command runs in the container through the runtime's exec_sync; a non-zero
             exit code fails the hook
    httpGet  GET scheme://host:port/path with the handler's headers; the host defaults to the
             pod's IP, the port is a number or the name of one of the container's ports. Only a
             failure to get an answer fails the hook (upstream does not look at the status
             code); an HTTPS request answered in plain HTTP is retried over HTTP, as upstream
    sleep    the newer LifecycleHandler action: wait that many seconds

When the hooks run, and what a failure does (a failed postStart kills the container; a preStop
only gets the time left of the grace period) is lifecycle.py's business. The outcome's message
is the one the FailedPostStartHook / FailedPreStopHook events show.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp

from kybernetes.kubelet.real_probe_checks import ProbeSpecError, resolve_port
from kybernetes.kubelet.runtime import protocol as cri
from kybernetes.util.clock import REAL_CLOCK, Clock

Obj = dict[str, Any]
USER_AGENT = "kube-lifecycle/1.33"
MAX_OUTPUT = 10 * 1024


@dataclass(frozen=True)
class HookOutcome:
    ok: bool
    message: str = ""


def _pod_name(pod: Obj) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('name', '')}_{m.get('namespace', '')}({m.get('uid', '')})"


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def hook_url(handler: Obj, container: Obj, host: str) -> str:
    http = handler.get("httpGet") or {}
    port = resolve_port(http.get("port"), container)
    scheme = str(http.get("scheme") or "HTTP").lower()
    if scheme not in ("http", "https"):
        raise ProbeSpecError(f"unsupported scheme {http.get('scheme')!r}")
    target = str(http.get("host") or host)
    path = str(http.get("path") or "")
    if path and not path.startswith("/"):
        path = "/" + path
    display = f"[{target}]" if ":" in target else target
    return f"{scheme}://{display}:{port}{path}"


class HookRunner:
    def __init__(self, runtime: Any, *, clock: Clock | None = None):
        self.runtime = runtime
        self.clock = clock or REAL_CLOCK

    async def run(self, pod: Obj, container: Obj, handler: Obj, container_id: str, host: str) -> HookOutcome:
        """Run ``handler`` for the container; never raises for a failing handler (the caller
        bounds the time it may take)."""
        name = container.get("name", "")
        if handler.get("exec"):
            return await self._exec(pod, name, handler, container_id)
        if handler.get("httpGet"):
            return await self._http(pod, container, handler, host)
        if handler.get("sleep"):
            return await self._sleep(handler)
        return HookOutcome(False, f"lifecycle hook for Container {json.dumps(name)} in Pod "
                                  f"{json.dumps(_pod_name(pod))} has no handler (exec, httpGet or sleep)")

    async def _exec(self, pod: Obj, name: str, handler: Obj, container_id: str) -> HookOutcome:
        command = [str(a) for a in (handler.get("exec") or {}).get("command") or []]
        prefix = (f"Exec lifecycle hook ({_go_list(command)}) for Container {json.dumps(name)} in Pod "
                  f"{json.dumps(_pod_name(pod))} failed")
        if not command:
            return HookOutcome(False, f"{prefix} - error: no command")
        if not isinstance(self.runtime, cri.ExecSyncRuntime):
            return HookOutcome(False, f"{prefix} - error: the container runtime cannot exec")
        try:
            out, err, code = await self.runtime.exec_sync(container_id, command, timeout=0)
        except cri.RuntimeServiceError as e:
            return HookOutcome(False, f'{prefix} - error: {e}, message: ""')
        if code == 0:
            return HookOutcome(True)
        output = (out + err)[:MAX_OUTPUT].decode(errors="replace")
        return HookOutcome(False, f"{prefix} - error: command '{' '.join(command)}' exited with {code}: "
                                  f"{err[:MAX_OUTPUT].decode(errors='replace')}, message: {json.dumps(output)}")

    async def _http(self, pod: Obj, container: Obj, handler: Obj, host: str) -> HookOutcome:
        http = handler.get("httpGet") or {}
        path = str(http.get("path") or "")
        prefix = (f"HTTP lifecycle hook ({path}) for Container {json.dumps(container.get('name', ''))} in Pod "
                  f"{json.dumps(_pod_name(pod))} failed")
        try:
            url = hook_url(handler, container, host)
        except ProbeSpecError as e:
            return HookOutcome(False, f"{prefix} - error: {e}")
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        for h in http.get("httpHeaders") or []:
            if h.get("name"):
                headers[str(h["name"])] = str(h.get("value") or "")
        error = await self._get(url, headers)
        if error is not None and url.startswith("https://") and "plain HTTP" in error:
            error = await self._get("http://" + url[len("https://"):], headers)
        if error is None:
            return HookOutcome(True)
        return HookOutcome(False, f"{prefix} - error: {error}")

    @staticmethod
    async def _get(url: str, headers: dict[str, str]) -> str | None:
        tls: ssl.SSLContext | bool = False
        if url.startswith("https://"):
            tls = ssl.create_default_context()
            tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
        try:
            async with aiohttp.ClientSession(trust_env=False) as session, \
                    session.get(url, headers=headers, allow_redirects=False, ssl=tls) as response:
                await response.content.read(MAX_OUTPUT)
            return None
        except aiohttp.ClientSSLError as e:
            return f'Get "{url}": server gave plain HTTP response to HTTPS client ({e})'
        except (aiohttp.ClientError, OSError, ValueError) as e:
            return f'Get "{url}": {e}'

    async def _sleep(self, handler: Obj) -> HookOutcome:
        try:
            seconds = float((handler.get("sleep") or {}).get("seconds") or 0)
        except (TypeError, ValueError):
            return HookOutcome(False, f"invalid sleep seconds {handler.get('sleep')!r}")
        if seconds > 0:
            await self.clock.sleep(seconds)
        return HookOutcome(True)


async def pod_ip(runtime: Any, pod: Obj, node_ip: str) -> str:
    """The address hooks reach the pod at: its sandbox's IP, the node's for hostNetwork pods."""
    if (pod.get("spec") or {}).get("hostNetwork"):
        return node_ip
    uid = (pod.get("metadata") or {}).get("uid", "")
    try:
        sandboxes = await runtime.list_pod_sandbox(cri.PodSandboxFilter(
            state=cri.PodSandboxState.SANDBOX_READY, label_selector={cri.POD_UID_LABEL: uid}))
        for sandbox in sandboxes:
            ip = (await runtime.pod_sandbox_status(sandbox.id)).network.ip
            if ip:
                return ip
    except cri.RuntimeServiceError:
        pass
    return node_ip
