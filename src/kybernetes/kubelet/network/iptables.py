"""Finding and removing the iptables rules and chains the bridge and portmap plugins created.

The plugins name their per-attachment chains after a hash of (network name + container id) and
tag their rules with a comment naming both, in the nat table:

    POSTROUTING  -s <pod ip> -m comment "name: \\"kyb\\" id: \\"<id>\\"" -j CNI-<hash>      (bridge ipMasq)
    CNI-HOSTPORT-DNAT  -m comment "dnat name: \\"kyb\\" id: \\"<id>\\"" -j CNI-DN-<hash>    (portmap)
    shared: CNI-HOSTPORT-DNAT (from PREROUTING, OUTPUT), CNI-HOSTPORT-SETMARK, CNI-HOSTPORT-MASQ

The plugins' own DEL normally removes the per-attachment ones, but bridge skips its masquerade
chain when the pod's netns is already gone (the chain would leak with every crashed pod), and
after a crash there may be no DEL at all. So after each DEL, and on uninstall, we sweep: every
rule whose comment names our network (and container), every chain those rules jump to, and on
uninstall the shared hostport chains once nothing else uses them.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass

from kybernetes.kubelet.network.commands import CommandResult, run_command

HOSTPORT_DNAT = "CNI-HOSTPORT-DNAT"
HOSTPORT_SETMARK = "CNI-HOSTPORT-SETMARK"
HOSTPORT_MASQ = "CNI-HOSTPORT-MASQ"
SHARED_CHAINS = (HOSTPORT_DNAT, HOSTPORT_SETMARK, HOSTPORT_MASQ)
BUILTIN_CHAINS = ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "FORWARD")
_MAX_CHAIN = 28


def _hash(network: str, container_id: str) -> str:
    return hashlib.sha512((network + container_id).encode()).hexdigest()


def masquerade_chain(network: str, container_id: str) -> str:
    """The bridge plugin's ipMasq chain for one attachment."""
    return ("CNI-" + _hash(network, container_id))[:_MAX_CHAIN]


def hostport_chain(network: str, container_id: str) -> str:
    """The portmap plugin's DNAT chain for one attachment."""
    return ("CNI-DN-" + _hash(network, container_id))[:_MAX_CHAIN]


def attachment_comment(network: str, container_id: str) -> str:
    return f'name: "{network}" id: "{container_id}"'


@dataclass(frozen=True)
class Rule:
    chain: str
    spec: tuple[str, ...]  # the arguments after ``-A CHAIN``

    @property
    def comment(self) -> str:
        return _option(self.spec, "--comment")

    @property
    def target(self) -> str:
        return _option(self.spec, "-j")


def _option(spec: tuple[str, ...], name: str) -> str:
    for i, arg in enumerate(spec[:-1]):
        if arg == name:
            return spec[i + 1]
    return ""


@dataclass(frozen=True)
class NatTable:
    chains: tuple[str, ...]
    rules: tuple[Rule, ...]

    @classmethod
    def parse(cls, dump: str) -> NatTable:
        chains: list[str] = []
        rules: list[Rule] = []
        for line in dump.splitlines():
            if not line.startswith(("-N ", "-A ")):
                continue  # -P policies, comments: nothing of ours
            if '"' in line or "'" in line or "\\" in line:
                try:
                    words = shlex.split(line)
                except ValueError:
                    continue
            else:
                words = line.split()  # the same words, without shlex's per-character cost
            if len(words) >= 2 and words[0] == "-N":
                chains.append(words[1])
            elif len(words) >= 2 and words[0] == "-A":
                rules.append(Rule(words[1], tuple(words[2:])))
        return cls(tuple(chains), tuple(rules))

    def references(self, chain: str) -> list[Rule]:
        return [r for r in self.rules if r.target == chain]


class IptablesSweeper:
    """Removes our leftovers from the nat table of one address family (iptables or ip6tables)."""

    def __init__(self, binary: str = "iptables"):
        self.binary = binary

    async def _iptables(self, *args: str, check: bool = False) -> CommandResult:
        return await run_command([self.binary, "-w", "5", "-t", "nat", *args], check=check)

    async def table(self) -> NatTable:
        return NatTable.parse((await self._iptables("-S", check=True)).stdout)

    async def _delete_chain(self, chain: str) -> bool:
        await self._iptables("-F", chain)
        return (await self._iptables("-X", chain)).returncode == 0

    async def remove_attachment(self, network: str, container_id: str) -> list[str]:
        """Remove what the plugins left for one attachment; the chains removed."""
        exact = attachment_comment(network, container_id)
        own = {masquerade_chain(network, container_id), hostport_chain(network, container_id)}
        return await self._remove(lambda c: c == exact or c == "dnat " + exact, own)

    async def remove_network(self, network: str) -> list[str]:
        """Remove what the plugins left for every attachment of ``network``; the chains removed."""
        prefix = attachment_comment(network, "")[:-2]  # 'name: "kyb" id: '
        return await self._remove(lambda c: c.startswith(prefix) or c.startswith("dnat " + prefix), set())

    async def _remove(self, ours, chains: set[str]) -> list[str]:
        table = await self.table()
        chains = set(chains)
        for rule in table.rules:
            if ours(rule.comment) and rule.target.startswith("CNI-") and rule.target not in SHARED_CHAINS:
                chains.add(rule.target)
        for rule in table.rules:
            if rule.chain not in chains and (ours(rule.comment) or rule.target in chains):
                await self._iptables("-D", rule.chain, *rule.spec)
        return [chain for chain in sorted(chains & set(table.chains)) if await self._delete_chain(chain)]

    async def remove_unused_hostport_chains(self) -> list[str]:
        """Drop portmap's shared chains once no port mapping of anyone's remains in them."""
        table = await self.table()
        if HOSTPORT_DNAT in table.chains and any(r.chain == HOSTPORT_DNAT for r in table.rules):
            return []  # another network's pods still publish host ports
        for rule in table.rules:
            if rule.chain in BUILTIN_CHAINS and rule.target in SHARED_CHAINS:
                await self._iptables("-D", rule.chain, *rule.spec)
        table = await self.table()
        removed = []
        for chain in SHARED_CHAINS:
            if chain not in table.chains:
                continue
            if any(r.chain not in SHARED_CHAINS for r in table.references(chain)):
                continue  # something outside the hostport chains still jumps here
            if await self._delete_chain(chain):
                removed.append(chain)
        return removed
