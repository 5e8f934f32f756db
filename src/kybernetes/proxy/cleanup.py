"""Removing every rule the proxy made, in either mode: ``kyb proxy --cleanup`` and ``kyb uninstall``.

iptables mode: chains named ``<prefix>-...`` in the filter and nat tables, and the rules in the
built-in chains that jump to them. Each table is cleaned in one iptables-restore: delete those
jump rules (by their exact text from iptables-save), flush our chains (so they no longer
reference each other), delete them. Nothing else in the tables is touched.
nftables mode: the whole ``ip kybernetes-proxy`` table (nft_table.table_name), deleted at once.
Either tool may be missing; the other mode is still cleaned. Idempotent: with nothing of ours
left it does nothing. (route_localnet stays as the proxy set it, as kube-proxy leaves it.)
"""

from __future__ import annotations

import logging

from kybernetes.proxy.iptables import Iptables, IptablesError
from kybernetes.proxy.names import ChainNames
from kybernetes.proxy.nft_table import FAMILY, table_name
from kybernetes.proxy.nft_tool import Nft
from kybernetes.proxy.rules_table import chain_line

log = logging.getLogger(__name__)

TABLES = ("filter", "nat")
BUILTIN = frozenset({"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"})


def cleanup_lines(table: str, save_output: str, names: ChainNames) -> list[str] | None:
    """The restore input that removes our chains and jumps from one table (None: nothing to do)."""
    ours: list[str] = []
    deletes: list[str] = []
    for line in save_output.splitlines():
        if line.startswith(":"):
            chain = line[1:].split(" ", 1)[0]
            if names.is_ours(chain):
                ours.append(chain)
        elif line.startswith("-A "):
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[1] in BUILTIN:
                target = line.rsplit(" -j ", 1)[-1].split(" ", 1)[0] if " -j " in line else ""
                if names.is_ours(target):
                    deletes.append("-D " + line[3:])
    if not ours and not deletes:
        return None
    return [f"*{table}", *deletes, *(chain_line(c) for c in ours), *(f"-X {c}" for c in ours), "COMMIT"]


async def cleanup(iptables: Iptables | None = None, prefix: str = "KUBE", nft: Nft | None = None) -> bool:
    """Remove all our chains, jump rules and nftables table; True when something was removed.

    Raises IptablesError / NftError when something of ours is there but cannot be removed."""
    names = ChainNames(prefix)
    removed = await cleanup_nft(nft, prefix)
    if iptables is None:
        try:
            iptables = Iptables()
        except IptablesError as e:
            log.debug("no iptables to clean: %s", e)
            return removed
    for table in TABLES:
        try:
            saved = await iptables.save(table)
        except IptablesError as e:
            log.debug("no %s table to clean: %s", table, e)
            continue
        lines = cleanup_lines(table, saved, names)
        if lines is not None:
            await iptables.restore(lines)
            removed = True
    return removed


async def cleanup_nft(nft: Nft | None = None, prefix: str = "KUBE") -> bool:
    """Delete the nftables mode's table; False when it (or nft) is not there."""
    nft = nft or Nft()
    if nft.binary is None:
        return False
    return await nft.delete_table(FAMILY, table_name(prefix))
