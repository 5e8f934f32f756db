"""Talking nf_tables netlink directly: one batch of messages, committed atomically, no ``nft`` process.

Why: a one-service change at 10k services is ~7 lines, yet ``nft -f`` (1.0.6) spends ~50 ms before
it sends them: it starts, then dumps every chain, set and object of every table in the family
into its cache (any ``add rule`` / ``add element`` asks for that), whatever the transaction
touches. The batch below carries the same messages nft would send (nft_compile.py builds them
from the same text), so the kernel does exactly the same work, and the client side costs a
fraction of a millisecond.

    BATCH_BEGIN  msg  msg  ...  BATCH_END      one sendmsg(); the kernel applies all or none
    every msg carries NLM_F_ACK: the kernel answers each (0 or -errno) before sendmsg returns,
    so the answers are read without blocking; any error means nothing was committed.

Integers in nf_tables attributes are big-endian; data values are raw bytes (what the packet holds).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import threading
from dataclasses import dataclass, field

NETLINK_NETFILTER = 12
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE, NLM_F_APPEND = 0x1, 0x4, 0x200, 0x400, 0x800
NLMSG_ERROR = 2
NLA_F_NESTED = 0x8000
NETLINK_CAP_ACK = 10  # errors echo only the header of the failed message, not all of it
SOL_NETLINK = 270
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33  # root may exceed net.core.[rw]mem_max (nft does the same)
BUFFER = 8 << 20

NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 16, 17
NFPROTO_IPV4 = 2

# enum nf_tables_msg_types
NFT_MSG_NEWCHAIN, NFT_MSG_DELCHAIN, NFT_MSG_NEWRULE, NFT_MSG_DELRULE = 3, 5, 6, 8
NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM = 12, 14


class NetlinkError(Exception):
    """The kernel refused the batch (nothing was committed) or netlink is unusable here.

    ``uncertain``: the batch was sent but its answers were lost (receive buffer overrun), so whether
    it was committed is unknown; the caller must not simply retry it."""

    def __init__(self, message: str, code: int = 0, uncertain: bool = False):
        super().__init__(message)
        self.code = code
        self.uncertain = uncertain


# -- attributes ----------------------------------------------------------------------------------

def attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def nested(kind: int, *children: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(children))


def be32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack(">i" if value < 0 else ">I", value))


def string(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


@dataclass(frozen=True)
class Message:
    """One nf_tables request: its type (NFT_MSG_*), flags beyond NLM_F_REQUEST, attributes."""

    kind: int
    attrs: bytes
    flags: int = 0
    family: int = NFPROTO_IPV4
    label: str = field(default="", compare=False)  # the input line it came from, for errors


def _message(kind: int, flags: int, seq: int, family: int, res_id: int, attrs: bytes) -> bytes:
    body = struct.pack("=BBH", family, 0, socket.htons(res_id)) + attrs
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body


class NftNetlink:
    """A NETLINK_NETFILTER socket that sends nf_tables batches (root, or CAP_NET_ADMIN)."""

    def __init__(self) -> None:
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
            self.sock.bind((0, 0))
        except OSError as e:
            raise NetlinkError(f"cannot open a netfilter netlink socket: {e}", e.errno or 0) from None
        for level, option, value in ((SOL_NETLINK, NETLINK_CAP_ACK, 1),
                                     (socket.SOL_SOCKET, SO_SNDBUFFORCE, BUFFER),
                                     (socket.SOL_SOCKET, SO_RCVBUFFORCE, BUFFER)):
            try:
                self.sock.setsockopt(level, option, value)
            except OSError:
                pass  # older kernel or no CAP_NET_ADMIN: full echoes / default buffers, still correct
        self.seq = int.from_bytes(os.urandom(3), "big") << 4
        self._lock = threading.Lock()  # one batch at a time (commit runs in worker threads)

    def close(self) -> None:
        self.sock.close()

    def commit(self, messages: list[Message]) -> None:
        """Send ``messages`` as one transaction; raises NetlinkError when the kernel refuses any."""
        if not messages:
            return
        with self._lock:
            self._commit(messages)

    def _commit(self, messages: list[Message]) -> None:
        self._drain()  # nothing left over from an interrupted earlier batch may be read as ours
        if self.seq > 1 << 31:
            self.seq = 0  # sequence numbers are 32 bits
        first = self.seq + 1
        parts = [_message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, first, socket.AF_UNSPEC, NFNL_SUBSYS_NFTABLES, b"")]
        for i, m in enumerate(messages):
            parts.append(_message((NFNL_SUBSYS_NFTABLES << 8) | m.kind, NLM_F_REQUEST | NLM_F_ACK | m.flags,
                                  first + 1 + i, m.family, 0, m.attrs))
        end = first + 1 + len(messages)
        parts.append(_message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, end, socket.AF_UNSPEC, NFNL_SUBSYS_NFTABLES, b""))
        self.seq = end
        try:
            self.sock.sendmsg([b"".join(parts)])
        except OSError as e:
            raise NetlinkError(f"netlink send failed: {e}", e.errno or 0) from None
        acked: set[int] = set()
        failures: list[tuple[int, int]] = []
        for seq, code in self._answers():
            if first <= seq <= end:
                acked.add(seq)
                if code:
                    failures.append((seq, code))
        if failures:
            seq, code = failures[0]
            index = seq - first - 1
            where = f" at {messages[index].label!r}" if 0 <= index < len(messages) and messages[index].label else ""
            raise NetlinkError(f"kernel refused the batch{where}: {os.strerror(code)}", code)
        missing = len(messages) - len(acked & set(range(first + 1, end)))
        if missing:
            raise NetlinkError(f"kernel answered {len(messages) - missing} of {len(messages)} messages",
                               uncertain=True)

    def _answers(self) -> list[tuple[int, int]]:
        """(seq, errno) of every NLMSG_ERROR/ack queued now (the kernel answered inside sendmsg)."""
        out: list[tuple[int, int]] = []
        while True:
            try:
                data = self.sock.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return out
            except OSError as e:  # ENOBUFS: answers were dropped
                raise NetlinkError(f"netlink receive failed: {e}", e.errno or 0, uncertain=True) from None
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _, seq, _ = struct.unpack_from("=IHHII", data, offset)
                if length < 16:
                    break
                if kind == NLMSG_ERROR and length >= 20:
                    (code,) = struct.unpack_from("=i", data, offset + 16)
                    out.append((seq, -code))
                offset += (length + 3) & ~3

    def _drain(self) -> None:
        try:
            while self.sock.recv(1 << 20, socket.MSG_DONTWAIT):
                pass
        except BlockingIOError:
            pass
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise NetlinkError(f"netlink receive failed: {e}", e.errno or 0) from None
