"""Per-listener queues: a slow listener is skipped forward, announced, and closed if it persists."""

from __future__ import annotations

import json

import numpy as np

from engine.server.limits import RateLimit
from engine.server.listener_queue import AudioBlock, ListenerQueue
from engine.server.protocol import S16LE, decode_header


def block(seq: int, n: int = 100) -> AudioBlock:
    return AudioBlock(seq, (seq - 1) * n, np.zeros((1, n), np.float32))


def test_a_listener_that_keeps_up_gets_every_block_in_order() -> None:
    q = ListenerQueue(max_audio=3)
    q.put_text('{"type": "hello"}')
    for seq in (1, 2):
        assert q.put_audio(block(seq)) == "ok"
    assert q.pop() == '{"type": "hello"}'
    assert [decode_header(q.pop()).seq for _ in range(2)] == [1, 2]
    assert q.pop() is None


def test_an_overflowing_listener_skips_to_the_live_edge_with_a_skip_message() -> None:
    q = ListenerQueue(max_audio=3, max_skips=3)
    for seq in (1, 2, 3):
        q.put_audio(block(seq))
    q.put_text('{"type": "ack"}')
    assert q.put_audio(block(4), now=1.0) == "skipped"
    out = [q.pop() for _ in range(len(q))]
    assert out[0] == '{"type": "ack"}'  # text is never dropped
    skip = json.loads(out[1])
    assert skip["type"] == "skip" and skip["from_sample"] == 0 and skip["to_sample"] == 300
    assert skip["frames"] == 300 and decode_header(out[2]).sample == 300
    assert q.skips == 1 and q.skipped_frames == 300


def test_a_listener_that_stays_behind_is_told_to_close() -> None:
    q = ListenerQueue(max_audio=1, max_skips=2, skip_window=10.0)
    q.put_audio(block(1))
    assert q.put_audio(block(2), now=0.0) == "skipped"
    assert q.put_audio(block(3), now=20.0) == "skipped"  # the first skip is out of the window
    assert q.put_audio(block(4), now=21.0) == "close"


def test_a_listener_that_reads_nothing_is_closed_when_its_text_backs_up() -> None:
    q = ListenerQueue(max_audio=4, max_text=3)
    assert all(q.put_text("{}") for _ in range(3)) and not q.put_text("{}")


def test_blocks_are_encoded_once_per_format() -> None:
    b = block(1)
    assert b.data() is b.data() and decode_header(b.data(S16LE)).fmt == 2
    q = ListenerQueue(fmt=S16LE)
    q.put_audio(b)
    assert decode_header(q.pop()).fmt == 2


def test_the_rate_limit_allows_bursts_then_limits_then_calls_a_flood() -> None:
    limit = RateLimit(rate=10, burst=5, flood=8, window=10)
    assert [limit.take(0.0) for _ in range(5)] == ["ok"] * 5
    assert limit.take(0.0) == "limited"
    assert limit.take(0.1) == "ok"  # one token refilled
    verdicts = [limit.take(0.1) for _ in range(7)]  # drops 2..8: the 8th is a flood
    assert verdicts[-1] == "flood" and set(verdicts[:-1]) == {"limited"}
