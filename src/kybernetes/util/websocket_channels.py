"""The channel protocol of exec and attach over WebSocket (``v5.channel.k8s.io`` and v4).

Every binary message starts with one byte naming its channel; the rest is that channel's data:

    0 stdin (client -> server)   1 stdout   2 stderr   3 status (the exit, as a Status JSON)
    4 resize ({"Width": W, "Height": H})   255 close (v5: the client closed the channel named
                                                        by the next byte; [255, 0] = stdin EOF)

The exit is reported once on channel 3: ``{"metadata":{},"status":"Success"}``, or a Failure
with reason NonZeroExitCode and the code in details.causes (kubectl prints "command terminated
with exit code N" and exits N), or a Failure with reason InternalError and a message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
PROTOCOLS = (V5, V4)

STDIN = 0
STDOUT = 1
STDERR = 2
STATUS = 3
RESIZE = 4
CLOSE = 255


class ChannelError(ValueError):
    """A message that is not a valid channel frame."""


@dataclass(frozen=True)
class Message:
    channel: int
    data: bytes


def encode(channel: int, data: bytes = b"") -> bytes:
    return bytes([channel]) + data


def decode(message: bytes) -> Message:
    if not message:
        raise ChannelError("empty channel message")
    return Message(message[0], bytes(message[1:]))


def negotiate(offered: str | None) -> str | None:
    """The protocol to answer with, from a Sec-WebSocket-Protocol header (None: none we speak)."""
    names = [p.strip() for p in (offered or "").split(",") if p.strip()]
    for ours in PROTOCOLS:
        if ours in names:
            return ours
    return None


def parse_resize(data: bytes) -> tuple[int, int]:
    try:
        size = json.loads(data)
        width, height = int(size.get("Width", 0)), int(size.get("Height", 0))
    except (ValueError, TypeError, AttributeError):
        raise ChannelError(f"bad resize message: {data[:64]!r}") from None
    if width < 0 or height < 0 or width > 0xFFFF or height > 0xFFFF:
        raise ChannelError(f"bad terminal size {width}x{height}")
    return width, height


def exit_status(code: int | None) -> bytes:
    """The status channel's body for an exit code (0 or None: Success)."""
    if not code:
        return json.dumps({"metadata": {}, "status": "Success"}).encode()
    return json.dumps({
        "metadata": {}, "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command [exit code {code}]",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }).encode()


def error_status(message: str) -> bytes:
    return json.dumps({"metadata": {}, "status": "Failure", "message": message,
                       "reason": "InternalError", "code": 500}).encode()
