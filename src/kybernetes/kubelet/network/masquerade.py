"""One node-wide masquerade rule set for the pod network, instead of the bridge plugin's per-pod one.

The bridge plugin's ``ipMasq`` gives every pod a chain of its own (``CNI-<hash>``) and a
POSTROUTING rule jumping to it: about eight iptables runs per ADD and five per DEL, each loading
the whole nat table, slower as pods accumulate. What those rules do is the same for every pod of
the network, so the kubelet installs it once, for the whole pod CIDR (nat table):

    POSTROUTING    -s <podCIDR> -m comment "kyb pod network <name>" -j KYB-POD-MASQ
    KYB-POD-MASQ   -d <podCIDR>      -j RETURN       pod to pod (and to the bridge): untouched
                   -d 224.0.0.0/4    -j RETURN       multicast stays local (ff00::/8 for IPv6)
                   -j MASQUERADE                     anything else leaves with the node's address

The plugin's chain ends its pod-to-pod rule with ACCEPT; RETURN is the same for the packet but lets
the rules after ours in POSTROUTING (kube-proxy's, portmap's hairpin SNAT) still see it.

``ensure`` is idempotent (the chain is rewritten in one iptables-restore, the jump added only if
missing or replaced if it names another CIDR); ``remove`` takes it all away (``kyb uninstall``).
The default network's chain is KYB-POD-MASQ; another network (a second node on the host, tests)
gets ``KYB-POD-MASQ-<hash of its name>``.
"""

from __future__ import annotations

import hashlib
import ipaddress

from kybernetes.kubelet.network.commands import run_command
from kybernetes.kubelet.network.config import DEFAULT_NETWORK_NAME
from kybernetes.kubelet.network.iptables import NatTable

DEFAULT_CHAIN = "KYB-POD-MASQ"
MULTICAST = {4: "224.0.0.0/4", 6: "ff00::/8"}


def pod_masquerade_chain(network_name: str) -> str:
    if network_name == DEFAULT_NETWORK_NAME:
        return DEFAULT_CHAIN
    return f"{DEFAULT_CHAIN}-{hashlib.sha256(network_name.encode()).hexdigest()[:8].upper()}"


def masquerade_comment(network_name: str) -> str:
    return f"kyb pod network {network_name} masquerade"


def chain_rules(chain: str, pod_cidr: str, comment: str) -> list[list[str]]:
    """The rules of the chain, as ``-A`` argument lists."""
    network = ipaddress.ip_network(pod_cidr, strict=False)
    tag = ["-m", "comment", "--comment", comment]
    return [["-A", chain, "-d", str(network), *tag, "-j", "RETURN"],
            ["-A", chain, "-d", MULTICAST[network.version], *tag, "-j", "RETURN"],
            ["-A", chain, *tag, "-j", "MASQUERADE"]]


def restore_input(chain: str, pod_cidr: str, comment: str) -> bytes:
    """iptables-restore --noflush input that (re)writes the chain: declaring it flushes it."""
    lines = ["*nat", f":{chain} - [0:0]"]
    lines += [" ".join(_quote(w) for w in rule) for rule in chain_rules(chain, pod_cidr, comment)]
    lines.append("COMMIT")
    return ("\n".join(lines) + "\n").encode()


def _quote(word: str) -> str:
    return f'"{word}"' if " " in word else word


class PodMasquerade:
    """The node-wide masquerade rule set of one pod network, for one address family."""

    def __init__(self, network_name: str, *, family: int = 4):
        self.network_name = network_name
        self.chain = pod_masquerade_chain(network_name)
        self.comment = masquerade_comment(network_name)
        self.binary = "ip6tables" if family == 6 else "iptables"

    async def _iptables(self, *args: str, check: bool = True):
        return await run_command([self.binary, "-w", "5", "-t", "nat", *args], check=check)

    async def ensure(self, pod_cidr: str) -> bool:
        """Install (or correct) the rule set for ``pod_cidr``; True if the POSTROUTING jump changed."""
        subnet = str(ipaddress.ip_network(pod_cidr, strict=False))
        await run_command([f"{self.binary}-restore", "-w", "5", "--noflush"],
                          input=restore_input(self.chain, subnet, self.comment))
        jumps = [r for r in NatTable.parse((await self._iptables("-S", "POSTROUTING")).stdout).rules
                 if r.target == self.chain]
        if len(jumps) == 1 and _source(jumps[0].spec) == subnet:
            return False
        for rule in jumps:  # a jump for an older pod CIDR, or duplicates
            await self._iptables("-D", rule.chain, *rule.spec, check=False)
        await self._iptables("-A", "POSTROUTING", "-s", subnet, "-m", "comment", "--comment", self.comment,
                             "-j", self.chain)
        return True

    async def remove(self) -> list[str]:
        """Remove the jump and the chain; the chains removed ([] when there was none)."""
        table = NatTable.parse((await self._iptables("-S")).stdout)
        for rule in table.rules:
            if rule.target == self.chain:
                await self._iptables("-D", rule.chain, *rule.spec, check=False)
        if self.chain not in table.chains:
            return []
        await self._iptables("-F", self.chain, check=False)
        await self._iptables("-X", self.chain)
        return [self.chain]


def _source(spec: tuple[str, ...]) -> str:
    for i, arg in enumerate(spec[:-1]):
        if arg == "-s" and (i == 0 or spec[i - 1] != "!"):
            return spec[i + 1]
    return ""
