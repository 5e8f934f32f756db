"""Where a cluster keeps its state, and the URL clients on this machine use."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

ROOT_DATA_DIR = Path("/var/lib/kybernetes")


def default_data_dir() -> Path:
    """/var/lib/kybernetes for root, else $XDG_DATA_HOME/kybernetes (~/.local/share/kybernetes)."""
    if os.geteuid() == 0:
        return ROOT_DATA_DIR
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "kybernetes"


def local_server_url(bind_address: str, port: int) -> str:
    """The apiserver URL for clients on this machine: loopback unless bound to one address."""
    host = bind_address.strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return f"https://{host}:{port}" if host and host != "localhost" else f"https://127.0.0.1:{port}"
    if ip.is_unspecified or ip == ipaddress.ip_address("127.0.0.1"):
        return f"https://127.0.0.1:{port}"
    return f"https://[{ip}]:{port}" if ip.version == 6 else f"https://{ip}:{port}"
