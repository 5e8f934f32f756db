"""The pod network configuration the kubelet writes for itself: a bridge with host-local IPAM.

    host                                                 pod netns
    ─────────────────────────────────────────────        ─────────────
    kyb0 (bridge, gateway = first IP of podCIDR) ◄─veth─► eth0 (IP from podCIDR, default via kyb0)
         │ traffic leaving the podCIDR is masqueraded: one rule set for the node (masquerade.py),
         │ not the plugin's ipMasq (a chain and ~13 iptables runs per pod)
         │ portmap: hostPort → podIP:containerPort (DNAT), with SNAT for hairpin/localhost
                                                         lo   (up; the loopback plugin, separately)

Every node gets its own podCIDR (the node IPAM controller sets spec.podCIDR); the kubelet hands
it here when it learns it (``update_runtime_config``). host-local keeps its allocations under
the kubelet's data directory, not /var/lib/cni, so ``kyb uninstall`` knows what is ours.

The loopback plugin is not part of the list: like containerd and CRI-O, the kubelet brings ``lo``
up in every pod with a separate one-plugin configuration (``loopback_config``), unless the runtime
already did (the runc runtime's sandbox does, as it makes the namespaces: PodNetwork(loopback=False)).
portmap runs only for pods that publish host ports (manager.py).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kybernetes.kubelet.network.cni import SPEC_VERSION, CniConfigError, NetworkConfigList

DEFAULT_NETWORK_NAME = "kyb"
DEFAULT_BRIDGE_NAME = "kyb0"
MAX_IFNAME = 15

LOOPBACK_NETWORK_NAME = "kyb-loopback"


def validate_pod_cidr(pod_cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        network = ipaddress.ip_network(pod_cidr, strict=False)
    except ValueError as e:
        raise CniConfigError(f"invalid pod CIDR {pod_cidr!r}: {e}") from None
    if network.num_addresses < 4:
        raise CniConfigError(f"pod CIDR {pod_cidr} is too small to hold a pod")
    return network


def bridge_conflist(pod_cidr: str, ipam_data_dir: str, *, network_name: str = DEFAULT_NETWORK_NAME,
                    bridge_name: str = DEFAULT_BRIDGE_NAME, mtu: int = 0) -> NetworkConfigList:
    """The configuration list for ``pod_cidr``: bridge (+ host-local IPAM), then portmap."""
    network = validate_pod_cidr(pod_cidr)
    if not bridge_name or len(bridge_name) > MAX_IFNAME or "/" in bridge_name:
        raise CniConfigError(f"invalid bridge name {bridge_name!r}")
    default_route = "0.0.0.0/0" if network.version == 4 else "::/0"
    bridge: dict[str, Any] = {
        "type": "bridge",
        "bridge": bridge_name,
        "isGateway": True,
        "ipMasq": False,  # masquerade.py does it once for the whole pod CIDR
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": str(network)}]],
            "routes": [{"dst": default_route}],
            "dataDir": ipam_data_dir,
        },
    }
    if mtu:
        bridge["mtu"] = mtu
    portmap = {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}
    return NetworkConfigList.from_dict({"cniVersion": SPEC_VERSION, "name": network_name,
                                        "plugins": [bridge, portmap]})


def loopback_config() -> NetworkConfigList:
    """The loopback plugin as a one-plugin list (so the same executor runs it)."""
    return NetworkConfigList.from_dict({"cniVersion": SPEC_VERSION, "name": LOOPBACK_NETWORK_NAME,
                                        "plugins": [{"type": "loopback"}]})


def port_mappings_capability(port_mappings: Any) -> list[dict[str, Any]]:
    """CRI PortMappings (objects with container_port, host_port, protocol, host_ip) as the
    ``portMappings`` capability argument; mappings without a host port are not published."""
    out = []
    for pm in port_mappings or ():
        host_port = _port(getattr(pm, "host_port", 0) or 0, "host port", allow_zero=True)
        if host_port == 0:
            continue
        container_port = _port(getattr(pm, "container_port", None), "container port")
        protocol = str(getattr(pm, "protocol", "TCP") or "TCP").lower()
        if protocol not in ("tcp", "udp", "sctp"):
            raise CniConfigError(f"invalid protocol {protocol!r} for host port {host_port}")
        entry: dict[str, Any] = {"hostPort": host_port, "containerPort": container_port, "protocol": protocol}
        host_ip = str(getattr(pm, "host_ip", "") or "")
        if host_ip:
            try:
                ipaddress.ip_address(host_ip)
            except ValueError:
                raise CniConfigError(f"invalid host IP {host_ip!r} for host port {host_port}") from None
            entry["hostIP"] = host_ip
        out.append(entry)
    return out


def _port(value: Any, what: str, allow_zero: bool = False) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and (0 if allow_zero else 1) <= value <= 65535:
        return value
    raise CniConfigError(f"invalid {what} {value!r}")
