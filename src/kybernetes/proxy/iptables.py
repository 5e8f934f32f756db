"""Running iptables: restore, save, list one chain; the backend picked once and used throughout.

Debian's ``iptables`` is an alternatives link to either the nf_tables or the legacy binaries;
rules written with one are invisible to the other's save, so the proxier resolves the backend
once (``iptables-restore --version`` says "(nf_tables)" or "(legacy)") and then calls that
backend's own tools (iptables-nft-restore, ...) for every command.

Measured on iptables 1.8.9 (nf_tables): one restore costs roughly (rules) x (chains written in
the same batch), so a 10k-service rule set (60k chains) in a single batch takes many minutes
while 1k services take seconds. ``Iptables.restore`` is one batch; the proxier stages very large
full syncs in several batches (see proxier.py) and keeps the usual, small syncs atomic.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from kybernetes.proxy.tool_run import run_tool

RESTORE_FAILED_LINE = re.compile(r"line (\d+) failed")


class IptablesError(Exception):
    """An iptables command failed; ``context`` holds the restore input around the failing line."""

    def __init__(self, message: str, context: str = ""):
        super().__init__(message + (f"\n{context}" if context else ""))
        self.context = context


@dataclass(frozen=True)
class Backend:
    mode: str  # "nf_tables" | "legacy"
    iptables: str
    restore: str
    save: str


def detect_backend(preferred: str = "auto") -> Backend:
    """The tools of the backend ``iptables`` points at (or of ``preferred``: nft | legacy)."""
    if preferred not in ("auto", "nft", "legacy"):
        raise ValueError(f"iptables backend {preferred!r}: use auto, nft or legacy")
    if preferred == "auto":
        path = shutil.which("iptables")
        if path is None:
            raise IptablesError("iptables is not installed (Debian package: iptables)")
        try:
            out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError) as e:
            raise IptablesError(f"cannot run iptables --version: {e}") from None
        preferred = "legacy" if "(legacy)" in out else "nft"
    suffix = "nft" if preferred == "nft" else "legacy"
    tools = [f"iptables-{suffix}", f"iptables-{suffix}-restore", f"iptables-{suffix}-save"]
    if all(shutil.which(t) for t in tools):
        return Backend("nf_tables" if suffix == "nft" else "legacy", *tools)
    if all(shutil.which(t) for t in ("iptables", "iptables-restore", "iptables-save")):
        return Backend("nf_tables" if suffix == "nft" else "legacy", "iptables", "iptables-restore", "iptables-save")
    raise IptablesError("iptables, iptables-restore and iptables-save are needed (Debian package: iptables)")


class Iptables:
    """The few iptables operations the proxier needs, as asyncio subprocesses."""

    def __init__(self, backend: Backend | None = None, *, lock_wait: int = 5, timeout: float = 600.0):
        self.backend = backend or detect_backend()
        self.lock_wait = lock_wait
        self.timeout = timeout
        self.restores = 0  # batches run, for tests and benchmarks

    async def _run(self, argv: list[str], stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
        return await run_tool(argv, stdin, self.timeout, IptablesError)

    async def restore(self, lines: list[str]) -> None:
        """One ``iptables-restore --noflush`` transaction (all of it or none of it)."""
        text = "\n".join(lines) + "\n"
        self.restores += 1
        code, _, err = await self._run([self.backend.restore, "--noflush", "-w", str(self.lock_wait)],
                                       text.encode())
        if code != 0:
            message = err.decode(errors="replace").strip()
            context = ""
            found = RESTORE_FAILED_LINE.search(message)
            if found:
                number = int(found.group(1))
                context = "\n".join(f"{i + 1}: {lines[i]}" for i in range(max(0, number - 3), min(len(lines), number + 2)))
            raise IptablesError(f"{self.backend.restore} failed (exit {code}): {message}", context)

    async def save(self, table: str) -> str:
        code, out, err = await self._run([self.backend.save, "-t", table])
        if code != 0:
            raise IptablesError(f"{self.backend.save} -t {table} failed: {err.decode(errors='replace').strip()}")
        return out.decode(errors="replace")

    async def list_chain(self, table: str, chain: str) -> list[str] | None:
        """``iptables -t T -S CHAIN`` lines, or None when the chain (or table) does not exist."""
        code, out, _ = await self._run([self.backend.iptables, "-w", str(self.lock_wait), "-t", table, "-S", chain])
        if code != 0:
            return None
        return out.decode(errors="replace").splitlines()

    async def chain_names(self, table: str) -> set[str]:
        return chain_names(await self.save(table))


def chain_names(save_output: str) -> set[str]:
    """The chains an iptables-save dump declares (its ``:NAME POLICY [counters]`` lines)."""
    return {line[1:].split(" ", 1)[0] for line in save_output.splitlines() if line.startswith(":") and len(line) > 1}
