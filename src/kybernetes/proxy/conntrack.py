"""Clearing stale UDP conntrack entries, as kube-proxy does after a sync.

UDP has no connection to close: a client that keeps sending to a service IP from the same port
keeps hitting the conntrack entry made for an endpoint that is gone (or the REJECT made while
the service had none). So after a sync the proxier deletes, with the ``conntrack`` tool (Debian
package ``conntrack``), the UDP entries that point at removed endpoints, and the entries of UDP
services that just got their first endpoint. Without the tool this is skipped with one warning.
"""

from __future__ import annotations

import asyncio
import logging
import shutil

log = logging.getLogger(__name__)


class Conntrack:
    def __init__(self, binary: str | None = None):
        self.binary = binary or shutil.which("conntrack")
        self._warned = False

    @property
    def available(self) -> bool:
        return self.binary is not None

    async def _delete(self, *args: str) -> None:
        if self.binary is None:
            if not self._warned:
                log.warning("conntrack not installed: stale UDP flows to removed endpoints are not cleared")
                self._warned = True
            return
        proc = await asyncio.create_subprocess_exec(self.binary, "-D", "-p", "udp", *args,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.DEVNULL)
        await proc.wait()  # exit 1 just means "no entry matched"

    async def clear_service(self, service_ip: str) -> None:
        await self._delete("--orig-dst", service_ip)

    async def clear_endpoint(self, service_ip: str, endpoint_ip: str) -> None:
        await self._delete("--orig-dst", service_ip, "--dst-nat", endpoint_ip)

    async def clear_node_port(self, node_port: int) -> None:
        await self._delete("--dport", str(node_port))
