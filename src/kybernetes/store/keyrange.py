"""Key ranges shared by the backends: a prefix becomes the half-open range [prefix, end).

Both SQLite (TEXT compared byte-wise as UTF-8) and etcd (keys compared as bytes) order keys by
their UTF-8 bytes. UTF-8 preserves code point order, so the end of a prefix range can be computed
on code points: bump the last code point by one (skipping the surrogate block, which UTF-8 cannot
encode). The empty prefix has no end: it is the whole key space.
"""

from __future__ import annotations

_MAX_CODE_POINT = 0x10FFFF


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``; None = no bound."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < _MAX_CODE_POINT:
            bumped = last + 1
            if 0xD800 <= bumped <= 0xDFFF:
                bumped = 0xE000
            return "".join(chars) + chr(bumped)
    return None


def prefix_end_bytes(prefix: bytes) -> bytes:
    """etcd's range_end for a prefix: the prefix with its last byte bumped; b"\\0" means no bound."""
    raw = bytearray(prefix)
    while raw:
        if raw[-1] < 0xFF:
            raw[-1] += 1
            return bytes(raw)
        raw.pop()
    return b"\0"


def range_start(prefix: str, start_after: str) -> tuple[str, bool]:
    """Where a (continued) list begins: (key, inclusive). ``start_after`` continues a previous page."""
    if start_after and start_after >= prefix:
        return start_after, False
    return prefix, True
