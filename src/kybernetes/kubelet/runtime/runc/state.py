"""What the runc runtime persists, so that a restarted kubelet re-adopts everything.

The runtime's memory is a cache of files under ``<data dir>/state``: one JSON record per sandbox
and per container, written at every change of state. A new runtime object reads them all back;
the containers themselves never depended on the kubelet process (conmon holds their stdio and
writes their exit codes), so nothing else is needed to pick them up again:

    state/sandboxes/<id>.json, <id>.json.1     SandboxRecord: the CRI config, namespace files, IP, cgroup
    state/containers/<id>.json, <id>.json.1    ContainerRecord: the CRI config, bundle, conmon pid, exit

Each record has two slot files, each holding ``{"generation": n, "record": {...}}``, rewritten in
place (truncate, one write; no fsync): a save writes the slot that does NOT hold the newest copy,
with the next generation, so a kubelet killed in the middle of a save leaves the previous copy
whole, and loading takes the readable slot of the higher generation. Why not a temporary file
renamed over the record: every save would then allocate one inode and free one, and on an ext4
without a journal each inode allocation scans past the recently freed ones, which made inode
churn a sixth of the CPU of a burst of pod starts. Here only a record's first save creates a file
(``<id>.json`` through a ``<id>.json.tmp`` rename, so that even that save cannot leave a torn
record) and its second creates the other slot; after that no save creates or frees an inode.
The store keeps each record's newest generation and slot in memory, so a save reads nothing.
A bare record in ``<id>.json`` (no wrapper, written before the slots) loads as generation 0.

The records hold the CRI dataclasses of protocol.py; ``to_jsonable``/``from_jsonable`` turn any
of them (nested dataclasses, tuples, enums, optionals) into JSON and back by their type hints.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kybernetes.kubelet.runtime.protocol import (
    POD_UID_LABEL,
    ContainerConfig,
    ContainerState,
    PodSandboxConfig,
    PodSandboxState,
)

T = TypeVar("T")
log = logging.getLogger(__name__)


class StateError(Exception):
    """A record on disk cannot be read back."""


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


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


SLOT_SUFFIXES = (".json", ".json.1")  # slot 0 is also where a record lived before the slots
TMP_SUFFIX = ".json.tmp"  # a record's first save only


def _write_file(path: str, data: bytes) -> None:
    """``path`` created or truncated, then written: in place, the same inode as before."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _unwrap(data: Any) -> tuple[int, dict[str, Any]]:
    """(generation, record data) of one slot's JSON; a bare record (the layout before the slots)
    is generation 0."""
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object but {type(data).__name__}")
    if "record" in data and "generation" in data:
        generation, record = data["generation"], data["record"]
        if type(generation) is not int or not isinstance(record, dict):
            raise ValueError("generation must be an integer and record an object")
        return generation, record
    return 0, data


def _slot_of(name: str) -> int | None:
    for slot, suffix in enumerate(SLOT_SUFFIXES):
        if name.endswith(suffix) and len(name) > len(suffix):
            return slot
    return None


class RecordCopy(typing.NamedTuple):
    generation: int
    slot: int
    data: dict[str, Any]  # the record's JSON data, unwrapped


def read_copies(directory: str | os.PathLike[str]) -> tuple[dict[str, list[RecordCopy]], dict[str, list[str]]]:
    """Every record's readable copies in one kind's directory, newest first, by record id, and
    why each unreadable slot file was not read (a kubelet killed in the middle of a save leaves
    one torn slot). Reads only: safe beside a running kubelet, for tools and tests."""
    directory = os.fspath(directory)
    copies: dict[str, list[RecordCopy]] = {}
    errors: dict[str, list[str]] = {}
    with os.scandir(directory) as entries:
        names = sorted(e.name for e in entries)
    for name in names:
        slot = _slot_of(name)
        if slot is None:
            continue
        record_id = name[:-len(SLOT_SUFFIXES[slot])]
        path = os.path.join(directory, name)
        copies.setdefault(record_id, [])
        try:
            with open(path, "rb") as f:
                generation, data = _unwrap(json.loads(f.read()))
        except FileNotFoundError:  # deleted meanwhile
            continue
        except (OSError, ValueError) as e:
            errors.setdefault(record_id, []).append(f"{path}: {e}")
            continue
        copies[record_id].append(RecordCopy(generation, slot, data))
    for found in copies.values():
        found.sort(key=lambda c: (-c.generation, c.slot))
    return copies, errors


