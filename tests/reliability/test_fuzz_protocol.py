"""Property-based fuzzing of the control protocol over a real connection to a server on the
micro model: arbitrary text, bytes and JSON, and near-valid messages (the right keys with
wrong types and ranges, huge strings and numbers, deep nesting, unicode). Every message
gets well-formed replies and the connection stays open; afterwards the stream still flows
to a second listener and nothing was logged as an unhandled error."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from clients.listen import Listener
from engine.server.config import ServerConfig
from engine.server.protocol import ERROR_CODES
from engine.stream.config import StreamConfig
from tests.reliability.support import ErrorLog, LoopThread, TextClient
from tests.server.support import ServerThread

SERVER_TYPES = {"hello", "state", "ack", "error", "skip", "pong", "auth", "midi", "midi_out"}
FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# --- strategies ---------------------------------------------------------------------------
huge_ints = st.integers(min_value=-(10**400), max_value=10**400)
scalars = (st.none() | st.booleans() | st.integers() | huge_ints
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=12), kids, max_size=4),
                           max_leaves=12)
texts = (st.text(max_size=40) | st.text(min_size=995, max_size=1010)
         | st.sampled_from(["", "   ", "\x00", "a slow chorale", "\u202ebackwards",
                            "\U0001f3bb" * 500, "../../etc/passwd",
                            "__import__('os').system('true')"]))
numbers = (st.floats(allow_nan=False, allow_infinity=False) | st.floats(-1, 25)
           | st.integers(-3, 30) | huge_ints | st.sampled_from([0, 1, 0.5, 20, 1e308, -0.0]))
prompt_items = (st.tuples(texts, numbers).map(list)
                | st.fixed_dictionaries({"text": texts}, optional={"weight": numbers})
                | json_values)
settings_values = st.fixed_dictionaries({}, optional={
    "prompt": texts | json_values,
    "prompts": st.lists(prompt_items, max_size=10) | json_values,
    "budget": numbers | json_values, "guidance": numbers | json_values,
    "seed": st.integers(-2, 2**32) | huge_ints | json_values,
    "variation": numbers | json_values, "tempo": json_values})
midi_batches = (st.lists(st.lists(st.integers(-2, 300), max_size=4), max_size=30)
                | st.lists(st.lists(st.integers(0, 255), min_size=1, max_size=3), min_size=1,
                           max_size=520))
ids = st.integers() | st.text(max_size=80) | json_values
tokens = st.text(max_size=300) | json_values


def typed(kind: str, required: dict | None = None, **optional) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({"type": st.just(kind), **(required or {})},
                                 optional={"id": ids, **optional})


def mutated(msg: dict, key: str | None, value: object) -> dict:
    return msg if key is None else {**msg, key: value}


# each message type with its own keys (valid and invalid values), now and then one key too many
# or a type that is not a string
messages = st.builds(
    mutated,
    st.one_of(
        typed("control", {"set": settings_values | json_values}, token=tokens),
        typed("playback", {"action": st.sampled_from(["play", "pause", "reset"]) | json_values},
              token=tokens),
        typed("auth", {"token": tokens}),
        typed("ping"),
        typed("midi", {"messages": midi_batches | json_values}, token=tokens),
        typed("midi_learn", control=st.sampled_from(["budget", "seed", "weight", "preset",
                                                     "volume"]) | json_values,
              index=st.integers(-3, 10) | json_values, cancel=json_values, token=tokens)),
    st.sampled_from([None] * 8 + ["record", "path", "type"]),
    json_values | st.just("/tmp/elsewhere.flac"))


@pytest.fixture(scope="module")
def rig(served):
    cfg = ServerConfig(port=0, messages_per_second=10_000, message_burst=10_000,
                       stream=StreamConfig(hop_seconds=0.2, margin_seconds=0.1))
    loop = LoopThread()
    with ErrorLog() as errors, ServerThread(served, cfg) as srv:
        bystander = loop.run(Listener.connect(srv.url, keep_audio=False))
        loop.run(bystander.wait_audio(seconds=0.2))
        fuzzer = loop.run(TextClient(srv.url).open())
        yield loop, fuzzer, bystander, errors
        loop.run(fuzzer.ws.close())
        loop.run(bystander.close())
    loop.close()


def well_formed(replies: list[dict]) -> None:
    for reply in replies:
        assert reply.get("type") in SERVER_TYPES, reply
        if reply["type"] == "error":
            assert reply["code"] in ERROR_CODES, reply
            assert isinstance(reply["message"], str) and reply["message"], reply


def healthy(rig) -> None:
    """The stream flows to the bystander, unbroken, and nothing was unhandled."""
    loop, fuzzer, bystander, errors = rig
    well_formed(loop.run(fuzzer.exchange(json.dumps({"type": "playback", "action": "play"}))))
    loop.run(bystander.wait_audio(seconds=0.3))
    c = bystander.continuity
    assert c.violations == [] and c.skips == 0 and bystander.closed is None
    assert fuzzer.closed is None
    assert errors.lines() == []
    if fuzzer.sent >= 300:  # after both fuzzers: valid messages got through too
        kinds = {r["type"] for r in fuzzer.replies}
        assert {"ack", "error", "midi", "state"} <= kinds, kinds


@FUZZ
@given(payload=st.text(max_size=300) | st.binary(max_size=300) | json_values.map(json.dumps))
@example(payload='{"type": "control", "set": {"budget": 1e400}}')
@example(payload='{"type": "control", "set": {"guidance": ' + "9" * 400 + "}}")
@example(payload='{"type": "control", "set": {"prompts": [["x", -1e400]]}}')
@example(payload='{"type": "control", "set": {"seed": ' + "1" * 5000 + "}}")
@example(payload="[" * 5000 + "]" * 5000)
@example(payload='{"type": "control", "set": {"prompt": "\\ud800 lone surrogate"}}')
@example(payload='{"type": "ping", "id": NaN}')
def test_any_text_or_bytes_gets_well_formed_replies(rig, payload) -> None:
    loop, fuzzer, _, _ = rig
    well_formed(loop.run(fuzzer.exchange(payload)))


@settings(FUZZ, max_examples=200)
@given(msg=messages, ascii_only=st.booleans())
def test_near_valid_messages_get_an_ack_or_a_clear_error(rig, msg, ascii_only) -> None:
    loop, fuzzer, _, _ = rig
    replies = loop.run(fuzzer.exchange(json.dumps(msg, ensure_ascii=ascii_only)))
    well_formed(replies)
    for reply in replies:  # --hypothesis-show-statistics: what the examples reached
        event(f"{reply['type']} {reply.get('code', '')}".strip())


def test_after_the_fuzzing_the_stream_flows_and_nothing_was_unhandled(rig) -> None:
    healthy(rig)
