"""Running ``nft`` (Debian package nftables): one transaction from stdin, a listing, a table delete.

``nft -f -`` parses the whole input, then commits it as one netlink batch: every line applies or
none does, which is what makes a sync atomic. On failure nft names the failing input line; the
error carries the lines around it.
"""

from __future__ import annotations

import re
import shutil

from kybernetes.proxy.tool_run import run_tool

FAILED_LINE = re.compile(r"^[^:\n]*:(\d+):\d+(?:-\d+)?: Error", re.MULTILINE)


class NftError(Exception):
    """nft is missing or rejected a command."""


def find_nft() -> str | None:
    return shutil.which("nft") or next((p for p in ("/usr/sbin/nft", "/sbin/nft") if shutil.which(p)), None)


class Nft:
    def __init__(self, binary: str | None = None, *, timeout: float = 600.0):
        self.binary = binary or find_nft()
        self.timeout = timeout
        self.transactions = 0  # applied (or tried), for tests and benchmarks

    async def _run(self, args: list[str], stdin: bytes | None = None) -> tuple[int, str, str]:
        if self.binary is None:
            raise NftError("nft is not installed (Debian package: nftables)")
        code, out, err = await run_tool([self.binary, *args], stdin, self.timeout, NftError)
        return code, out.decode(errors="replace"), err.decode(errors="replace")

    async def apply(self, lines: list[str]) -> None:
        """One ``nft -f -`` transaction."""
        self.transactions += 1
        code, _, err = await self._run(["-f", "-"], ("\n".join(lines) + "\n").encode())
        if code != 0:
            raise transaction_error(code, err, lines)

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

