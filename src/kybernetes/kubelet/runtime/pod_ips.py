"""Pod IPs from a node's pod CIDR, handed out as CNI's host-local IPAM does.

The network address, the gateway (the first host address, which the bridge plugin takes) and
the broadcast address are never given out; allocation goes round-robin from the last address
handed out, so an address just released is not reused at once (a stale endpoint pointing at a
new pod would be worse than a gap).
"""

from __future__ import annotations

import ipaddress


class PodCIDRExhaustedError(Exception):
    """Every address of the pod CIDR is in use."""


class PodIPAllocator:
    def __init__(self, cidr: str):
        try:
            self.network = ipaddress.ip_network(cidr, strict=False)
        except ValueError as e:
            raise ValueError(f"invalid pod CIDR {cidr!r}: {e}") from None
        if self.network.num_addresses < 4:
            raise ValueError(f"pod CIDR {cidr} is too small to hold a pod")
        self.cidr = str(self.network)
        self._first = int(self.network.network_address) + 2  # skip the network and the gateway
        self._last = int(self.network.broadcast_address) - 1
        self._next = self._first
        self._used: set[int] = set()

    @property
    def capacity(self) -> int:
        return self._last - self._first + 1

    def __len__(self) -> int:
        return len(self._used)

    def allocate(self) -> str:
        if len(self._used) >= self.capacity:
            raise PodCIDRExhaustedError(f"no free address left in pod CIDR {self.cidr}")
        candidate = self._next
        while candidate in self._used:
            candidate = self._first if candidate >= self._last else candidate + 1
        self._used.add(candidate)
        self._next = self._first if candidate >= self._last else candidate + 1
        return str(ipaddress.ip_address(candidate))

    def reserve(self, ip: str) -> None:
        """Mark ``ip`` as in use (an address handed out before this allocator existed)."""
        if ip in self:
            self._used.add(int(ipaddress.ip_address(ip)))

    def release(self, ip: str) -> None:
        try:
            self._used.discard(int(ipaddress.ip_address(ip)))
        except ValueError:
            pass

    def __contains__(self, ip: object) -> bool:
        try:
            return ipaddress.ip_address(str(ip)) in self.network
        except ValueError:
            return False


def fallback_pod_cidr(index: int, base: str = "172.16.0.0/12", prefix: int = 24) -> str:
    """The ``index``-th /``prefix`` of ``base``: a pod range for a node the node IPAM controller
    has not given one (wraps around when ``base`` runs out)."""
    network = ipaddress.ip_network(base)
    subnets = 2 ** (prefix - network.prefixlen)
    offset = (index % subnets) * 2 ** (network.max_prefixlen - prefix)
    return f"{ipaddress.ip_address(int(network.network_address) + offset)}/{prefix}"
