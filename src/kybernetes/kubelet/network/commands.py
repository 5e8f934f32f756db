"""Running the host's networking tools (iptables, ip) as asyncio subprocesses, with typed errors."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_TIMEOUT_SECONDS = 30.0


class HostCommandError(Exception):
    """A host tool failed or could not be run."""

    def __init__(self, argv: Sequence[str], message: str, returncode: int | None = None):
        self.argv = tuple(argv)
        self.returncode = returncode
        super().__init__(f"{' '.join(argv)}: {message}")


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


async def run_command(argv: Sequence[str], *, check: bool = True,
                      timeout: float = DEFAULT_TIMEOUT_SECONDS) -> CommandResult:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
    except OSError as e:
        raise HostCommandError(argv, f"cannot run: {e}") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    result = CommandResult(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))
    if check and result.returncode != 0:
        raise HostCommandError(argv, result.stderr.strip() or f"exit status {result.returncode}",
                               result.returncode)
    return result
