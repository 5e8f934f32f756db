"""Running CNI plugins: the exec protocol of the CNI spec, for one network configuration list.

A CNI plugin is a program. The runtime tells it what to do through environment variables
(``CNI_COMMAND`` ADD / DEL / CHECK / VERSION, ``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME``,
``CNI_ARGS``, ``CNI_PATH``) and hands it its network configuration as JSON on stdin; it answers
with a result JSON on stdout, or exits non-zero with an error JSON ``{"code", "msg", "details"}``.

A configuration *list* chains plugins (bridge, then portmap):

    ADD    in order; each plugin gets the previous one's result as ``prevResult``; the last
           result is the attachment's result.
    DEL    in reverse order; each plugin gets the result of the ADD as ``prevResult`` (the
           caller keeps it: see cache.py). DEL must succeed when things are already gone.
    CHECK  in order, with the ADD's result; a plugin says whether the attachment is still right.

Capability arguments (``portMappings``) go to a plugin only if its configuration declares the
capability, inside ``runtimeConfig``, as libcni does.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kybernetes.kubelet import processes

SPEC_VERSION = "1.0.0"
DEFAULT_TIMEOUT_SECONDS = 60.0

# The CNI spec's rules for names (libcni validates the same before exec'ing anything).
_NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")
_CONTAINER_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")
_MAX_IFNAME = 15


class CniError(Exception):
    """A CNI operation failed; ``code`` and ``msg`` are the plugin's own when it reported one."""

    def __init__(self, msg: str, *, code: int = 999, details: str = "", plugin: str = "",
                 command: str = ""):
        self.msg = msg
        self.code = code
        self.details = details
        self.plugin = plugin
        self.command = command
        where = f"CNI plugin {plugin} {command}: " if plugin else ""
        super().__init__(f"{where}{msg}" + (f" ({details})" if details else ""))


class CniConfigError(CniError):
    """The network configuration or the runtime's arguments are invalid (nothing was run)."""


class CniPluginNotFoundError(CniError):
    """No executable for a plugin ``type`` in any directory of CNI_PATH."""


class CniTimeoutError(CniError):
    """A plugin did not answer in time; it was killed."""


