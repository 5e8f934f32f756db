"""The subprocess runner both modes' tools use: output, typed errors, no child left on a timeout."""

from __future__ import annotations

import os
import sys

import pytest

from kybernetes.proxy.iptables import Backend, Iptables, IptablesError
from kybernetes.proxy.nft_tool import Nft, NftError
from kybernetes.proxy.tool_run import run_tool


class ToolError(Exception):
    pass


async def test_stdin_in_stdout_and_exit_code_out():
    code, out, err = await run_tool([sys.executable, "-c", "import sys; d = sys.stdin.read(); print(d.upper());"
                                     "sys.stderr.write('e'); sys.exit(3)"], b"lines", 10.0, ToolError)
    assert (code, out, err) == (3, b"LINES\n", b"e")


async def test_a_missing_binary_is_the_callers_typed_error():
    with pytest.raises(ToolError, match="cannot run /nonexistent/tool"):
        await run_tool(["/nonexistent/tool"], None, 10.0, ToolError)
    with pytest.raises(IptablesError, match="cannot run /nonexistent/iptables-restore"):
        await Iptables(Backend("nf_tables", "/nonexistent/iptables", "/nonexistent/iptables-restore",
                               "/nonexistent/iptables-save")).restore(["*nat", "COMMIT"])
    with pytest.raises(NftError, match="cannot run /nonexistent/nft"):
        await Nft("/nonexistent/nft").apply(["flush ruleset"])


async def test_a_timeout_kills_and_reaps_the_child(tmp_path):
    pid_file = tmp_path / "pid"
    child = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(30)"
    with pytest.raises(TimeoutError):
        await run_tool([sys.executable, "-c", child], None, 2.0, ToolError)  # (time for the child to start under load)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # killed and waited for: not even a zombie is left
        os.kill(pid, 0)
