"""Running ``nft`` (Debian package nftables): one transaction from stdin, a listing, a table delete.

``nft -f -`` parses the whole input, then commits it as one netlink batch: every line applies or
none does, which is what makes a sync atomic. On failure nft names the failing input line; the
error carries the lines around it.

Small transactions made only of the statements nft_compile.py understands (a partial sync's) skip
the nft process: the same messages go to the kernel over our own netlink socket (nft_netlink.py),
which saves nft's start and its dump of every chain in the family (~50 ms at 10k services). If
the kernel refuses that batch (nothing is committed then), the transaction is run again with
``nft -f``, so failures read exactly as before and an encoding gap can only cost time.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil

from kybernetes.proxy.nft_compile import compile_lines
from kybernetes.proxy.nft_netlink import NetlinkError, NftNetlink
from kybernetes.proxy.tool_run import run_tool

log = logging.getLogger(__name__)

FAILED_LINE = re.compile(r"^[^:\n]*:(\d+):\d+(?:-\d+)?: Error", re.MULTILINE)


class NftError(Exception):
    """nft is missing or rejected a command."""


def find_nft() -> str | None:
    return shutil.which("nft") or next((p for p in ("/usr/sbin/nft", "/sbin/nft") if shutil.which(p)), None)


class Nft:
    def __init__(self, binary: str | None = None, *, timeout: float = 600.0, netlink: bool = True):
        self.binary = binary or find_nft()
        self.timeout = timeout
        self.netlink = netlink  # small transactions over our own socket (see the module docstring)
        self._socket: NftNetlink | None = None
        self.transactions = 0  # applied (or tried), for tests and benchmarks
        self.netlink_transactions = 0  # of which committed over netlink

    async def _run(self, args: list[str], stdin: bytes | None = None) -> tuple[int, str, str]:
        if self.binary is None:
            raise NftError("nft is not installed (Debian package: nftables)")
        code, out, err = await run_tool([self.binary, *args], stdin, self.timeout, NftError)
        return code, out.decode(errors="replace"), err.decode(errors="replace")

    async def apply(self, lines: list[str]) -> None:
        """One ``nft -f -`` transaction (committed over netlink when it is small and understood)."""
        self.transactions += 1
        if self.netlink and self.binary is not None:
            messages = compile_lines(lines)
            if messages is not None and await self._commit(messages):
                self.netlink_transactions += 1
                return
        code, _, err = await self._run(["-f", "-"], ("\n".join(lines) + "\n").encode())
        if code != 0:
            raise transaction_error(code, err, lines)

    async def _commit(self, messages: list) -> bool:
        """Whether the batch was committed; False (nothing committed) sends the caller to nft -f."""
        try:
            if self._socket is None:
                try:
                    self._socket = NftNetlink()
                except NetlinkError as e:
                    self.netlink = False  # no netfilter netlink here: nft -f from now on
                    log.info("nf_tables netlink unavailable, using nft -f only: %s", e)
                    return False
            await asyncio.to_thread(self._socket.commit, messages)
            return True
        except NetlinkError as e:
            if e.uncertain:
                # Committed or not, nobody knows: fail the sync (the proxier's next one is a full one)
                # and start over on a fresh socket.
                self.close()
                raise NftError(f"nf_tables netlink batch outcome unknown: {e}") from None
            log.debug("netlink batch not committed, running nft -f instead: %s", e)
            return False

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def list(self, *what: str) -> str | None:
        """``nft -t list <what>`` (terse: no set elements), or None when it does not exist."""
        code, out, err = await self._run(["-t", "list", *what])
        if code != 0:
            if "No such file" in err or "does not exist" in err:
                return None
            raise NftError(f"nft list {' '.join(what)} failed: {err.strip()}")
        return out

    async def has_object(self, *what: str) -> bool:
        """Whether ``nft list <what>`` finds it. Cheap only for small objects: ``nft list tables``
        and ``nft list table`` read every rule of the ruleset (seconds at 10k services)."""
        code, _, _ = await self._run(["-t", "list", *what])
        return code == 0

    async def delete_table(self, family: str, table: str) -> bool:
        """Delete a whole table; False when there was none."""
        code, _, err = await self._run(["delete", "table", family, table])
        if code != 0:
            if "No such file or directory" in err:
                return False
            raise NftError(f"nft delete table {family} {table} failed: {err.strip()}")
        return True


def transaction_error(code: int, err: str, lines: list[str]) -> NftError:
    message = "\n".join(err.strip().splitlines()[:12])
    found = FAILED_LINE.search(err)
    context = ""
    if found:
        n = int(found.group(1))
        context = "\n" + "\n".join(f"{i + 1}: {lines[i][:300]}" for i in range(max(0, n - 3), min(len(lines), n + 1)))
    return NftError(f"nft -f failed (exit {code}): {message}{context}")

