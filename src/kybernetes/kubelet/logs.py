"""Reading container logs in the CRI format: what ``kubectl logs`` gets from the kubelet.

The runtime (conmon, or the fake runtime) writes each container's output to its log file as

    2024-05-01T10:00:00.123456789Z stdout F a whole line
    2024-05-01T10:00:00.223456789Z stderr P the start of a long line (partial) ...

and the kubelet rotates it by size to ``NAME.log.1``, ``NAME.log.2``, ... (1 is the most recent
rotated file; log_rotation.py). ``read_logs`` reads the rotated files oldest
first, then the live one, and applies kubectl's options: ``tailLines`` (the last N lines),
``sinceSeconds``/``sinceTime`` (lines not older), ``timestamps`` (each line prefixed with its
RFC 3339 time), ``limitBytes`` (stop after N bytes) and ``follow`` (keep reading while the
container runs; a rotation, seen as a new file under the same name, is followed too).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

POLL_SECONDS = 0.1
_LINE = re.compile(rb"^(\S+) (stdout|stderr) ([PF]) ?(.*)$", re.DOTALL)
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


class LogOptionsError(ValueError):
    """A log option with a value the kubelet cannot use."""


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    tail_lines: int | None = None
    since_ns: int | None = None  # ns since the epoch; older lines are skipped
    timestamps: bool = False
    limit_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.tail_lines is not None and self.tail_lines < 0:
            raise LogOptionsError("tailLines must be zero or more")
        if self.limit_bytes is not None and self.limit_bytes < 1:
            raise LogOptionsError("limitBytes must be greater than zero")


@dataclass(frozen=True)
class LogEntry:
    time_ns: int
    stream: str
    partial: bool
    content: bytes


def parse_time(text: str) -> int:
    """RFC 3339 (with up to nine fractional digits) as ns since the epoch; ValueError if not."""
    m = _TIME.match(text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    base, fraction, zone = m.groups()
    zone = "+00:00" if zone == "Z" else zone
    seconds = dt.datetime.fromisoformat(base + zone).timestamp()
    return int(seconds) * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))


def format_time(ns: int) -> str:
    """RFC 3339 with nanoseconds, trailing zeros trimmed (Go's RFC3339Nano), in UTC."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def parse_line(raw: bytes) -> LogEntry | None:
    """One CRI log line (without its newline); None when it is not one."""
    m = _LINE.match(raw)
    if not m:
        return None
    try:
        when = parse_time(m.group(1).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return LogEntry(when, m.group(2).decode(), m.group(3) == b"P", m.group(4))


def log_files(path: str | Path) -> list[Path]:
    """The rotated files of ``path``, oldest first, then ``path`` itself (if it exists)."""
    live = Path(path)
    rotated = []
    if live.parent.is_dir():
        for other in live.parent.iterdir():
            suffix = other.name[len(live.name) + 1:]
            if other.name.startswith(live.name + ".") and suffix.isdigit():
                rotated.append((int(suffix), other))
    files = [p for _, p in sorted(rotated, reverse=True)]
    return files + ([live] if live.exists() else [])


class _Renderer:
    """Turns entries into the bytes kubectl prints, counting lines and bytes."""

    def __init__(self, options: LogOptions):
        self.options = options
        self.at_line_start = True
        self.sent = 0

    @property
    def exhausted(self) -> bool:
        return self.options.limit_bytes is not None and self.sent >= self.options.limit_bytes

    def render(self, entry: LogEntry) -> bytes:
        out = entry.content if entry.partial else entry.content + b"\n"
        if self.options.timestamps and self.at_line_start:
            out = format_time(entry.time_ns).encode() + b" " + out
        self.at_line_start = not entry.partial
        if self.options.limit_bytes is not None:
            out = out[:max(self.options.limit_bytes - self.sent, 0)]
        self.sent += len(out)
        return out


def _entries(data: bytes, since_ns: int | None) -> list[LogEntry]:
    out = []
    for raw in data.split(b"\n"):
        entry = parse_line(raw) if raw else None
        if entry is not None and (since_ns is None or entry.time_ns >= since_ns):
            out.append(entry)
    return out


def _tail(entries: list[LogEntry], lines: int) -> list[LogEntry]:
    """The entries making up the last ``lines`` whole lines."""
    if lines == 0:
        return []
    ends = [i for i, e in enumerate(entries) if not e.partial]
    if entries and entries[-1].partial:
        ends.append(len(entries) - 1)
    if len(ends) <= lines:
        return entries
    return entries[ends[-lines - 1] + 1:]


async def read_logs(path: str | Path, options: LogOptions, *,
                    running: Callable[[], Awaitable[bool]] | None = None,
                    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> AsyncIterator[bytes]:
    """The log of the container writing ``path``, rendered; with ``follow`` until ``running()``
    says the container stopped and nothing more was written."""
    renderer = _Renderer(options)
    files = log_files(path)
    entries: list[LogEntry] = []
    position, identity = 0, None
    for f in files:
        try:
            data = f.read_bytes()
        except OSError:
            continue
        complete = data[:data.rfind(b"\n") + 1]
        if f == Path(path):
            position = len(complete)
            stat = os.stat(f)
            identity = (stat.st_dev, stat.st_ino)
        entries.extend(_entries(complete, options.since_ns))
        if options.tail_lines is not None and len(entries) > 4 * (options.tail_lines + 64):
            entries = _tail(entries, options.tail_lines + 1)  # keep memory bounded on big files
    if options.tail_lines is not None:
        entries = _tail(entries, options.tail_lines)
    for entry in entries:
        chunk = renderer.render(entry)
        if chunk:
            yield chunk
        if renderer.exhausted:
            return
    if not options.follow:
        return
    async for chunk in _follow(Path(path), position, identity, renderer, options, running, sleep):
        yield chunk


async def _follow(path: Path, position: int, identity, renderer: _Renderer, options: LogOptions,
                  running: Callable[[], Awaitable[bool]] | None,
                  sleep: Callable[[float], Awaitable[None]]) -> AsyncIterator[bytes]:
    """Read on from ``position`` as the file grows. The file is held open, so when it is rotated
    (renamed away, a new file under the name) what was written to it before the rename is read
    to its end first, then the new file from its start: no line is lost or repeated."""
    current = _open_at(path, position, identity)
    pending = b""
    final = False  # the container stopped: one last read, then the end
    try:
        while True:
            data = current.read() if current is not None else b""
            replacement = None
            if not data:
                replacement = _replacement(path, current)
                if replacement is not None and current is not None:
                    data = current.read()  # the old file's last lines, written just before the switch
            if data:
                pending += data
                cut = pending.rfind(b"\n") + 1
                complete, pending = pending[:cut], pending[cut:]
                for entry in _entries(complete, options.since_ns):
                    chunk = renderer.render(entry)
                    if chunk:
                        yield chunk
                    if renderer.exhausted:
                        return
            if replacement is not None:  # rotated: the old file is drained, on to the new one
                if current is not None:
                    current.close()
                current, pending = replacement, b""
                continue
            if data:
                continue
            if final:
                return
            if running is not None and not await running():
                final = True
                continue
            await sleep(POLL_SECONDS)
    finally:
        if current is not None:
            current.close()


def _open_at(path: Path, position: int, identity) -> BinaryIO | None:
    """``path`` open for reading at ``position`` if it is still the file first read (else at 0)."""
    try:
        f = path.open("rb")
    except OSError:
        return None
    stat = os.fstat(f.fileno())
    same = identity is not None and (stat.st_dev, stat.st_ino) == identity
    f.seek(position if same and stat.st_size >= position else 0)
    return f


def _replacement(path: Path, current: BinaryIO | None) -> BinaryIO | None:
    """A new file to read from when ``path`` now names another file than ``current`` (rotation)
    or ``current`` shrank (truncation); None while it is the same file."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    if current is not None:
        mine = os.fstat(current.fileno())
        if (mine.st_dev, mine.st_ino) == (stat.st_dev, stat.st_ino):
            if mine.st_size >= current.tell():
                return None
            current.seek(0)  # truncated in place: read it again from the start
            return None
    try:
        return path.open("rb")
    except OSError:
        return None
