"""Oversized and flooding clients beyond tests/server/test_bad_input.py (which covers an
oversized text message and a ping flood): an oversized binary message, a message over the
limit in small fragments, a client that floods and never reads its replies, and one that
floods controls. Each gets its documented error or close code; a bystander keeps hearing
every block."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect

from clients.listen import Listener
from engine.server.config import ServerConfig
from engine.stream.config import StreamConfig
from tests.reliability.support import ErrorLog, LoopThread, RawPeer, TextClient, wait_for
from tests.server.support import ServerThread, status


@pytest.fixture(scope="module")
def rig(served):
    # rate limits high enough that the unread replies (not the rate) decide the flood case,
    # small socket buffers so that what a peer does not read waits in the server's queue
    cfg = ServerConfig(port=0, messages_per_second=1000, message_burst=1000,
                       flood_messages=1000, max_message_bytes=65536, send_buffer_bytes=8192,
                       stream=StreamConfig(hop_seconds=0.2, margin_seconds=0.1))
    loop = LoopThread()
    with ErrorLog() as errors, ServerThread(served, cfg) as srv:
        yield srv, loop, errors
    loop.close()


@pytest.fixture
def bystander(rig):
    srv, loop, errors = rig
    client = loop.run(Listener.connect(srv.url, keep_audio=False))
    loop.run(client.wait_audio(seconds=0.1))
    yield client
    loop.run(client.wait_audio(seconds=0.3))
    c = client.continuity
    assert c.violations == [] and c.skips == 0 and client.closed is None
    loop.run(client.close())
    assert errors.lines() == []


async def closed_with(url: str, send) -> int:
    async with connect(url, compression=None, max_size=2**22) as ws:
        await send(ws)
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except Exception:  # noqa: BLE001 - the close is what we wait for
            return ws.close_code


def test_an_oversized_binary_message_closes_with_1009(rig, bystander) -> None:
    srv, loop, _ = rig
    code = loop.run(closed_with(srv.url, lambda ws: ws.send(b"\x00" * 70000)))
    assert code == 1009


def test_a_message_over_the_limit_in_small_fragments_closes_with_1009(rig, bystander) -> None:
    srv, loop, _ = rig
    parts = ['{"type": "ping", "pad": "'] + ["x" * 4096] * 17 + ['"}']  # 70 KB in fragments
    code = loop.run(closed_with(srv.url, lambda ws: ws.send(iter(parts))))
    assert code == 1009


def test_a_client_that_floods_and_never_reads_its_replies_is_closed(rig, bystander) -> None:
    srv, _, _ = rig
    before = status(srv.http)["closed_policy"]
    peer = RawPeer(srv.server.port, rcvbuf=4096)
    time.sleep(0.5)  # the audio it does not read fills its socket buffers
    ping = json.dumps({"type": "ping", "id": "p"}).encode()
    for _ in range(400):  # each answered with a pong it never reads
        try:
            peer.send_frame(0x1, ping)
        except OSError:  # the server closed it
            break
    wait_for(lambda: status(srv.http)["closed_policy"] == before + 1, 20,
             what="the flooding peer to be closed for not reading")
    peer.reset()


def test_a_flood_of_controls_is_answered_busy_and_the_rest_apply(rig, bystander) -> None:
    srv, loop, _ = rig

    async def go() -> list[dict]:
        client = await TextClient(srv.url).open()
        for i in range(40):
            await client.ws.send(json.dumps({"type": "control", "id": i,
                                             "set": {"seed": i}}))
        for i in range(40):
            await client.until(lambda m, i=i: m.get("id") == i
                               and m["type"] in ("ack", "error"), timeout=20)
        await client.close()
        return [m for m in client.replies if m["type"] in ("ack", "error")]

    replies = loop.run(go())
    by_id = {m["id"]: m for m in replies}
    assert sorted(by_id) == list(range(40)) and len(replies) == 40  # each answered once
    busy = [m for m in replies if m["type"] == "error"]
    assert busy and all(m["code"] == "busy" for m in busy)
    assert len(replies) - len(busy) >= 16  # at most 16 wait at once; those all apply
