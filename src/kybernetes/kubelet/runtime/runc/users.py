"""Resolve a container's user inside its image: ``User`` may be a name, "uid", "uid:gid",
"name:group" ..., looked up in the rootfs' own /etc/passwd and /etc/group, never the host's.

The result carries the uid, the primary gid, the additional groups the user belongs to, and
the home directory (for $HOME), as runc needs numbers and the kubelet's runAsNonRoot check needs
the uid of a named user.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class UserResolutionError(Exception):
    """The user or group is not known in the image."""


@dataclass(frozen=True)
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"


def _entries(rootfs: str, name: str) -> list[list[str]]:
    path = Path(rootfs) / "etc" / name
    try:
        # the file belongs to the image: read it, but never follow a link out of the rootfs
        if path.is_symlink():
            return []
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line.split(":") for line in lines if line and not line.startswith("#")]


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class AccountFiles:
    """The entries of a rootfs' /etc/passwd and /etc/group."""

    passwd: tuple[tuple[str, ...], ...]
    groups: tuple[tuple[str, ...], ...]


def account_files(rootfs: str) -> AccountFiles:
    return AccountFiles(tuple(tuple(e) for e in _entries(rootfs, "passwd") if len(e) >= 4),
                        tuple(tuple(e) for e in _entries(rootfs, "group") if len(e) >= 3))


def resolve_user(rootfs: str, user: str = "", *, uid: int | None = None, gid: int | None = None,
                 username: str = "", files: AccountFiles | None = None) -> ResolvedUser:
    """The user of a container: ``uid``/``gid`` (the pod's runAsUser/runAsGroup) win over
    ``username`` (CRI's run_as_username), which wins over the image's ``user`` ("name[:group]").
    ``files``: the rootfs' account files already read (a fresh rootfs holds its image's)."""
    files = files or account_files(rootfs)
    passwd, groups = files.passwd, files.groups
    spec_user, _, spec_group = (username or user).partition(":")
    entry = None
    if uid is None:
        if not spec_user:
            uid = 0
        elif (number := _number(spec_user)) is not None:
            uid = number
        else:
            entry = next((e for e in passwd if e[0] == spec_user), None)
            if entry is None:
                raise UserResolutionError(f"unable to find user {spec_user}: no matching entries in passwd file")
            uid = int(entry[2])
    if entry is None:
        entry = next((e for e in passwd if _number(e[2]) == uid), None)
    if gid is None:
        if spec_group:
            if (number := _number(spec_group)) is not None:
                gid = number
            else:
                group = next((g for g in groups if g[0] == spec_group), None)
                if group is None:
                    raise UserResolutionError(f"unable to find group {spec_group}: no matching entries in group file")
                gid = int(group[2])
        else:
            gid = int(entry[3]) if entry is not None and entry[3].isdigit() else 0
    name = entry[0] if entry is not None else ""
    additional = tuple(int(g[2]) for g in groups
                       if name and len(g) >= 4 and g[2].isdigit() and name in g[3].split(","))
    home = entry[5] if entry is not None and len(entry) >= 6 and entry[5] else "/"
    return ResolvedUser(uid, gid, tuple(g for g in additional if g != gid), home)
