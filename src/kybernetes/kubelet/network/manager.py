"""The pod network of one node: what the runtime calls when it creates and removes a sandbox.

    configure(podCIDR)     write the bridge + portmap configuration list and install the node-wide
                           masquerade rule set (update_runtime_config; ``write_config``: the list only)
    setup(netns, id, ...)  once per process and pod CIDR: sysctls, the node-wide masquerade rule
                           set (masquerade.py); lo up (loopback plugin, unless the runtime did it);
                           ADD the list → the pod's IPs (portmap only for pods with host ports);
                           cache the result
    teardown(netns, id)    DEL the list in reverse with the cached result; sweep leftover chains
                           (attachments made with bridge ipMasq only); idempotent, and fine when
                           the netns is already gone (CNI DEL must be)
    cleanup_leftovers(ids) DEL every cached attachment whose sandbox no longer exists (crashes)
    uninstall()            DEL everything, remove the bridge, IPAM state, our iptables chains (the
                           masquerade one too), put back the sysctls we changed (``kyb uninstall``)

Everything lives under ``<data dir>/cni``: ``net.d/10-<network>.conflist``, ``ipam/`` (host-local),
``results/`` (cache.py) and ``sysctl-changes.json`` (sysctl.py); given a ``run_dir`` (the real
node's tmpfs), the attachment cache is ``<run dir>/cni/results`` instead.

The runtime depends only on the small ``PodNetworkPlugin`` protocol; ``NoNetwork`` is the
implementation for host-network pods and for tests without root.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import shutil
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from kybernetes.kubelet.network.cache import Attachment, AttachmentCache
from kybernetes.kubelet.network.cni import (
    CniConfigError,
    CniError,
    CniExec,
    NetworkConfigList,
    RuntimeConf,
    result_ips,
)
from kybernetes.kubelet.network.commands import HostCommandError
from kybernetes.kubelet.network.config import (
    DEFAULT_BRIDGE_NAME,
    DEFAULT_NETWORK_NAME,
    bridge_conflist,
    loopback_config,
    port_mappings_capability,
)
from kybernetes.kubelet.network.iptables import IptablesSweeper
from kybernetes.kubelet.network.links import remove_bridge
from kybernetes.kubelet.network.masquerade import PodMasquerade
from kybernetes.kubelet.network.sysctl import HostSysctls
from kybernetes.util.files import PUBLIC, write_atomic

log = logging.getLogger(__name__)

DEFAULT_CNI_BIN_DIR = "/usr/lib/cni"
POD_IFNAME = "eth0"


def _masquerades(net: NetworkConfigList) -> bool:
    """Does a plugin of ``net`` masquerade per attachment (the bridge plugin's ipMasq)?"""
    return any(plugin.get("type") == "bridge" and plugin.get("ipMasq") for plugin in net.plugins)


@runtime_checkable
class PodNetworkPlugin(Protocol):
    async def configure(self, pod_cidr: str) -> None:
        """The node's pod CIDR is known (or changed): configure the network with it."""
        ...

    async def setup(self, netns_path: str, sandbox_id: str, pod_namespace: str, pod_name: str,
                    pod_uid: str, port_mappings: Sequence[Any] = ()) -> list[str]:
        """Attach the sandbox's netns to the pod network; the pod's IPs (IPv4 first)."""
        ...

    async def teardown(self, netns_path: str, sandbox_id: str, pod_namespace: str = "",
                       pod_name: str = "", pod_uid: str = "", port_mappings: Sequence[Any] = ()) -> None:
        """Detach it; idempotent, and must work when the netns is already gone."""
        ...


class NoNetwork:
    """No pod network: host-network pods and tests. setup gives no IPs (the runtime reports the
    node's), teardown does nothing."""

    async def configure(self, pod_cidr: str) -> None:
        return None

    async def setup(self, netns_path: str, sandbox_id: str, pod_namespace: str, pod_name: str,
                    pod_uid: str, port_mappings: Sequence[Any] = ()) -> list[str]:
        return []

    async def teardown(self, netns_path: str, sandbox_id: str, pod_namespace: str = "",
                       pod_name: str = "", pod_uid: str = "", port_mappings: Sequence[Any] = ()) -> None:
        return None


@dataclass
class UninstallReport:
    """What ``uninstall`` removed or put back."""

    attachments: list[str] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    sysctls_restored: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class PodNetwork:
    def __init__(self, data_dir: str | os.PathLike[str], cni_bin_dir: str = DEFAULT_CNI_BIN_DIR, *,
                 network_name: str = DEFAULT_NETWORK_NAME, bridge_name: str = DEFAULT_BRIDGE_NAME,
                 plugin_timeout: float = 60.0, proc_sys: str = "/proc/sys", loopback: bool = True,
                 run_dir: str | os.PathLike[str] | None = None):
        self.root = Path(data_dir) / "cni"
        self.run_root = Path(run_dir) / "cni" if run_dir is not None else None
        self.network_name = network_name
        self.bridge_name = bridge_name
        self.conflist_path = self.root / "net.d" / f"10-{network_name}.conflist"
        self.ipam_dir = self.root / "ipam"
        self.cache = AttachmentCache((self.run_root or self.root) / "results", legacy=self.root / "results")
        self.sysctls = HostSysctls(self.root / "sysctl-changes.json", proc_sys=proc_sys)
        self.cni = CniExec([d for d in cni_bin_dir.split(":") if d], timeout=plugin_timeout)
        self._network: NetworkConfigList | None = None
        self._host_prepared = False
        self._masquerade_cidr = ""  # the pod CIDR the masquerade rule set was ensured for, by this process
        self._host_lock = asyncio.Lock()
        # False: whoever makes the namespaces brings lo up (the runc runtime's sandbox does), so the
        # loopback plugin, a process per pod start, has nothing left to do
        self.loopback = loopback
        # one operation per sandbox at a time; a lock lives while someone holds or awaits it
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # -- configuration ------------------------------------------------------------------------

    @property
    def network(self) -> NetworkConfigList | None:
        """The current configuration list (read back from disk after a restart), or None."""
        if self._network is None and self.conflist_path.exists():
            try:
                self._network = NetworkConfigList.load(self.conflist_path)
            except CniConfigError as e:
                log.warning("ignoring the pod network configuration on disk: %s", e)
        return self._network

    @property
    def pod_cidr(self) -> str:
        return _subnet(self.network)

    def ready(self) -> bool:
        """CRI's NetworkReady: a configuration exists."""
        return self.network is not None

    async def configure(self, pod_cidr: str) -> None:
        """Write the configuration list for ``pod_cidr`` and install its masquerade rule set (the
        runtime's update_runtime_config, at every kubelet start: a restart finds the rules in place
        or puts them back before any pod starts)."""
        self.write_config(pod_cidr)
        await self._ensure_masquerade(self.pod_cidr)

    def write_config(self, pod_cidr: str) -> bool:
        """Write the configuration list for ``pod_cidr``; True if it changed."""
        net = bridge_conflist(pod_cidr, str(self.ipam_dir), network_name=self.network_name,
                              bridge_name=self.bridge_name)
        current = self.network
        if current is not None and current.to_dict() == net.to_dict():
            return False
        self.conflist_path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        write_atomic(self.conflist_path, json.dumps(net.to_dict(), indent=2).encode() + b"\n", PUBLIC)
        self._network = net
        log.info("pod network %s configured for pod CIDR %s", self.network_name, pod_cidr)
        return True

    def _require_network(self) -> NetworkConfigList:
        net = self.network
        if net is None:
            raise CniConfigError("the pod network is not configured yet (the node has no pod CIDR)")
        return net

    def _lock(self, sandbox_id: str) -> asyncio.Lock:
        lock = self._locks.get(sandbox_id)
        if lock is None:
            lock = self._locks[sandbox_id] = asyncio.Lock()
        return lock

    async def _prepare_host(self, net: NetworkConfigList) -> None:
        """Sysctls and the masquerade rule set, once per process (the rules again for a new pod
        CIDR): a restarted kubelet corrects whatever changed while it was away."""
        if not self._host_prepared:
            changed = self.sysctls.ensure()
            if changed:
                log.info("host sysctls set for pod networking (were: %s)", changed)
            self._host_prepared = True
        await self._ensure_masquerade(_subnet(net))

    async def _ensure_masquerade(self, cidr: str) -> None:
        if not cidr or self._masquerade_cidr == cidr:
            return
        async with self._host_lock:
            if self._masquerade_cidr != cidr:
                try:
                    await self._masquerade(cidr).ensure(cidr)
                except HostCommandError as e:
                    raise CniError(f"installing the pod network's masquerade rules: {e}") from None
                self._masquerade_cidr = cidr
                log.info("pod network %s: traffic from %s leaving it is masqueraded", self.network_name, cidr)

    def _masquerade(self, pod_cidr: str = "") -> PodMasquerade:
        cidr = pod_cidr or self.pod_cidr
        v6 = bool(cidr) and ipaddress.ip_network(cidr, strict=False).version == 6
        return PodMasquerade(self.network_name, family=6 if v6 else 4)

    # -- attachments --------------------------------------------------------------------------

    async def setup(self, netns_path: str, sandbox_id: str, pod_namespace: str, pod_name: str,
                    pod_uid: str, port_mappings: Sequence[Any] = ()) -> list[str]:
        net = self._require_network()
        args = (("K8S_POD_NAMESPACE", pod_namespace), ("K8S_POD_NAME", pod_name),
                ("K8S_POD_INFRA_CONTAINER_ID", sandbox_id), ("K8S_POD_UID", pod_uid))
        ports = port_mappings_capability(port_mappings)
        rt = RuntimeConf(sandbox_id, netns_path, POD_IFNAME, args, {"portMappings": ports} if ports else {})
        rt.validate()
        if not netns_path or not os.path.exists(netns_path):
            raise CniConfigError(f"network namespace {netns_path!r} does not exist")
        async with self._lock(sandbox_id):
            cached = self.cache.get(net.name, sandbox_id, POD_IFNAME)
            if cached is not None and cached.result is not None and cached.netns == netns_path:
                return result_ips(cached.result)  # already attached
            await self._prepare_host(net)
            if self.loopback:
                await self.cni.add_list(loopback_config(), RuntimeConf(sandbox_id, netns_path, "lo"))
            chain = _chain_for(net, rt.capability_args)
            attachment = Attachment(net.name, sandbox_id, POD_IFNAME, netns_path, chain.to_dict(),
                                    [list(kv) for kv in args], dict(rt.capability_args))
            # before the ADD: a crash mid-way still leaves a record (a small file: written in place)
            self.cache.save(attachment)
            try:
                result = await self.cni.add_list(chain, rt)
            except BaseException:
                await asyncio.shield(self._undo_failed_add(attachment))
                raise
            self.cache.save(_with_result(attachment, result))
        ips = result_ips(result)
        log.debug("pod %s/%s (sandbox %s) attached: %s", pod_namespace, pod_name, sandbox_id, ips)
        return ips

    async def _undo_failed_add(self, attachment: Attachment) -> None:
        try:
            await self._delete(attachment, attachment.netns)
        except Exception as e:  # the ADD's error is the one worth reporting
            log.warning("cleaning up after a failed ADD of sandbox %s: %s", attachment.container_id, e)

    async def teardown(self, netns_path: str, sandbox_id: str, pod_namespace: str = "",
                       pod_name: str = "", pod_uid: str = "", port_mappings: Sequence[Any] = ()) -> None:
        """DEL with what the ADD used (cached); without a record, with the arguments given."""
        async with self._lock(sandbox_id):
            attachment = self.cache.get(self.network_name, sandbox_id, POD_IFNAME)
            if attachment is None:
                net = self.network
                if net is None:
                    return  # never configured: nothing can be attached
                args = [["K8S_POD_NAMESPACE", pod_namespace], ["K8S_POD_NAME", pod_name],
                        ["K8S_POD_INFRA_CONTAINER_ID", sandbox_id], ["K8S_POD_UID", pod_uid]]
                ports = port_mappings_capability(port_mappings)
                attachment = Attachment(net.name, sandbox_id, POD_IFNAME, netns_path, net.to_dict(), args,
                                        {"portMappings": ports} if ports else {})
            await self._delete(attachment, netns_path or attachment.netns)

    async def _delete(self, attachment: Attachment, netns_path: str) -> None:
        net = NetworkConfigList.from_dict(attachment.config)
        rt = RuntimeConf(attachment.container_id, netns_path, attachment.ifname,
                         tuple((str(k), str(v)) for k, v in attachment.cni_args), attachment.capability_args)
        await self.cni.del_list(net, rt, attachment.result)
        # bridge's DEL leaves its ipMasq chain behind when the netns is gone: sweep. Only attachments
        # made with ipMasq on (older configurations) have such a chain; portmap's DEL removes its own
        # whether or not the netns is there. So other DELs skip the sweep, an ``iptables -S`` of the
        # whole nat table per pod removal.
        if _masquerades(net):
            try:
                await self._sweeper(net).remove_attachment(net.name, attachment.container_id)
            except HostCommandError as e:  # the DEL itself worked; uninstall sweeps again
                log.warning("sandbox %s: sweeping iptables leftovers failed: %s", attachment.container_id, e)
        self.cache.remove(attachment)

    def _sweeper(self, net: NetworkConfigList | None = None) -> IptablesSweeper:
        cidr = _subnet(net or self.network)
        v6 = bool(cidr) and ipaddress.ip_network(cidr, strict=False).version == 6
        return IptablesSweeper("ip6tables" if v6 else "iptables")

    async def check(self, netns_path: str, sandbox_id: str) -> None:
        """CNI CHECK of an attachment; raises CniError if a plugin finds it wrong."""
        attachment = self.cache.get(self.network_name, sandbox_id, POD_IFNAME)
        if attachment is None or attachment.result is None:
            raise CniError(f"sandbox {sandbox_id} is not attached to network {self.network_name}")
        net = NetworkConfigList.from_dict(attachment.config)
        rt = RuntimeConf(sandbox_id, netns_path or attachment.netns, attachment.ifname,
                         tuple((str(k), str(v)) for k, v in attachment.cni_args), attachment.capability_args)
        await self.cni.check_list(net, rt, attachment.result)

    def attached_sandboxes(self) -> list[str]:
        return [a.container_id for a in self.cache.all() if a.network_name == self.network_name]

    async def cleanup_leftovers(self, live_sandbox_ids: Iterable[str]) -> list[str]:
        """DEL every attachment whose sandbox is not in ``live_sandbox_ids``; the ids cleaned."""
        live = set(live_sandbox_ids)
        cleaned = []
        for attachment in self.cache.all():
            if attachment.network_name != self.network_name or attachment.container_id in live:
                continue
            try:
                await self.teardown(attachment.netns, attachment.container_id)
            except CniError as e:
                log.warning("leftover attachment of sandbox %s: DEL failed: %s", attachment.container_id, e)
                continue
            cleaned.append(attachment.container_id)
        return cleaned

    # -- kyb uninstall ------------------------------------------------------------------------

    async def uninstall(self) -> UninstallReport:
        """Remove everything the pod network put on this host (best effort, errors reported)."""
        report = UninstallReport()
        for attachment in self.cache.all():
            if attachment.network_name != self.network_name:
                continue
            try:
                await self.teardown(attachment.netns, attachment.container_id)
                report.attachments.append(attachment.container_id)
            except Exception as e:
                report.errors.append(f"DEL {attachment.container_id}: {e}")
        sweeper = self._sweeper()
        for step in (lambda: sweeper.remove_network(self.network_name), sweeper.remove_unused_hostport_chains,
                     lambda: self._masquerade().remove()):
            try:
                report.chains += await step()
            except Exception as e:
                report.errors.append(f"iptables: {e}")
        try:
            report.links = await remove_bridge(self.bridge_name)
        except Exception as e:
            report.errors.append(f"bridge {self.bridge_name}: {e}")
        for path in (self.ipam_dir, self.conflist_path.parent, *self.cache.directories()):
            shutil.rmtree(path, ignore_errors=True)
        if self.run_root is not None:
            shutil.rmtree(self.run_root, ignore_errors=True)
        self._network = None
        self._host_prepared = False
        self._masquerade_cidr = ""
        try:
            report.sysctls_restored = self.sysctls.restore()
        except Exception as e:
            report.errors.append(f"sysctls: {e}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        return report


def _subnet(net: NetworkConfigList | None) -> str:
    """The pod CIDR of a configuration list written by config.py ("" if none)."""
    if net is None:
        return ""
    try:
        return str(net.plugins[0]["ipam"]["ranges"][0][0]["subnet"])
    except (KeyError, IndexError, TypeError):
        return ""


def _chain_for(net: NetworkConfigList, capability_args: dict[str, Any]) -> NetworkConfigList:
    """The plugins a pod's ADD runs: portmap only when the pod publishes host ports. Without port
    mappings portmap's ADD hands back its prevResult and changes nothing, so running it is a
    process per pod start for nothing. The attachment records the chain it ran, so its DEL
    (and CHECK) runs the same plugins."""
    if capability_args.get("portMappings"):
        return net
    plugins = tuple(p for p in net.plugins if p.get("type") != "portmap")
    if len(plugins) == len(net.plugins):
        return net
    return NetworkConfigList(net.name, net.cni_version, plugins)


def _with_result(attachment: Attachment, result: dict[str, Any] | None) -> Attachment:
    return Attachment(attachment.network_name, attachment.container_id, attachment.ifname, attachment.netns,
                      attachment.config, attachment.cni_args, attachment.capability_args, result)