def read_records(directory: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The newest readable copy of each record in one kind's directory, as JSON data, by id."""
    return {record_id: found[0].data for record_id, found in read_copies(directory)[0].items() if found}


class _SlotFiles:
    """One kind's records (sandboxes or containers): two slot files each, and in memory the
    generation and slot of each record's newest copy."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._prefix = f"{directory}{os.sep}"
        self._newest: dict[str, tuple[int, int]] = {}  # record id -> (generation, slot)

    def _path(self, record_id: str, slot: int) -> str:
        return f"{self._prefix}{record_id}{SLOT_SUFFIXES[slot]}"

    def write(self, record_id: str, record_data: dict[str, Any]) -> None:
        newest = self._newest.get(record_id)
        generation = 1 if newest is None else newest[0] + 1
        data = json.dumps({"generation": generation, "record": record_data}, separators=(",", ":")).encode()
        if newest is None:
            # a record this store has not seen: a new one, or (once loaded, never) one left on disk
            # whose other slot might hold a later generation than this one
            slot = 0
            Path(self._path(record_id, 1)).unlink(missing_ok=True)
            tmp = f"{self._prefix}{record_id}{TMP_SUFFIX}"
            _write_file(tmp, data)
            os.replace(tmp, self._path(record_id, 0))
        else:
            slot = 1 - newest[1]
            _write_file(self._path(record_id, slot), data)
        self._newest[record_id] = (generation, slot)

    def delete(self, record_id: str) -> None:
        newest = self._newest.pop(record_id, None)
        # the older copy first: a kill in between leaves the record as last saved, not older
        for slot in ((1, 0) if newest is None else (1 - newest[1], newest[1])):
            Path(self._path(record_id, slot)).unlink(missing_ok=True)

    def load(self, cls: type[T]) -> list[T]:
        """Every record, from its newest copy that converts; leftovers of an interrupted first
        save are removed (the store's owner loads before it saves anything)."""
        copies, errors = read_copies(self.directory)
        records = []
        for record_id, found in copies.items():
            problems = list(errors.get(record_id, ()))
            if not found and not problems:
                continue  # deleted while being read
            for copy in found:
                try:
                    record = from_jsonable(cls, copy.data)
                except (ValueError, TypeError, KeyError) as e:
                    problems.append(f"{self._path(record_id, copy.slot)}: {type(e).__name__}: {e}")
                    continue
                if problems:
                    log.warning("runtime state %s: using generation %d, skipped %s", record_id,
                                copy.generation, "; ".join(problems))
                self._newest[record_id] = (copy.generation, copy.slot)
                records.append(record)
                break
            else:
                raise StateError(f"cannot read runtime state of {record_id}: {'; '.join(problems)}")
        for leftover in self.directory.glob("*.tmp"):
            leftover.unlink(missing_ok=True)
        return records


class StateStore:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.sandboxes_dir = self.root / "sandboxes"
        self.containers_dir = self.root / "containers"
        self.sandboxes_dir.mkdir(parents=True, exist_ok=True)
        self.containers_dir.mkdir(parents=True, exist_ok=True)
        self._sandboxes = _SlotFiles(self.sandboxes_dir)
        self._containers = _SlotFiles(self.containers_dir)
        # record id -> (its CRI config, that config as JSON data): a record is saved at every change
        # of state, but its config (frozen, and the bulk of the record) never changes
        self._config_data: dict[str, tuple[Any, Any]] = {}

    def _jsonable(self, record: SandboxRecord | ContainerRecord) -> dict[str, Any]:
        cached = self._config_data.get(record.id)
        if cached is None or cached[0] is not record.config:
            cached = self._config_data[record.id] = (record.config, to_jsonable(record.config))
        return {f.name: cached[1] if f.name == "config" else to_jsonable(getattr(record, f.name))
                for f in dataclasses.fields(record)}

    def save_sandbox(self, record: SandboxRecord) -> None:
        self._sandboxes.write(record.id, self._jsonable(record))

    def save_container(self, record: ContainerRecord) -> None:
        self._containers.write(record.id, self._jsonable(record))

    def delete_sandbox(self, sandbox_id: str) -> None:
        self._config_data.pop(sandbox_id, None)
        self._sandboxes.delete(sandbox_id)

    def delete_container(self, container_id: str) -> None:
        self._config_data.pop(container_id, None)
        self._containers.delete(container_id)

    def load_sandboxes(self) -> list[SandboxRecord]:
        return self._sandboxes.load(SandboxRecord)

    def load_containers(self) -> list[ContainerRecord]:
        return self._containers.load(ContainerRecord)
