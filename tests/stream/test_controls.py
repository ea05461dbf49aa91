"""Controls: every value checked (type, range, length) with a message that says what to send."""

from __future__ import annotations

import threading

import pytest

from engine.stream.controls import (
    MAX_PROMPT_CHARS,
    ControlChange,
    ControlError,
    ControlQueue,
    parse_playback,
    parse_settings,
)


def test_good_settings_become_one_change() -> None:
    c = parse_settings({"prompt": "  a slow chorale ", "budget": 0.5, "guidance": 3,
                        "seed": 7, "variation": 0.25})
    assert c == ControlChange(prompts=(("a slow chorale", 1.0),), budget=0.5, guidance=3.0,
                              seed=7, variation=0.25)
    blend = parse_settings({"prompts": [["folk fiddle", 2], {"text": "piano", "weight": 1}]})
    assert blend.prompts == (("folk fiddle", 2.0), ("piano", 1.0))
    assert blend.restarts() and parse_settings({"budget": 0.1}).restarts()
    assert parse_playback("pause").restarts() and not parse_playback("play").restarts()
    assert blend.regenerates() and not parse_playback("pause").regenerates()
    assert c.as_dict()["prompts"] == [["a slow chorale", 1.0]]


@pytest.mark.parametrize("settings, code, field", [
    ({"budget": 1.5}, "bad_value", "budget"),
    ({"budget": "high"}, "bad_value", "budget"),
    ({"budget": True}, "bad_value", "budget"),
    ({"budget": float("nan")}, "bad_value", "budget"),
    ({"guidance": -1}, "bad_value", "guidance"),
    ({"guidance": 1e9}, "bad_value", "guidance"),
    ({"seed": -1}, "bad_value", "seed"),
    ({"seed": 1.5}, "bad_value", "seed"),
    ({"seed": 2**40}, "bad_value", "seed"),
    ({"variation": 2}, "bad_value", "variation"),
    ({"prompt": ""}, "bad_value", "prompt"),
    ({"prompt": "   "}, "bad_value", "prompt"),
    ({"prompt": 42}, "bad_value", "prompt"),
    ({"prompt": "x" * (MAX_PROMPT_CHARS + 1)}, "bad_value", "prompt"),
    ({"prompts": []}, "bad_value", "prompts"),
    ({"prompts": [["a", 1]] * 9}, "bad_value", "prompts"),
    ({"prompts": [["a", -1]]}, "bad_value", "weight"),
    ({"prompts": [["a", 0], ["b", 0]]}, "bad_value", "prompts"),
    ({"prompts": [["a", 1, 2]]}, "bad_value", "prompts"),
    ({"prompts": [{"text": "a", "colour": 1}]}, "bad_value", "prompts"),
    ({"prompts": "jazz"}, "bad_value", "prompts"),
    ({"prompt": "a", "prompts": [["b", 1]]}, "bad_value", "prompts"),
    ({"tempo": 120}, "unknown_field", "tempo"),
    ({}, "bad_value", "set"),
    (None, "bad_value", "set"),
    ([1, 2], "bad_value", "set"),
])
def test_bad_settings_are_refused_with_a_code_and_the_field(settings, code, field) -> None:
    with pytest.raises(ControlError) as info:
        parse_settings(settings)
    assert info.value.code == code and info.value.field == field
    assert len(str(info.value)) < 300


def test_a_bad_playback_action_is_refused() -> None:
    with pytest.raises(ControlError, match="play, pause, reset"):
        parse_playback("stop")


def test_the_queue_is_thread_safe_bounded_and_wakes_the_engine() -> None:
    queue = ControlQueue(limit=50)
    threads = [threading.Thread(target=lambda: [queue.submit(ControlChange(playback="play"))
                                                for _ in range(10)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert queue.wake.is_set() and len(queue) == 40 and not queue.wants_restart()
    queue.submit(ControlChange(seed=1))
    assert queue.wants_restart() and queue.wants_rewind()
    items = queue.take_all()
    assert len(items) == 41 and len(queue) == 0 and not queue.wake.is_set()
    for _ in range(50):
        queue.submit(ControlChange(budget=0.1))
    with pytest.raises(ControlError) as info:
        queue.submit(ControlChange(budget=0.1))
    assert info.value.code == "busy"
