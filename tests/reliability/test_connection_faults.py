"""Listeners that vanish mid-frame, never read, or reconnect in a loop, and peers that send
garbage or never finish their handshake, against the real engine process: the listener
beside them hears every block in order, the server forgets them, logs no error, and its
memory comes back to where it was."""

from __future__ import annotations

import json
import socket
import statistics
import time

import pytest

from clients.listen import Listener
from tests.reliability.support import (
    OP_TEXT,
    LoopThread,
    RawPeer,
    engine_process,
    rss_mb,
    wait_for,
)
from tests.server.support import status

MEMORY_BOUND_MB = 30.0  # the server's RSS after a storm, within this of before it


@pytest.fixture(scope="module")
def proc(exported_root):
    # tight queues so that a peer that never reads is skipped and closed within a second
    args = ["--model", str(exported_root / "base"), "--hop", "0.2", "--margin", "0.1"]
    with engine_process(args, block_frames=2048, listener_queue_blocks=16, max_skips=2,
                        send_buffer_bytes=8192) as p:
        wait_for(lambda: status(p.http)["hops"] >= 1, 60, what="the first hop")
        yield p


@pytest.fixture
def bystander(proc):
    """A well-behaved listener on its own event loop thread (the test blocks on sockets)."""
    loop = LoopThread()
    client = loop.run(Listener.connect(proc.url, keep_audio=False))
    loop.run(client.wait_audio(seconds=0.2))
    mark = len(proc.lines)
    yield loop, client
    loop.run(client.wait_audio(seconds=0.3))  # the stream still flows to it
    c = client.continuity
    assert c.violations == [] and c.skips == 0 and client.closed is None, (c, client.closed)
    loop.run(client.close())
    loop.close()
    log = "".join(proc.lines[mark:])
    assert "Traceback" not in log and " ERROR " not in log, log


def settled_rss(http: str) -> float:
    time.sleep(1.0)
    return statistics.median(rss_mb(http) for _ in range(3))


def test_listeners_that_vanish_mid_frame_leave_the_others_untouched(proc, bystander) -> None:
    before = status(proc.http)
    rss0 = settled_rss(proc.http)
    for i in range(20):  # the server is part-way through sending them an audio frame
        peer = RawPeer(proc.port)
        peer.read_into_audio(part=1 + 397 * i)
        peer.reset() if i % 2 else peer.close()
    ping = json.dumps({"type": "ping", "id": "x" * 60}).encode()
    for i in range(10):  # they are part-way through sending a message of their own
        peer = RawPeer(proc.port)
        peer.read_text()
        peer.send_frame(OP_TEXT, ping, upto=3 + 7 * i)
        peer.reset() if i % 2 else peer.close()
    wait_for(lambda: status(proc.http)["listeners"] == before["listeners"], 20,
             what="the server to forget the vanished peers")
    after = status(proc.http)
    assert after["connections_total"] == before["connections_total"] + 30
    assert settled_rss(proc.http) <= rss0 + MEMORY_BOUND_MB


def test_listeners_that_never_read_are_skipped_then_closed(proc, bystander) -> None:
    before = status(proc.http)
    rss0 = settled_rss(proc.http)
    peers = [RawPeer(proc.port, rcvbuf=4096) for _ in range(6)]  # handshake, then nothing
    wait_for(lambda: status(proc.http)["closed_slow"] >= before["closed_slow"] + 6, 60,
             what="the server to close the peers that never read")
    for peer in peers:  # the server really let go: each socket ends (after what was queued)
        peer.sock.settimeout(10)
        with pytest.raises((ConnectionError, OSError)):
            while True:
                peer._recv()
                peer.buf = b""
        peer.close()
    after = status(proc.http)
    assert after["listeners"] == before["listeners"]
    assert after["skips"] >= before["skips"] + 6
    assert settled_rss(proc.http) <= rss0 + MEMORY_BOUND_MB


def test_a_listener_reconnecting_in_a_loop_leaves_nothing_behind(proc, bystander) -> None:
    loop, _ = bystander
    before = status(proc.http)
    rss0 = settled_rss(proc.http)

    async def churn() -> None:
        for i in range(45):
            client = await Listener.connect(proc.url, keep_audio=False)
            if i % 3 == 0:
                await client.wait_audio(seconds=0.01)
            await client.close()

    loop.run(churn(), timeout=120)
    for _ in range(15):  # and some that drop the connection without closing it
        peer = RawPeer(proc.port)
        peer.read_text()
        peer.reset()
    wait_for(lambda: status(proc.http)["listeners"] == before["listeners"], 20,
             what="the listeners to be forgotten")
    after = status(proc.http)
    assert after["connections_total"] == before["connections_total"] + 60
    assert after["closed_slow"] == before["closed_slow"]
    assert settled_rss(proc.http) <= rss0 + MEMORY_BOUND_MB


def test_garbage_and_unfinished_handshakes_get_http_errors_and_nothing_else(proc,
                                                                          bystander) -> None:
    before = status(proc.http)
    for request, expected in [
        (b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", b"426"),  # not a WebSocket upgrade
        (b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
         b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", b"400"),  # no key
        (b"GET /ws HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"BLAH\r\n\r\n", b""),  # not HTTP: just closed
    ]:
        with socket.create_connection(("127.0.0.1", proc.port), timeout=10) as s:
            s.sendall(request)
            assert s.recv(64)[9:12] == expected, request[:40]
    # peers that never finish their handshake (a TLS hello on the plain port, half a
    # request): they hold a socket until the handshake times out, and nothing else
    stuck = [socket.create_connection(("127.0.0.1", proc.port), timeout=10) for _ in range(40)]
    for i, s in enumerate(stuck):
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" if i % 2
                  else b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    time.sleep(1.0)
    for s in stuck:
        s.close()
    after = status(proc.http)
    assert after["listeners"] == before["listeners"]
    assert after["connections_total"] == before["connections_total"]  # none became a listener
