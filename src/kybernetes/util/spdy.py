"""SPDY/3.1 framing, as much as port-forward needs (the server side of one connection).

kubectl port-forward speaks SPDY/3.1 inside a WebSocket (``SPDY/3.1+portforward.k8s.io``): the
binary messages concatenate into one SPDY byte stream, and a frame may span messages. So the
parser is incremental: ``SpdyConnection.receive(bytes)`` returns the complete frames so far.

    control frame  |1|version=3:15|type:16|flags:8|length:24|body
    data frame     |0|stream id:31|flags:8|length:24|payload

Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are zlib streams, one per direction for the
whole connection, primed with the SPDY/3 dictionary (a spec constant, spdy3_dictionary.bin)
and sync-flushed after each block. Flow control (WINDOW_UPDATE) and SETTINGS are accepted and
ignored, as kubectl's own implementation does not enforce windows either.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

VERSION = 3
SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

FLAG_FIN = 0x01

# RST_STREAM status codes
PROTOCOL_ERROR = 1
REFUSED_STREAM = 3
INTERNAL_ERROR = 6

MAX_LENGTH = 0xFFFFFF

DICTIONARY = (Path(__file__).with_name("spdy3_dictionary.bin")).read_bytes()


class SpdyError(Exception):
    """The peer sent bytes that are not valid SPDY/3."""


@dataclass
class SynStream:
    stream_id: int
    headers: dict[str, str]
    fin: bool = False
    associated_id: int = 0


@dataclass
class SynReply:
    stream_id: int
    headers: dict[str, str]
    fin: bool = False


@dataclass
class Data:
    stream_id: int
    payload: bytes
    fin: bool = False


@dataclass
class RstStream:
    stream_id: int
    status: int


@dataclass
class Ping:
    ping_id: int


@dataclass
class GoAway:
    last_stream_id: int
    status: int = 0


@dataclass
class Other:
    type: int
    flags: int
    body: bytes = field(repr=False, default=b"")


Frame = SynStream | SynReply | Data | RstStream | Ping | GoAway | Other


def encode_header_block(headers: dict[str, str]) -> bytes:
    out = [struct.pack(">I", len(headers))]
    for name, value in headers.items():
        n, v = name.lower().encode(), value.encode()
        out.append(struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v)
    return b"".join(out)


def decode_header_block(raw: bytes) -> dict[str, str]:
    try:
        (count,), pos = struct.unpack_from(">I", raw, 0), 4
        headers: dict[str, str] = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", raw, pos)
            name = raw[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            (v,) = struct.unpack_from(">I", raw, pos)
            value = raw[pos + 4:pos + 4 + v].decode()
            pos += 4 + v
            if pos > len(raw):
                raise SpdyError("header block is truncated")
            headers[name] = value
    except (struct.error, UnicodeDecodeError) as e:
        raise SpdyError(f"bad header block: {e}") from None
    return headers


class SpdyConnection:
    """One side's framing state: the incoming buffer and both header compression streams."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    # -- reading ------------------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                break
            head, body = bytes(self._buffer[:8]), bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            frames.append(self._frame(head, body))
        return frames

    def _headers(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as e:
            raise SpdyError(f"header block does not decompress: {e}") from None
        return decode_header_block(raw)

    def _frame(self, head: bytes, body: bytes) -> Frame:
        flags = head[4]
        if not head[0] & 0x80:
            stream_id = int.from_bytes(head[0:4], "big") & 0x7FFFFFFF
            return Data(stream_id, body, bool(flags & FLAG_FIN))
        version = int.from_bytes(head[0:2], "big") & 0x7FFF
        if version != VERSION:
            raise SpdyError(f"SPDY version {version} is not supported (only 3)")
        ftype = int.from_bytes(head[2:4], "big")
        try:
            if ftype == SYN_STREAM:
                sid, assoc = struct.unpack_from(">II", body, 0)
                return SynStream(sid & 0x7FFFFFFF, self._headers(body[10:]), bool(flags & FLAG_FIN),
                                 assoc & 0x7FFFFFFF)
            if ftype == SYN_REPLY:
                (sid,) = struct.unpack_from(">I", body, 0)
                return SynReply(sid & 0x7FFFFFFF, self._headers(body[4:]), bool(flags & FLAG_FIN))
            if ftype == RST_STREAM:
                sid, status = struct.unpack_from(">II", body, 0)
                return RstStream(sid & 0x7FFFFFFF, status)
            if ftype == PING:
                return Ping(struct.unpack_from(">I", body, 0)[0])
            if ftype == GOAWAY:
                sid, status = struct.unpack_from(">II", body, 0) if len(body) >= 8 else (0, 0)
                return GoAway(sid & 0x7FFFFFFF, status)
            if ftype == HEADERS:
                (sid,) = struct.unpack_from(">I", body, 0)
                self._headers(body[4:])  # keep the compression stream in step
        except struct.error:
            raise SpdyError(f"control frame {ftype} is too short") from None
        return Other(ftype, flags, body)

    # -- writing ------------------------------------------------------------------------------------

    def _compress(self, headers: dict[str, str]) -> bytes:
        block = encode_header_block(headers)
        return self._deflate.compress(block) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def _control(ftype: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(body)) + body

    def syn_stream(self, stream_id: int, headers: dict[str, str], *, fin: bool = False) -> bytes:
        body = struct.pack(">IIBB", stream_id, 0, 0, 0) + self._compress(headers)
        return self._control(SYN_STREAM, FLAG_FIN if fin else 0, body)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None, *, fin: bool = False) -> bytes:
        body = struct.pack(">I", stream_id) + self._compress(headers or {})
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0, body)

    @staticmethod
    def data(stream_id: int, payload: bytes, *, fin: bool = False) -> bytes:
        out = []
        view = memoryview(payload)
        while True:
            piece, view = view[:MAX_LENGTH], view[MAX_LENGTH:]
            last = not len(view)
            flags = FLAG_FIN if (fin and last) else 0
            out.append(struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(piece)) + bytes(piece))
            if last:
                return b"".join(out)

    @classmethod
    def rst_stream(cls, stream_id: int, status: int) -> bytes:
        return cls._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    @classmethod
    def ping(cls, ping_id: int) -> bytes:
        return cls._control(PING, 0, struct.pack(">I", ping_id))

    @classmethod
    def goaway(cls, last_stream_id: int, status: int = 0) -> bytes:
        return cls._control(GOAWAY, 0, struct.pack(">II", last_stream_id, status))
