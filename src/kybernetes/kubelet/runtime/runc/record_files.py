"""How one runtime state record is kept on disk: one file, two copies (record files).

A record is saved at every change of state, without fsync, and must survive a kubelet killed in
the middle of a save, so its file holds two copies (slots), and a save overwrites the one that
does NOT hold the newest copy, with the next generation; loading takes the good slot of the
higher generation. The layout, little-endian:

    0       header: magic (8 bytes), slot size S (8), crc32 of the two (4); zeros up to 64
    64      slot 0: payload length (8), generation (8), crc32 of length + generation + payload (4),
            then the payload, the record as compact JSON
    S       slot 1: the same

A save is one pwrite() of one slot: the other slot, and the header, are never written after the
file's creation, so a torn save loses at most the copy being written, and the checksum (covering
the length and generation too) tells a torn or half-written slot from a good one. The file is
created whole, through ``<id>.json.tmp`` renamed over it, at the record's first save (even that
cannot leave a torn record), with S the next power of two of at least twice the payload (16 KiB
at least; slot 1 starts on a page of its own, and the file stays sparse: S is room, not blocks);
a save whose payload outgrows S (records barely grow) writes the file whole again, larger.

Why one file and no rename per save: on an ext4 without a journal each inode allocation scans
past the recently freed inodes of its group, which made inode churn a large part of the CPU of a
burst of pod starts. A record now costs one inode for its whole life; a temporary file renamed
over the record at every save cost one per save, and two slot files (the layout before this one)
two per record. The store keeps each record's newest generation, slot and S in memory, so a save
reads nothing. Records of the layouts before still load, the newest copy winning: two slot files
``<id>.json`` and ``<id>.json.1`` each holding ``{"generation": n, "record": {...}}``, and before
them a bare record in ``<id>.json`` (generation 0); their next save writes the new layout and then
removes ``<id>.json.1``.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import typing
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class StateError(Exception):
    """A record on disk cannot be read back."""


RECORD_SUFFIX = ".json"  # the record file; also slot 0 of the layouts before
OLD_SECOND_SLOT_SUFFIX = ".json.1"  # slot 1 of the two slot files layout
TMP_SUFFIX = ".json.tmp"  # a whole record file being written, renamed over the record file
MAGIC = b"KYBREC\x00\x01"  # no JSON text starts so: the layouts before are told apart by it
HEADER = struct.Struct("<8sQI")  # magic, slot size, crc32 of the two
HEADER_SIZE = 64  # the header, then zeros up to slot 0
FRAME = struct.Struct("<QQI")  # payload length, generation, crc32 of length + generation + payload
FRAME_SIZES = struct.Struct("<QQ")
MIN_SLOT_SIZE = 16 * 1024


def slot_size_for(payload_length: int) -> int:
    """A new record file's slot size: room for twice this payload, so that the record (which
    barely grows) never outgrows it, a power of two, so that slot 1 starts on a page of its own."""
    needed = 2 * (HEADER_SIZE + FRAME.size + payload_length)
    return max(MIN_SLOT_SIZE, 1 << (needed - 1).bit_length())


def _slot_offset(slot: int, slot_size: int) -> int:
    return HEADER_SIZE if slot == 0 else slot_size


def _frame(generation: int, payload: bytes) -> bytes:
    sizes = FRAME_SIZES.pack(len(payload), generation)
    return sizes + zlib.crc32(payload, zlib.crc32(sizes)).to_bytes(4, "little") + payload


def _new_file(slot_size: int, generation: int, payload: bytes) -> bytes:
    head = HEADER.pack(MAGIC, slot_size, 0)[:-4]
    head += zlib.crc32(head).to_bytes(4, "little")
    return head.ljust(HEADER_SIZE, b"\0") + _frame(generation, payload)


def _record_data(payload: bytes | memoryview) -> dict[str, Any]:
    data = json.loads(bytes(payload))
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object but {type(data).__name__}")
    return data


def _parse_slot(content: bytes, slot: int, slot_size: int) -> tuple[int, dict[str, Any]] | None:
    """(generation, record data) of one slot of a record file; None if the slot was never written.
    ValueError says why a slot (torn by a kill in the middle of its save) does not check out."""
    offset = _slot_offset(slot, slot_size)
    if offset >= len(content):
        return None
    if offset + FRAME.size > len(content):
        raise ValueError(f"slot {slot} torn: {len(content) - offset} bytes of its frame header")
    length, generation, crc = FRAME.unpack_from(content, offset)
    if FRAME.size + length > slot_size - HEADER_SIZE:
        raise ValueError(f"slot {slot}: payload length {length} exceeds the slot")
    payload = memoryview(content)[offset + FRAME.size:offset + FRAME.size + length]
    if len(payload) < length:
        raise ValueError(f"slot {slot} torn: {len(payload)} of {length} bytes")
    if zlib.crc32(payload, zlib.crc32(content[offset:offset + FRAME_SIZES.size])) != crc:
        raise ValueError(f"slot {slot}: checksum mismatch")
    try:
        return generation, _record_data(payload)
    except ValueError as e:
        raise ValueError(f"slot {slot}: {e}") from None


def _parse_old(data: Any) -> tuple[int, dict[str, Any]]:
    """(generation, record data) of a slot file of the layout before: ``{"generation": n,
    "record": {...}}``, or a bare record (the layout before that), generation 0."""
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object but {type(data).__name__}")
    if "record" in data and "generation" in data:
        generation, record = data["generation"], data["record"]
        if type(generation) is not int or not isinstance(record, dict):
            raise ValueError("generation must be an integer and record an object")
        return generation, record
    return 0, data


class RecordCopy(typing.NamedTuple):
    generation: int
    slot: int
    data: dict[str, Any]  # the record's JSON data
    slot_size: int = 0  # of its record file; 0: a slot file of the layouts before


def _read_file(path: str, old_slot: int, copies: list[RecordCopy], errors: list[str]) -> None:
    """The copies in one file: a record file's good slots, or a slot file of the layouts before."""
    try:
        with open(path, "rb") as f:
            content = f.read()
    except FileNotFoundError:  # deleted meanwhile
        return
    except OSError as e:
        errors.append(f"{path}: {e}")
        return
    if old_slot == 0 and content.startswith(MAGIC):
        if len(content) < HEADER.size:
            errors.append(f"{path}: header torn")
            return
        _, slot_size, crc = HEADER.unpack_from(content)
        if zlib.crc32(content[:HEADER.size - 4]) != crc or slot_size < MIN_SLOT_SIZE:
            errors.append(f"{path}: bad header")
            return
        for slot in (0, 1):
            try:
                found = _parse_slot(content, slot, slot_size)
            except ValueError as e:
                errors.append(f"{path}: {e}")
                continue
            if found is not None:
                copies.append(RecordCopy(found[0], slot, found[1], slot_size))
        return
    try:
        generation, data = _parse_old(json.loads(content))
    except ValueError as e:
        errors.append(f"{path}: {e}")
        return
    copies.append(RecordCopy(generation, old_slot, data))


