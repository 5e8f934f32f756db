"""What the kubelet remembers about each pod attachment, on disk, so that DEL can be done right.

CNI DEL wants the ADD's result as ``prevResult`` and the same configuration and arguments as the
ADD, possibly long after it and after a kubelet restart; libcni keeps them in a cache directory
for this reason, and so do we: one JSON file per attachment (network, container id, interface)
under ``<run dir>/cni/results`` on a real node (a tmpfs: the attachments are this boot's; a pod
start writes its entry twice, which on the data dir's disk cost two inodes) and
``<data dir>/cni/results`` otherwise. Entries an older node left in the data dir (``legacy``)
are still found, DEL'd and removed; new ones go to the first directory.

An entry is written *before* the ADD runs (with no result yet) and completed after it, so a
crash half-way through an ADD still leaves a record that ``cleanup_leftovers`` can DEL.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

from kybernetes.util.files import PRIVATE, write_atomic

CACHE_KIND = "kybCniCacheV1"


@dataclass(frozen=True)
class Attachment:
    network_name: str
    container_id: str
    ifname: str
    netns: str
    config: dict[str, Any]  # the configuration list the ADD ran with
    cni_args: list[list[str]] = field(default_factory=list)
    capability_args: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None  # None: the ADD did not finish

    @property
    def key(self) -> str:
        return f"{self.network_name}-{self.container_id}-{self.ifname}"


class AttachmentCache:
    def __init__(self, directory: str | os.PathLike[str], legacy: str | os.PathLike[str] | None = None):
        self.directory = Path(directory)
        self.legacy = Path(legacy) if legacy is not None and Path(legacy) != self.directory else None

    def _path(self, key: str) -> Path:
        return self.directory / key

    def directories(self) -> list[Path]:
        return [self.directory] + ([self.legacy] if self.legacy is not None else [])

    def save(self, attachment: Attachment) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # orjson writes the dataclass's nested dicts as they are: asdict() deep-copied the whole
        # configuration list first, and json's indenting encoder is pure Python (together some
        # 3 ms of CPU per save, two saves per pod start)
        data = {"kind": CACHE_KIND, **{f.name: getattr(attachment, f.name) for f in fields(attachment)}}
        # no fsync, as libcni's own cache: after a power loss the attachments are gone with the
        # machine's network state, and a DEL without its cached result is still a valid DEL
        write_atomic(self._path(attachment.key), orjson.dumps(data, option=orjson.OPT_INDENT_2), PRIVATE,
                     durable=False)

    def get(self, network_name: str, container_id: str, ifname: str) -> Attachment | None:
        key = f"{network_name}-{container_id}-{ifname}"
        for directory in self.directories():
            found = self._read(directory / key)
            if found is not None:
                return found
        return None

    def remove(self, attachment: Attachment) -> None:
        for directory in self.directories():
            try:
                os.unlink(directory / attachment.key)
            except FileNotFoundError:
                pass

    def all(self) -> list[Attachment]:
        found: dict[str, Attachment] = {}
        for directory in reversed(self.directories()):  # the current directory's entry wins
            try:
                names = sorted(os.listdir(directory))
            except FileNotFoundError:
                continue
            for name in names:
                entry = None if name.startswith(".") else self._read(directory / name)
                if entry is not None:
                    found[name] = entry
        return [found[name] for name in sorted(found)]

    @staticmethod
    def _read(path: Path) -> Attachment | None:
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # a torn or foreign file: nothing we can DEL with
        if not isinstance(data, dict) or data.get("kind") != CACHE_KIND:
            return None
        try:
            return Attachment(
                network_name=str(data["network_name"]), container_id=str(data["container_id"]),
                ifname=str(data["ifname"]), netns=str(data.get("netns") or ""),
                config=dict(data["config"]), cni_args=[list(kv) for kv in data.get("cni_args") or []],
                capability_args=dict(data.get("capability_args") or {}), result=data.get("result"))
        except (KeyError, TypeError, ValueError):
            return None
