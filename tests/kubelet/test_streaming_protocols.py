"""util/spdy.py and util/websocket_channels.py: the framings kubectl speaks."""

from __future__ import annotations

import json

import pytest

from kybernetes.util import spdy
from kybernetes.util import websocket_channels as wsc


def test_spdy_round_trip_across_message_boundaries():
    client, server = spdy.SpdyConnection(), spdy.SpdyConnection()
    wire = (client.syn_stream(1, {"streamtype": "error", "port": "80", "requestid": "0"})
            + client.data(1, b"", fin=True)
            + client.syn_stream(3, {"streamtype": "data", "port": "80", "requestid": "0"})
            + client.data(3, b"hello") + client.ping(7))
    frames = []
    for i in range(0, len(wire), 5):  # frames split over many small WebSocket messages
        frames.extend(server.receive(wire[i:i + 5]))
    assert frames[0] == spdy.SynStream(1, {"streamtype": "error", "port": "80", "requestid": "0"})
    assert frames[1] == spdy.Data(1, b"", fin=True)
    assert frames[2].headers["streamtype"] == "data"  # the second block decompresses in the same zlib stream
    assert frames[3] == spdy.Data(3, b"hello")
    assert frames[4] == spdy.Ping(7)
    back = client.receive(server.syn_reply(3) + server.data(3, b"world", fin=True))
    assert back == [spdy.SynReply(3, {}), spdy.Data(3, b"world", fin=True)]


def test_spdy_rejects_garbage():
    conn = spdy.SpdyConnection()
    with pytest.raises(spdy.SpdyError):
        conn.receive(b"\x80\x02\x00\x01\x00\x00\x00\x00")  # SPDY/2
    with pytest.raises(spdy.SpdyError):
        spdy.SpdyConnection().receive(b"\x80\x03\x00\x01\x00\x00\x00\x0c" + b"\x00" * 10 + b"xx")


def test_channel_frames_and_status():
    assert wsc.encode(wsc.STDOUT, b"hi") == b"\x01hi"
    assert wsc.decode(b"\x00abc") == wsc.Message(0, b"abc")
    with pytest.raises(wsc.ChannelError):
        wsc.decode(b"")
    assert wsc.negotiate("v4.channel.k8s.io, v5.channel.k8s.io") == wsc.V5
    assert wsc.negotiate("channel.k8s.io") is None
    assert wsc.parse_resize(b'{"Width":80,"Height":24}') == (80, 24)
    with pytest.raises(wsc.ChannelError):
        wsc.parse_resize(b"{nope")
    assert json.loads(wsc.exit_status(0)) == {"metadata": {}, "status": "Success"}
    failure = json.loads(wsc.exit_status(3))
    assert failure["reason"] == "NonZeroExitCode"
    assert failure["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