@dataclass(frozen=True)
class NetworkConfigList:
    """A ``.conflist``: a network name, a spec version and the chained plugin configurations."""

    name: str
    cni_version: str
    plugins: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_dict(cls, data: Any) -> NetworkConfigList:
        if not isinstance(data, dict):
            raise CniConfigError("a network configuration list must be a JSON object")
        name, version, plugins = data.get("name"), data.get("cniVersion"), data.get("plugins")
        if not isinstance(name, str) or not _NETWORK_NAME.match(name):
            raise CniConfigError(f"invalid network name {name!r}")
        if not isinstance(version, str) or not version:
            raise CniConfigError("the network configuration list has no cniVersion")
        if not isinstance(plugins, list) or not plugins:
            raise CniConfigError(f"network {name}: no plugins")
        for i, plugin in enumerate(plugins):
            if not isinstance(plugin, dict) or not isinstance(plugin.get("type"), str) or not plugin["type"]:
                raise CniConfigError(f"network {name}: plugin {i} has no type")
        return cls(name=name, cni_version=version, plugins=tuple(plugins))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NetworkConfigList:
        try:
            with open(path, "rb") as f:
                data = json.loads(f.read())
        except FileNotFoundError:
            raise CniConfigError(f"no network configuration at {path}") from None
        except (OSError, ValueError) as e:
            raise CniConfigError(f"cannot read network configuration {path}: {e}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return {"cniVersion": self.cni_version, "name": self.name, "plugins": [dict(p) for p in self.plugins]}


@dataclass(frozen=True)
class RuntimeConf:
    """What the runtime tells the plugins about one attachment (libcni's RuntimeConf)."""

    container_id: str
    netns: str
    ifname: str = "eth0"
    args: tuple[tuple[str, str], ...] = ()  # CNI_ARGS, e.g. K8S_POD_NAMESPACE
    capability_args: Mapping[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if not _CONTAINER_ID.match(self.container_id or ""):
            raise CniConfigError(f"invalid container id {self.container_id!r}")
        name = self.ifname
        if not name or len(name) > _MAX_IFNAME or name in (".", "..") or any(
                c in name for c in "/:") or any(c.isspace() for c in name):
            raise CniConfigError(f"invalid interface name {name!r}")
        for key, value in self.args:
            if not key or any(c in part for part in (key, value) for c in ";="):
                raise CniConfigError(f"invalid CNI_ARGS entry {key!r}={value!r}")

    def cni_args(self) -> str:
        # IgnoreUnknown lets plugins that know none of the K8S_* keys accept them.
        return ";".join(["IgnoreUnknown=1", *(f"{k}={v}" for k, v in self.args)])


def plugin_stdin(net: NetworkConfigList, plugin: Mapping[str, Any], rt: RuntimeConf,
                 prev_result: Mapping[str, Any] | None) -> bytes:
    """The configuration one plugin of the list reads on stdin."""
    conf: dict[str, Any] = dict(plugin)
    conf["name"] = net.name
    conf["cniVersion"] = net.cni_version
    if prev_result is not None:
        conf["prevResult"] = prev_result
    wanted = plugin.get("capabilities") or {}
    runtime_config = {k: v for k, v in rt.capability_args.items() if wanted.get(k)}
    if runtime_config:
        conf["runtimeConfig"] = runtime_config
    return json.dumps(conf).encode()


def find_plugin(plugin_type: str, bin_dirs: Sequence[str]) -> str:
    if "/" in plugin_type or plugin_type in (".", ".."):
        raise CniConfigError(f"invalid plugin type {plugin_type!r}")
    for directory in bin_dirs:
        path = os.path.join(directory, plugin_type)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise CniPluginNotFoundError(f"plugin {plugin_type!r} not found in {':'.join(bin_dirs)}",
                                 plugin=plugin_type)


class CniExec:
    """Executes plugins from ``bin_dirs`` (CNI_PATH), one asyncio subprocess per call."""

    def __init__(self, bin_dirs: Sequence[str], timeout: float = DEFAULT_TIMEOUT_SECONDS):
        self.bin_dirs = tuple(bin_dirs)
        self.timeout = timeout

    async def run(self, plugin_type: str, command: str, stdin: bytes, rt: RuntimeConf | None) -> Any:
        """Run one plugin; its parsed stdout (None when it printed nothing)."""
        path = find_plugin(plugin_type, self.bin_dirs)
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
               "CNI_COMMAND": command, "CNI_PATH": ":".join(self.bin_dirs)}
        if rt is not None:
            env.update(CNI_CONTAINERID=rt.container_id, CNI_NETNS=rt.netns, CNI_IFNAME=rt.ifname,
                       CNI_ARGS=rt.cni_args())
        try:
            done = await processes.run([path], input=stdin, env=env, start_new_session=True, timeout=self.timeout)
        except processes.ProcessTimeout:  # it and anything it started were killed
            raise CniTimeoutError(f"no answer within {self.timeout:g}s", plugin=plugin_type,
                                  command=command) from None
        stdout, stderr = done.stdout, done.stderr
        if done.returncode != 0:
            raise _plugin_error(plugin_type, command, done.returncode, stdout, stderr)
        if not stdout.strip():
            return None
        try:
            return json.loads(stdout)
        except ValueError:
            raise CniError(f"unparsable result: {stdout[:200]!r}", plugin=plugin_type,
                           command=command) from None

    async def version(self, plugin_type: str) -> list[str]:
        answer = await self.run(plugin_type, "VERSION", json.dumps({"cniVersion": SPEC_VERSION}).encode(), None)
        return list((answer or {}).get("supportedVersions") or [])

    async def add_list(self, net: NetworkConfigList, rt: RuntimeConf) -> dict[str, Any] | None:
        rt.validate()
        result: Any = None
        for plugin in net.plugins:
            result = await self.run(plugin["type"], "ADD", plugin_stdin(net, plugin, rt, result), rt)
        return result

    async def del_list(self, net: NetworkConfigList, rt: RuntimeConf,
                       prev_result: Mapping[str, Any] | None) -> None:
        """DEL every plugin in reverse order; all are tried, the first error is raised after."""
        rt.validate()
        first_error: CniError | None = None
        for plugin in reversed(net.plugins):
            try:
                await self.run(plugin["type"], "DEL", plugin_stdin(net, plugin, rt, prev_result), rt)
            except CniError as e:
                first_error = first_error or e
        if first_error is not None:
            raise first_error

    async def check_list(self, net: NetworkConfigList, rt: RuntimeConf,
                         prev_result: Mapping[str, Any]) -> None:
        rt.validate()
        for plugin in net.plugins:
            await self.run(plugin["type"], "CHECK", plugin_stdin(net, plugin, rt, prev_result), rt)


def _plugin_error(plugin: str, command: str, returncode: int, stdout: bytes, stderr: bytes) -> CniError:
    try:
        answer = json.loads(stdout)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and "msg" in answer:
        code = answer.get("code")
        return CniError(str(answer.get("msg")), code=code if isinstance(code, int) else 999,
                        details=str(answer.get("details") or ""), plugin=plugin, command=command)
    text = (stderr or stdout).decode(errors="replace").strip()[:500]
    return CniError(f"exited with status {returncode}" + (f": {text}" if text else ""),
                    plugin=plugin, command=command)


def result_ips(result: Mapping[str, Any] | None) -> list[str]:
    """The pod's addresses in a CNI result (any version from 0.3.0 on), IPv4 first.

    Addresses bound to a host-side interface (one without a ``sandbox``) are not the pod's.
    """
    if not result:
        return []
    interfaces = result.get("interfaces") or []
    ips: list[str] = []
    for entry in result.get("ips") or []:
        index = entry.get("interface")
        if isinstance(index, int) and 0 <= index < len(interfaces) and not interfaces[index].get("sandbox"):
            continue
        address = str(entry.get("address", "")).split("/")[0]
        if address and address not in ips:
            ips.append(address)
    return sorted(ips, key=lambda ip: ":" in ip)
