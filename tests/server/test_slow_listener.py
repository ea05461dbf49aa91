"""A listener that stops reading is skipped forward (announced), then closed with 4001;
a listener beside it receives every block."""

from __future__ import annotations

import asyncio

from clients.listen import Listener
from engine.server.config import ServerConfig
from engine.stream.config import StreamConfig
from tests.server.support import ServerThread, status


def test_a_slow_listener_is_skipped_then_closed_and_the_others_are_unaffected(served) -> None:
    cfg = ServerConfig(port=0, block_frames=2048, listener_queue_blocks=4,
                       send_buffer_bytes=8192, max_skips=2,
                       stream=StreamConfig(hop_seconds=0.2, margin_seconds=0.1))

    async def go(srv) -> None:
        steady = await Listener.connect(srv.url, keep_audio=False)
        slow = await Listener.connect(srv.url, recv_buffer=4096, keep_audio=False)
        await slow.wait_audio(seconds=0.2)
        slow.stall()
        for _ in range(300):  # wait for the server to give up on the slow one
            if status(srv.http)["skips"] >= 1:
                break
            await asyncio.sleep(0.05)
        slow.resume()
        await slow.next_message("skip", timeout=20)
        skip = next(m for m in slow.messages if m["type"] == "skip")
        assert skip["to_sample"] > skip["from_sample"] and skip["frames"] > 0
        await slow.wait_audio(seconds=0.2)
        assert slow.continuity.violations == [] and slow.continuity.skips == 1
        slow.stall()  # and again: the second skip closes it
        for _ in range(300):
            if status(srv.http)["closed_slow"] >= 1:
                break
            await asyncio.sleep(0.05)
        slow.resume()
        await asyncio.wait_for(slow._task, 20)
        assert slow.closed[0] == 4001
        await steady.wait_audio(seconds=0.3)
        c = steady.continuity
        assert c.violations == [] and c.skips == 0 and steady.closed is None
        assert c.frames >= 44100  # it kept up the whole time
        await steady.close()

    with ServerThread(served, cfg) as srv:
        asyncio.run(asyncio.wait_for(go(srv), 90))
