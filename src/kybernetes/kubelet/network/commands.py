"""Running the host's networking tools (iptables, ip) from the event loop (kubelet/processes.py), with
typed errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kybernetes.kubelet import processes

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


async def run_command(argv: Sequence[str], *, check: bool = True, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                      input: bytes | None = None) -> CommandResult:
    try:
        done = await processes.run(argv, input=input, timeout=timeout)
    except OSError as e:
        raise HostCommandError(argv, f"cannot run: {e}") from None
    result = CommandResult(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))
    if check and result.returncode != 0:
        raise HostCommandError(argv, result.stderr.strip() or f"exit status {result.returncode}",
                               result.returncode)
    return result
