"""The host-side links of the pod network: the bridge and the veths plugged into it.

Only ``kyb uninstall`` needs these: the bridge plugin creates the bridge on the first ADD and
never deletes it (other pods may still use it), and a veth's host end normally disappears with
its pod's netns or the plugin's DEL.
"""

from __future__ import annotations

import json

from kybernetes.kubelet.network.commands import run_command


async def link_exists(name: str) -> bool:
    return (await run_command(["ip", "link", "show", "dev", name], check=False)).returncode == 0


async def ports_of_bridge(bridge: str) -> list[str]:
    result = await run_command(["ip", "-j", "link", "show", "master", bridge], check=False)
    if result.returncode != 0 or not result.stdout.strip():
        return []
    try:
        return [str(link["ifname"]) for link in json.loads(result.stdout) if link.get("ifname")]
    except (ValueError, TypeError, KeyError):
        return []


async def remove_bridge(bridge: str) -> list[str]:
    """Delete every veth plugged into ``bridge``, then the bridge; the links removed."""
    if not await link_exists(bridge):
        return []
    removed = []
    for port in await ports_of_bridge(bridge):
        if (await run_command(["ip", "link", "delete", "dev", port], check=False)).returncode == 0:
            removed.append(port)
    await run_command(["ip", "link", "delete", "dev", bridge, "type", "bridge"])
    removed.append(bridge)
    return removed
