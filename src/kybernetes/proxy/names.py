"""Chain names: the fixed top-level chains and the hashed per-service / per-endpoint ones.

kube-proxy names a service port's chains ``KUBE-SVC-<16 base32 chars of sha256(ns/svc:port +
protocol)>`` (and SVL, EXT, FW with the same hash), an endpoint's ``KUBE-SEP-<hash of the same +
ip:port>``: names that stay put across restarts and fit iptables' 28-character limit. The
prefix ("KUBE") is a parameter so tests and benchmarks can run beside a real proxy without
touching its chains; it must be short enough for the longest name to fit.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

MAX_CHAIN_NAME = 28
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,6}$")


def _hash16(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


@dataclass(frozen=True)
class ChainNames:
    prefix: str = "KUBE"

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ValueError(f"chain prefix {self.prefix!r}: 1-7 upper-case letters or digits, "
                             "starting with a letter")

    # -- top-level chains ----------------------------------------------------------------------

    @property
    def services(self) -> str:
        return f"{self.prefix}-SERVICES"

    @property
    def external_services(self) -> str:
        return f"{self.prefix}-EXTERNAL-SERVICES"

    @property
    def nodeports(self) -> str:
        return f"{self.prefix}-NODEPORTS"

    @property
    def postrouting(self) -> str:
        return f"{self.prefix}-POSTROUTING"

    @property
    def mark_masq(self) -> str:
        return f"{self.prefix}-MARK-MASQ"

    @property
    def forward(self) -> str:
        return f"{self.prefix}-FORWARD"

    @property
    def proxy_firewall(self) -> str:
        return f"{self.prefix}-PROXY-FIREWALL"

    @property
    def firewall(self) -> str:
        """The localhost-martian guard (kubelet and kube-proxy both write it as KUBE-FIREWALL)."""
        return f"{self.prefix}-FIREWALL"

    @property
    def canary(self) -> str:
        """An empty chain whose disappearance means someone flushed the tables: resync fully."""
        return f"{self.prefix}-PROXY-CANARY"

    # -- per service port and endpoint ---------------------------------------------------------

    def service_hash(self, name_string: str, proto: str) -> str:
        return _hash16(name_string + proto)

    def svc(self, port_hash: str) -> str:
        return f"{self.prefix}-SVC-{port_hash}"

    def svl(self, port_hash: str) -> str:
        return f"{self.prefix}-SVL-{port_hash}"

    def ext(self, port_hash: str) -> str:
        return f"{self.prefix}-EXT-{port_hash}"

    def fw(self, port_hash: str) -> str:
        return f"{self.prefix}-FW-{port_hash}"

    def sep(self, name_string: str, proto: str, address: str) -> str:
        return f"{self.prefix}-SEP-{_hash16(name_string + proto + address)}"

    def is_service_chain(self, chain: str) -> bool:
        """True for the hashed chains a sync creates and deletes (SVC, SVL, EXT, FW, SEP)."""
        p = self.prefix
        return chain.startswith((f"{p}-SVC-", f"{p}-SVL-", f"{p}-EXT-", f"{p}-FW-", f"{p}-SEP-"))

    def is_ours(self, chain: str) -> bool:
        return chain.startswith(f"{self.prefix}-")

    # -- tables ----------------------------------------------------------------------------------

    @property
    def nat_top_level(self) -> tuple[str, ...]:
        return (self.services, self.nodeports, self.postrouting, self.mark_masq)

    @property
    def filter_top_level(self) -> tuple[str, ...]:
        return (self.services, self.external_services, self.forward, self.nodeports, self.proxy_firewall)
