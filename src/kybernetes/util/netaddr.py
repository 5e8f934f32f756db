"""The host's own names and addresses, for the SANs of the apiserver's serving certificate.

Read from the kernel (/proc and a SIOCGIFADDR ioctl per interface) rather than from DNS, so a
machine whose hostname does not resolve still gets a certificate valid for every address a
client may dial.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct

_SIOCGIFADDR = 0x8915


def _ipv4_of(ifname: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", ifname.encode()[:15]))
        except OSError:  # interface without an IPv4 address
            return None
    return socket.inet_ntoa(packed[20:24])


def _ipv6_addresses() -> list[str]:
    try:
        with open("/proc/net/if_inet6") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        fields = line.split()
        if not fields:
            continue
        addr = ipaddress.IPv6Address(bytes.fromhex(fields[0]))
        if addr.is_link_local:  # fe80:: needs a zone; a certificate cannot name it usefully
            continue
        out.append(str(addr))
    return out


def local_addresses() -> list[str]:
    """Every IPv4 and global/ULA/loopback IPv6 address configured on this host."""
    found: list[str] = []
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        names = []
    for name in names:
        addr = _ipv4_of(name)
        if addr and addr not in found:
            found.append(addr)
    for addr in _ipv6_addresses():
        if addr not in found:
            found.append(addr)
    return found


def local_hostnames() -> list[str]:
    """The hostname, lower case. (No reverse DNS: on a machine without a resolver it would stall
    every start for seconds.)"""
    name = socket.gethostname().lower()
    return [name] if name else []
