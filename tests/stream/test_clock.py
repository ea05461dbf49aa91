"""The stream clock: blocks due in real time, catch-up after short stalls, re-anchor after long."""

from __future__ import annotations

import pytest

from engine.stream.clock import StreamClock


def test_one_block_is_due_per_period_from_the_start() -> None:
    clock = StreamClock(sample_rate=1000, block=100)  # 0.1 s blocks
    assert clock.due(5.0) == 0  # not started
    clock.start(5.0)
    assert clock.due(5.0) == 1
    clock.sent += 1
    assert clock.due(5.05) == 0 and clock.next_in(5.05) == pytest.approx(0.05)
    assert clock.due(5.1) == 1
    clock.sent += 1
    assert clock.due(5.35) == 2  # a short stall is caught up


def test_a_long_stall_re_anchors_instead_of_bursting() -> None:
    clock = StreamClock(sample_rate=1000, block=100, max_lag=0.5)
    clock.start(0.0)
    clock.sent = 1
    assert clock.due(10.0) == 1 and clock.slips == 1
    clock.sent += 1
    assert clock.due(10.05) == 0 and clock.next_in(10.05) == pytest.approx(0.05)
    clock.stop()
    assert clock.due(11.0) == 0
