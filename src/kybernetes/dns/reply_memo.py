"""ReplyMemo: finished replies, packed, keyed by the query's bytes after its 2-byte id.

dnslib spends a few hundred microseconds parsing a query and building a reply; a repeated
question (the common case: every pod asks for the same few Services, over and over) can skip
all of it. A reply is kept

    from the cluster records   while ClusterRecords.serial is unchanged (any Service or slice
                               event changes it, so an answer is never staler than the records)
    relayed from upstream      for at most one second (and never past its TTL), so the TTLs the
                               client sees are counted down in whole seconds, as resolvers do

The key holds the flags, the question and any EDNS0 record, so a query that differs in anything
but its id gets its own reply; the id is put back on every hit. FIFO-bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

from kybernetes.util.clock import REAL_CLOCK, Clock

MemoKey = tuple[bool, bytes]


@dataclass(slots=True, frozen=True)
class _Kept:
    serial: int | None  # None: not tied to the records (an upstream answer)
    expires: float
    rcode: str
    tail: bytes  # the reply without its id


class ReplyMemo:
    def __init__(self, size: int = 20000, clock: Clock | None = None):
        self.size = size
        self.clock = clock or REAL_CLOCK
        self._kept: dict[MemoKey, _Kept] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, data: bytes, udp: bool, serial: int) -> tuple[bytes, str] | None:
        """(reply with the query's id, rcode name) or None."""
        key = (udp, bytes(data[2:]))
        kept = self._kept.get(key)
        if kept is None:
            return None
        if (kept.serial is not None and kept.serial != serial) or \
                (kept.serial is None and self.clock.now() >= kept.expires):
            del self._kept[key]
            return None
        return bytes(data[:2]) + kept.tail, kept.rcode

    def keep(self, data: bytes, udp: bool, reply: bytes, rcode: str, *, serial: int | None = None,
             seconds: float = 0.0) -> None:
        """Keep ``reply`` for ``data``: tied to ``serial``, or for ``seconds`` when serial is None."""
        if self.size <= 0 or (serial is None and seconds <= 0):
            return
        if len(self._kept) >= self.size:
            self._kept.pop(next(iter(self._kept)))
        expires = self.clock.now() + seconds if serial is None else 0.0
        self._kept[(udp, bytes(data[2:]))] = _Kept(serial, expires, rcode, bytes(reply[2:]))

    def clear(self) -> None:
        self._kept.clear()
