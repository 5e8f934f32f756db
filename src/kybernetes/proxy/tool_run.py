"""Running a packet-filter tool (iptables-restore, nft, ...) as an asyncio subprocess.

Both proxy modes drive the kernel through a binary fed on stdin. What they need alike: a run that
cannot hang a sync forever (a timeout that kills the child and reaps it, also when the sync is
cancelled), and a missing or unrunnable binary reported as the mode's own typed error instead of
an OSError traceback.
"""

from __future__ import annotations

import asyncio


async def run_tool(argv: list[str], stdin: bytes | None, timeout: float,
                   error: type[Exception]) -> tuple[int, bytes, bytes]:
    """Run ``argv`` (stdin piped in when given); returns (exit code, stdout, stderr).

    A binary that cannot be started raises ``error("cannot run <binary>: ...")``; on a timeout or
    a cancellation the child is killed and reaped before the exception propagates.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except OSError as e:
        raise error(f"cannot run {argv[0]}: {e}") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    return proc.returncode or 0, out, err
