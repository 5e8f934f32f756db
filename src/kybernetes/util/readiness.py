"""Is an HTTP(S) endpoint answering 200? Used by `kyb up`'s supervisor to wait for a /readyz.

One GET over a plain asyncio stream: the supervisor only ever asks this question, and a full
HTTP client library would be most of its memory and a noticeable part of its start-up time.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from urllib.parse import urlsplit


def ca_ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """Trust exactly ``ca_file`` (the cluster CA), or the system roots when None."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


async def _status(url: str, ssl_context: ssl.SSLContext | None) -> int:
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host = parts.hostname or "localhost"
    port = parts.port or (443 if secure else 80)
    tls = (ssl_context or ssl.create_default_context()) if secure else None
    reader, writer = await asyncio.open_connection(host, port, ssl=tls)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        name = f"[{host}]" if ":" in host else host
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {name}:{port}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await reader.readline()  # HTTP/1.1 200 OK
        fields = status_line.split()
        return int(fields[1]) if len(fields) >= 2 and fields[0].startswith(b"HTTP/") and fields[1].isdigit() else 0
    finally:
        writer.close()


async def http_ok(url: str, ssl_context: ssl.SSLContext | None = None, timeout: float = 2.0) -> bool:
    """True when GET ``url`` answers 200; False on any other answer or a connection failure."""
    try:
        return await asyncio.wait_for(_status(url, ssl_context), timeout) == 200
    except (TimeoutError, OSError, ssl.SSLError, ValueError):
        return False
