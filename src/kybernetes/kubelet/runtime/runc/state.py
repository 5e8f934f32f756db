"""What the runc runtime persists, so that a restarted kubelet re-adopts everything.

The runtime's memory is a cache of files under ``<data dir>/state``: one record file per sandbox
and per container (record_files.py: how a record survives a kubelet killed while saving it, with
one inode for its whole life). A new runtime object reads them all back;
the containers themselves never depended on the kubelet process (conmon holds their stdio and
writes their exit codes), so nothing else is needed to pick them up again:

    state/sandboxes/<id>.json     SandboxRecord: the CRI config, namespace files, IP, cgroup
    state/containers/<id>.json    ContainerRecord: the CRI config, bundle, conmon pid, exit

The records hold the CRI dataclasses of protocol.py. orjson writes them as they are (a dataclass
as an object of its fields, an enum as its value, a tuple as a list): one call, some 60 times
faster than walking the fields in Python, which a record saved at every change of state made a
visible part of a pod start's CPU. ``from_jsonable`` reads them back by their type hints.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from kybernetes.kubelet.runtime.protocol import (
    POD_UID_LABEL,
    ContainerConfig,
    ContainerState,
    PodSandboxConfig,
    PodSandboxState,
)
from kybernetes.kubelet.runtime.runc.record_files import RecordFiles

T = TypeVar("T")


def to_json(value: Any) -> bytes:
    """``value`` (a record, or any dataclass of protocol.py) as compact JSON; keys that are not
    strings (none are, today) are written as strings."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _convert(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(inner[0], data) if len(inner) == 1 else data
    if origin is tuple:
        return tuple(_convert(typing.get_args(tp)[0], v) for v in data)
    if origin is list:
        return [_convert(typing.get_args(tp)[0], v) for v in data]
    if origin is dict:
        return {k: _convert(typing.get_args(tp)[1], v) for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_jsonable(tp, data)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    return data


def from_jsonable(cls: type[T], data: dict[str, Any]) -> T:
    hints = typing.get_type_hints(cls)
    kwargs = {f.name: _convert(hints[f.name], data[f.name])
              for f in dataclasses.fields(cls)  # type: ignore[arg-type]
              if f.init and f.name in data}
    return cls(**kwargs)


@dataclass
class SandboxRecord:
    id: str
    config: PodSandboxConfig
    created_at: int
    state: PodSandboxState = PodSandboxState.SANDBOX_READY
    dir: str = ""  # hostname, hosts, resolv.conf live here
    netns: str = ""  # namespace files ("" : the host's)
    ipcns: str = ""
    utsns: str = ""
    cgroup_parent: str = ""  # the pod cgroup, relative to each hierarchy root
    ips: tuple[str, ...] = ()
    network_ready: bool = False  # CNI ADD done and not yet undone


@dataclass
class ContainerRecord:
    id: str
    sandbox_id: str
    config: ContainerConfig
    image_ref: str
    image_name: str
    created_at: int
    bundle: str
    cgroups_path: str
    log_path: str
    state: ContainerState = ContainerState.CONTAINER_CREATED
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    conmon_pid: int = 0
    pid: int = 0
    stop_signal: str = "SIGTERM"
    rootfs: str = ""
    rootfs_from_images: bool = True  # release_rootfs on remove
    extra: dict[str, str] = field(default_factory=dict)


class PodIndex:
    """Record ids by the pod uid label of their config, in insertion order: a pod's sync lists its
    own sandboxes and containers without a scan of every record on the node."""

    def __init__(self) -> None:
        self._ids: dict[str, dict[str, None]] = {}

    def add(self, labels: dict[str, str], record_id: str) -> None:
        self._ids.setdefault(labels.get(POD_UID_LABEL, ""), {})[record_id] = None

    def discard(self, labels: dict[str, str], record_id: str) -> None:
        uid = labels.get(POD_UID_LABEL, "")
        ids = self._ids.get(uid)
        if ids is not None:
            ids.pop(record_id, None)
            if not ids:
                del self._ids[uid]

    def ids(self, uid: str) -> list[str]:
        return list(self._ids.get(uid, ()))


def candidates(records: dict[str, T], index: PodIndex, record_id: str,
               label_selector: dict[str, str] | None) -> list[T]:
    """The records a CRI list filter can match: the one named by id, the pod's (its uid label is in
    the selector), else all; the caller still applies the whole filter."""
    if record_id:
        return [records[record_id]] if record_id in records else []
    uid = (label_selector or {}).get(POD_UID_LABEL)
    if uid is not None:
        return [records[i] for i in index.ids(uid) if i in records]
    return list(records.values())


class StateStore:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.sandboxes_dir = self.root / "sandboxes"
        self.containers_dir = self.root / "containers"
        self.sandboxes_dir.mkdir(parents=True, exist_ok=True)
        self.containers_dir.mkdir(parents=True, exist_ok=True)
        self._sandboxes = RecordFiles(self.sandboxes_dir)
        self._containers = RecordFiles(self.containers_dir)

    def save_sandbox(self, record: SandboxRecord) -> None:
        self._sandboxes.write(record.id, to_json(record))

    def save_container(self, record: ContainerRecord) -> None:
        self._containers.write(record.id, to_json(record))

    def delete_sandbox(self, sandbox_id: str) -> None:
        self._sandboxes.delete(sandbox_id)

    def delete_container(self, container_id: str) -> None:
        self._containers.delete(container_id)

    def load_sandboxes(self) -> list[SandboxRecord]:
        return self._sandboxes.load(lambda data: from_jsonable(SandboxRecord, data))

    def load_containers(self) -> list[ContainerRecord]:
        return self._containers.load(lambda data: from_jsonable(ContainerRecord, data))
