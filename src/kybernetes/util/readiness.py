"""Is an HTTPS endpoint answering 200? Used to wait for a component's /readyz."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp


def ca_ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """Trust exactly ``ca_file`` (the cluster CA), or the system roots when None."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


async def http_ok(url: str, ssl_context: ssl.SSLContext | None = None, timeout: float = 2.0) -> bool:
    """True when GET ``url`` answers 200; False on any other answer or a connection failure."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.get(url, ssl=ssl_context if ssl_context is not None else True) as resp:
                return resp.status == 200
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False
