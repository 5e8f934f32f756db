"""ReplyMemo: replies tied to the records' serial, or kept for a second at most; ids put back."""

from __future__ import annotations

from kybernetes.dns.reply_memo import ReplyMemo
from kybernetes.util.clock import FakeClock

QUERY = b"\x00\x01" + b"question"
REPLY = b"\x00\x01" + b"answer"


def test_cluster_replies_live_while_the_serial_holds():
    memo = ReplyMemo()
    memo.keep(QUERY, True, REPLY, "NOERROR", serial=7)
    assert memo.get(b"\xab\xcd" + QUERY[2:], True, 7) == (b"\xab\xcd" + b"answer", "NOERROR")
    assert memo.get(QUERY, False, 7) is None  # TCP and UDP replies differ (truncation)
    assert memo.get(QUERY, True, 8) is None and len(memo) == 0


async def test_upstream_replies_expire():
    clock = FakeClock()
    memo = ReplyMemo(clock=clock)
    memo.keep(QUERY, True, REPLY, "NOERROR", seconds=1)
    assert memo.get(QUERY, True, 99) is not None  # not tied to the records
    await clock.advance(1)
    assert memo.get(QUERY, True, 99) is None
    memo.keep(QUERY, True, REPLY, "SERVFAIL", seconds=0)  # nothing to keep
    assert len(memo) == 0


def test_bounded():
    memo = ReplyMemo(size=2)
    for i in range(3):
        memo.keep(b"\x00\x00" + bytes([i]), True, REPLY, "NOERROR", serial=1)
    assert len(memo) == 2 and memo.get(b"\x00\x00\x00", True, 1) is None