def read_copies(directory: str | os.PathLike[str]) -> tuple[dict[str, list[RecordCopy]], dict[str, list[str]]]:
    """Every record's good copies in one kind's directory, newest first, by record id, and why each
    slot that does not check out was not read (a kubelet killed in the middle of a save leaves one
    torn slot). Reads only: safe beside a running kubelet, for tools and tests."""
    directory = os.fspath(directory)
    copies: dict[str, list[RecordCopy]] = {}
    errors: dict[str, list[str]] = {}
    with os.scandir(directory) as entries:
        names = sorted(e.name for e in entries)
    for name in names:
        for slot, suffix in enumerate((RECORD_SUFFIX, OLD_SECOND_SLOT_SUFFIX)):
            if name.endswith(suffix) and len(name) > len(suffix):
                record_id = name[:-len(suffix)]
                problems: list[str] = []
                _read_file(os.path.join(directory, name), slot, copies.setdefault(record_id, []), problems)
                if problems:
                    errors.setdefault(record_id, []).extend(problems)
    for found in copies.values():
        found.sort(key=lambda c: (-c.generation, not c.slot_size, c.slot))
    return copies, errors


def read_records(directory: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The newest good copy of each record in one kind's directory, as JSON data, by id."""
    return {record_id: found[0].data for record_id, found in read_copies(directory)[0].items() if found}


def _write_new(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _write_at(path: str, data: bytes, offset: int) -> None:
    """``data`` written at ``offset`` of the existing file ``path``: no inode created, nothing else
    of the file touched."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
    finally:
        os.close(fd)


class _Newest(typing.NamedTuple):
    generation: int
    slot: int
    slot_size: int  # 0: the copy is in a slot file of the layouts before


class RecordFiles:
    """One kind's records (sandboxes or containers), one record file each, and in memory the
    generation, slot and slot size of each record's newest copy, so that a save reads nothing."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._prefix = f"{directory}{os.sep}"
        self._newest: dict[str, _Newest] = {}

    def write(self, record_id: str, payload: bytes) -> None:
        """Save ``payload``, the record as compact JSON, as the record's next generation."""
        path = f"{self._prefix}{record_id}{RECORD_SUFFIX}"
        newest = self._newest.get(record_id)
        generation = 1 if newest is None else newest.generation + 1
        if newest is not None and newest.slot_size and \
                FRAME.size + len(payload) <= newest.slot_size - HEADER_SIZE:
            slot = 1 - newest.slot
            try:
                _write_at(path, _frame(generation, payload), _slot_offset(slot, newest.slot_size))
                self._newest[record_id] = _Newest(generation, slot, newest.slot_size)
                return
            except FileNotFoundError:  # removed behind our back: created again below
                pass
        old_second = f"{self._prefix}{record_id}{OLD_SECOND_SLOT_SUFFIX}"
        if newest is None:
            # a record this store has not seen: a new one, or (once loaded, never) one left on disk
            # whose old second slot file might hold a later generation than this one
            Path(old_second).unlink(missing_ok=True)
        # the first save, the outgrowing one, or the first since the layouts before: a whole file
        slot_size = slot_size_for(len(payload))
        tmp = f"{self._prefix}{record_id}{TMP_SUFFIX}"
        _write_new(tmp, _new_file(slot_size, generation, payload))
        os.replace(tmp, path)
        if newest is not None and not newest.slot_size:
            Path(old_second).unlink(missing_ok=True)  # only now: it may have held the newest copy
        self._newest[record_id] = _Newest(generation, 0, slot_size)

    def delete(self, record_id: str) -> None:
        newest = self._newest.pop(record_id, None)
        paths = [f"{self._prefix}{record_id}{suffix}" for suffix in (RECORD_SUFFIX, OLD_SECOND_SLOT_SUFFIX)]
        if newest is None or not newest.slot_size:
            # the older copy first: a kill in between leaves the record as last saved, not older
            if newest is None or newest.slot == 0:
                paths.reverse()
        else:
            del paths[1]  # loading removed any old second slot file, converting too
        for path in paths:
            Path(path).unlink(missing_ok=True)

    def load(self, convert: Callable[[dict[str, Any]], T]) -> list[T]:
        """Every record, from its newest copy that converts; leftovers of an interrupted save are
        removed (the store's owner loads before it saves anything)."""
        copies, errors = read_copies(self.directory)
        records = []
        for record_id, found in copies.items():
            problems = list(errors.get(record_id, ()))
            if not found and not problems:
                continue  # deleted while being read
            for copy in found:
                try:
                    record = convert(copy.data)
                except (ValueError, TypeError, KeyError) as e:
                    problems.append(f"{record_id} slot {copy.slot}: {type(e).__name__}: {e}")
                    continue
                if problems:
                    log.warning("runtime state %s: using generation %d, skipped %s", record_id,
                                copy.generation, "; ".join(problems))
                self._newest[record_id] = _Newest(copy.generation, copy.slot, copy.slot_size)
                if copy.slot_size:  # a conversion killed before it removed the old second slot file
                    Path(f"{self._prefix}{record_id}{OLD_SECOND_SLOT_SUFFIX}").unlink(missing_ok=True)
                records.append(record)
                break
            else:
                raise StateError(f"cannot read runtime state of {record_id}: {'; '.join(problems)}")
        for leftover in self.directory.glob("*.tmp"):
            leftover.unlink(missing_ok=True)
        return records
