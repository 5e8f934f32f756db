"""The ranges Services draw from: the service CIDRs (cluster IPs) and the node-port range.

    --service-cluster-ip-range 10.43.0.0/16            one IPv4 range (k3s's default)
    --service-cluster-ip-range 10.43.0.0/16,fd00:43::/112   dual stack: the first is the primary
    --service-node-port-range 30000-32767              (or BASE+SIZE, as kube-apiserver takes)

Each range is split as Kubernetes splits it (KEP-3070): a small static band at the bottom that
dynamic allocation uses only when the rest is full, so well-known addresses such as the DNS
service's x.x.0.10 and hand-picked node ports rarely collide with random ones. The first address
of a service CIDR belongs to the ``kubernetes`` Service. Bad flags raise ValueError with a message
that says what is wrong.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPV4, IPV6 = "IPv4", "IPv6"
DEFAULT_SERVICE_CIDR = "10.43.0.0/16"
DEFAULT_NODE_PORT_RANGE = "30000-32767"
# IPv6 ranges can be huge; offsets are drawn from at most this many addresses (as the real allocator
# caps a range to 64 bits' worth).
_MAX_OFFSETS = 2**64


@dataclass(frozen=True)
class ServiceIPRange:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network

    @property
    def family(self) -> str:
        return IPV4 if self.network.version == 4 else IPV6

    @property
    def first_offset(self) -> int:
        return 1  # the network address itself is never handed out

    @property
    def size(self) -> int:
        """How many addresses may be allocated (IPv4 also loses the broadcast address)."""
        total = min(self.network.num_addresses, _MAX_OFFSETS)
        return max(total - (2 if self.network.version == 4 else 1), 0)

    @property
    def static_size(self) -> int:
        """The bottom band kept for requested addresses: min(max(16, size/16), 256)."""
        return min(max(16, self.size // 16), 256, self.size)

    def address(self, offset: int) -> str:
        """The address ``offset`` places into the usable range (offset 0 is the first usable)."""
        return str(self.network.network_address + self.first_offset + offset)

    def offset_of(self, ip: str) -> int | None:
        """Where ``ip`` sits in the usable range, or None when it is outside it."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if addr.version != self.network.version or addr not in self.network:
            return None
        offset = int(addr) - int(self.network.network_address) - self.first_offset
        return offset if 0 <= offset < self.size else None

    def contains(self, ip: str) -> bool:
        return self.offset_of(ip) is not None

    @property
    def first_ip(self) -> str:
        """The ``kubernetes`` Service's address."""
        return self.address(0)


@dataclass(frozen=True)
class NodePortRange:
    base: int = 30000
    size: int = 2768

    @property
    def last(self) -> int:
        return self.base + self.size - 1

    @property
    def static_size(self) -> int:
        """The bottom band kept for requested ports: min(max(16, size/32), 128)."""
        return min(max(16, self.size // 32), 128, self.size)

    def contains(self, port: int) -> bool:
        return self.base <= port <= self.last

    def __str__(self) -> str:
        return f"{self.base}-{self.last}"


def canonical_ip(value: str) -> str | None:
    """An address in the one spelling IPAddress objects are named by, or None when not an IP."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def family_of(ip: str) -> str | None:
    try:
        return IPV4 if ipaddress.ip_address(ip).version == 4 else IPV6
    except ValueError:
        return None


def parse_service_cidrs(text: str) -> tuple[ServiceIPRange, ...]:
    """One CIDR, or two of different families separated by a comma (the first is primary)."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    if not parts:
        raise ValueError("the service cluster IP range is empty; give a CIDR such as 10.43.0.0/16")
    if len(parts) > 2:
        raise ValueError(f"the service cluster IP range {text!r} has more than two CIDRs")
    ranges = []
    for part in parts:
        try:
            network = ipaddress.ip_network(part, strict=True)
        except ValueError as e:
            raise ValueError(f"the service cluster IP range {part!r} is not a valid CIDR: {e}") from None
        found = ServiceIPRange(network)
        if found.size < 8:
            raise ValueError(f"the service cluster IP range {part!r} is too small: it needs at least "
                             f"8 usable addresses")
        ranges.append(found)
    if len(ranges) == 2 and ranges[0].family == ranges[1].family:
        raise ValueError(f"the service cluster IP ranges {text!r} must be of different IP families "
                         f"(one IPv4, one IPv6)")
    return tuple(ranges)


def parse_node_port_range(text: str) -> NodePortRange:
    """"30000-32767" (inclusive) or "30000+2768" (base and size), as kube-apiserver reads it."""
    value = (text or "").strip()
    try:
        if "+" in value:
            base_text, size_text = value.split("+", 1)
            base, size = int(base_text), int(size_text)
        elif "-" in value:
            base_text, last_text = value.split("-", 1)
            base, size = int(base_text), int(last_text) - int(base_text) + 1
        else:
            base, size = int(value), 1
    except ValueError:
        raise ValueError(f"the node port range {text!r} is not of the form LOW-HIGH (e.g. 30000-32767)") from None
    if base < 1 or size < 1 or base + size - 1 > 65535:
        raise ValueError(f"the node port range {text!r} must lie within 1-65535 with LOW <= HIGH")
    return NodePortRange(base, size)
