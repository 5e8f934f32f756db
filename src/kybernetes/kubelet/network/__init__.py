"""Pod networking with the standard CNI plugins (bridge, host-local, portmap, loopback).

    runtime (runc)  run_pod_sandbox ──► PodNetwork.setup(netns, sandbox id, pod, hostPorts) → IPs
                    stop_pod_sandbox ─► PodNetwork.teardown(netns, sandbox id)   (idempotent)
    kubelet         update_runtime_config(podCIDR) ─► PodNetwork.configure(podCIDR)
                    start-up ─► cleanup_leftovers(live sandbox ids)
    kyb uninstall   ─► PodNetwork.uninstall(): bridge, IPAM state, iptables chains, sysctls

    manager.py   PodNetwork, the PodNetworkPlugin protocol and NoNetwork (hostNetwork, tests)
    config.py    the configuration list the kubelet writes (bridge + host-local, portmap)
    cni.py       the CNI exec protocol: ADD in order, DEL in reverse, CHECK; typed errors
    cache.py     per-attachment records, so DEL gets the ADD's result after a restart
    iptables.py  finding and removing the chains the plugins left behind
    masquerade.py  the node-wide masquerade rule set (the bridge plugin's ipMasq stays off)
    sysctl.py    ip_forward and bridge-nf-call-iptables, set and recorded for undo
"""

from kybernetes.kubelet.network.cni import (
    CniConfigError,
    CniError,
    CniPluginNotFoundError,
    CniTimeoutError,
)
from kybernetes.kubelet.network.manager import NoNetwork, PodNetwork, PodNetworkPlugin

__all__ = [
    "CniConfigError",
    "CniError",
    "CniPluginNotFoundError",
    "CniTimeoutError",
    "NoNetwork",
    "PodNetwork",
    "PodNetworkPlugin",
]
