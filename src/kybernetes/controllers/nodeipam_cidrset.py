"""A cluster CIDR cut into equal node subnets, and which of them are taken (Kubernetes' cidrset).

    CIDRSet("10.42.0.0/16", 24)      256 subnets 10.42.0.0/24 .. 10.42.255.0/24
        allocate_next()  the next free subnet after the last one handed out (round robin, so a
                         just-released subnet is not handed straight to another node while
                         stale routes to it may still exist)
        occupy(cidr)     mark a subnet (or any range inside the cluster CIDR) taken
        release(cidr)    give it back

Subnets are numbered by index, so the state is a set of integers and a cursor.
"""

from __future__ import annotations

import ipaddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_SUBNET_BITS = 16  # as Kubernetes: at most 65536 node subnets per cluster CIDR


class CIDRSetError(ValueError):
    """A CIDR that is malformed or does not fit the cluster CIDR."""


class CIDRRangeFull(Exception):
    """Every node subnet is taken."""


def parse_cidr(text: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as e:
        raise CIDRSetError(f"invalid CIDR {text!r}: {e}") from None


class CIDRSet:
    def __init__(self, cluster_cidr: str | IPNetwork, node_mask: int):
        self.network = parse_cidr(cluster_cidr) if isinstance(cluster_cidr, str) else cluster_cidr
        if not self.network.prefixlen <= node_mask <= self.network.max_prefixlen:
            raise CIDRSetError(f"node mask size /{node_mask} does not fit cluster CIDR {self.network}")
        if node_mask - self.network.prefixlen > MAX_SUBNET_BITS:
            raise CIDRSetError(f"cluster CIDR {self.network} with node mask /{node_mask} would make more than "
                               f"2^{MAX_SUBNET_BITS} node subnets; use a larger node mask or a smaller cluster CIDR")
        self.node_mask = node_mask
        self.size = 1 << (node_mask - self.network.prefixlen)
        self._subnet_size = 1 << (self.network.max_prefixlen - node_mask)
        self._used: set[int] = set()
        self._next = 0

    @property
    def family(self) -> int:
        return self.network.version

    def __len__(self) -> int:
        """How many subnets are taken."""
        return len(self._used)

    def subnet(self, index: int) -> IPNetwork:
        base = int(self.network.network_address) + index * self._subnet_size
        return ipaddress.ip_network(f"{ipaddress.ip_address(base)}/{self.node_mask}")

    def allocate_next(self) -> str:
        for step in range(self.size):
            index = (self._next + step) % self.size
            if index not in self._used:
                self._used.add(index)
                self._next = (index + 1) % self.size
                return str(self.subnet(index))
        raise CIDRRangeFull(f"no remaining node CIDRs in {self.network}")

    def _indices(self, cidr: str | IPNetwork) -> range:
        net = parse_cidr(cidr) if isinstance(cidr, str) else cidr
        if net.version != self.network.version:
            raise CIDRSetError(f"{net} is not an IPv{self.network.version} CIDR")
        if not (net.subnet_of(self.network) or self.network.subnet_of(net)):  # type: ignore[arg-type]
            raise CIDRSetError(f"{net} is outside the cluster CIDR {self.network}")
        lo = max(int(net.network_address), int(self.network.network_address))
        hi = min(int(net.broadcast_address), int(self.network.broadcast_address))
        first = (lo - int(self.network.network_address)) // self._subnet_size
        last = (hi - int(self.network.network_address)) // self._subnet_size
        return range(first, last + 1)

    def contains(self, cidr: str) -> bool:
        try:
            self._indices(cidr)
        except CIDRSetError:
            return False
        return True

    def occupy(self, cidr: str | IPNetwork) -> None:
        self._used.update(self._indices(cidr))

    def release(self, cidr: str | IPNetwork) -> None:
        self._used.difference_update(self._indices(cidr))

    def is_used(self, cidr: str) -> bool:
        return any(i in self._used for i in self._indices(cidr))
