import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.midi.mapping import load_mapping, parse_mapping
from engine.midi.router import MidiRouter

STATE = {"budget": 0.5, "guidance": 3.0, "seed": 0,
         "prompts": [["a slow chorale", 0.8], ["a fiddle tune", 0.4]], "paused": False}


def cc(n, v, ch=0):
    return [0xB0 | ch, n, v]


def router(text=None, feedback=False, state=STATE):
    r = MidiRouter(parse_mapping(text) if text else load_mapping(), feedback=feedback)
    if state is not None:
        r.observe(state)
    r.take_feedback()
    return r


def sets(r):
    out = r.take()
    assert all(m["id"].startswith("midi-") for m in out)
    return [m["set"] for m in out if m["type"] == "control"]


def test_a_knob_at_the_value_drives_it_through_range_and_curve():
    r = router()
    r.handle(cc(1, 64), 0.0)  # budget 0.5 is at 63.5/127: within pick-up tolerance
    assert sets(r) == [{"budget": round(64 / 127, 6)}]
    r.handle(cc(1, 127), 0.0)
    assert sets(r) == [{"budget": 1.0}]
    r.handle(cc(74, 127), 0.0)  # guidance 3.0 is far from the top: waits
    assert sets(r) == [] and r.counts.waiting == 1


def test_pickup_holds_a_far_knob_until_it_crosses_the_value():
    r = router()
    for v in (0, 20, 40):
        r.handle(cc(1, v), 0.0)
    assert sets(r) == [] and r.counts.waiting == 3
    r.handle(cc(1, 70), 0.0)  # crossed 0.5 between 40 and 70
    assert sets(r) == [{"budget": round(70 / 127, 6)}]


def test_a_batch_coalesces_and_the_last_value_wins():
    r = router()
    for v in range(64, 128):
        r.handle(cc(1, v), 0.0)
    r.handle(cc(28, 5), 0.0)
    assert sets(r) == [{"budget": 1.0, "seed": 5}]
    assert r.counts.changes == 65 and r.counts.submitted == 1


def test_weight_faders_edit_the_current_blend():
    r = router()
    r.handle(cc(21, round(0.4 * 127)), 0.0)  # fader 2 at the prompt's weight: engages
    r.handle(cc(21, 127), 0.0)
    assert sets(r) == [{"prompts": [["a slow chorale", 0.8], ["a fiddle tune", 1.0]]}]
    r.handle(cc(23, 0), 0.0)  # prompt 4 does not exist
    assert sets(r) == [] and r.counts.no_target == 1


def test_pads_and_program_changes_recall_presets():
    r = router()
    presets = r.mapping.presets
    r.handle([0x90, 38, 100], 0.0)
    r.handle([0x80, 38, 0], 0.0)
    assert sets(r) == [{"prompts": [[presets[2].prompts[0][0], 1.0]]}]
    r.handle([0xC3, 6], 0.0)  # program 6 -> preset 7 (two prompts), on any channel
    assert sets(r) == [{"prompts": [list(p) for p in presets[6].prompts]}]
    r.handle([0xC0, 100], 0.0)
    assert sets(r) == [] and r.counts.no_target == 1
    # after a preset the weight faders must pick the new weights up
    r.handle(cc(20, 0), 0.0)
    assert sets(r) == []


def test_transport_from_notes_and_cc_presses():
    r = router()
    r.handle([0x90, 45, 100], 0.0)
    assert r.take() == [{"type": "playback", "id": "midi-1", "action": "pause"}]
    r.handle(cc(115, 127), 0.0)  # press
    r.handle(cc(115, 127), 0.0)  # held: no second press
    r.handle(cc(115, 0), 0.0)  # release
    r.handle(cc(117, 127), 0.0)
    assert [m["action"] for m in r.take()] == ["play", "reset"]


def test_play_and_pause_in_one_batch_collapse_to_the_last():
    r = router()
    for note in (44, 45, 44, 45, 46, 46, 44):
        r.handle([0x90, note, 100], 0.0)
    assert [m["action"] for m in r.take()] == ["pause", "reset", "play"]


def test_relative_encoder_steps_from_the_current_value():
    r = router('[[binding]]\ncontrol = "budget"\ncc = 10\nmode = "relative-twos"\nstep = 0.1\n'
               '[[binding]]\ncontrol = "seed"\ncc = 11\nmode = "relative-offset"\n'
               'range = [0, 127]\nstep = 0.001\n')
    r.handle(cc(10, 1), 0.0)
    r.handle(cc(10, 1), 0.0)
    assert sets(r) == [{"budget": 0.7}]
    r.handle(cc(10, 125), 0.0)  # -3 steps
    r.handle(cc(11, 65), 0.0)  # a tiny step still moves an integer by one
    assert sets(r) == [{"budget": 0.4, "seed": 1}]
    r.handle(cc(10, 127), 0.0)
    r.handle(cc(10, 63), 0.0)  # +63 steps: clipped at the top of the range
    assert sets(r) == [{"budget": 1.0}]


def test_fourteen_bit_knob_resolves_fine_values():
    r = router('[[binding]]\ncontrol = "budget"\ncc = 3\nbits = 14\ntakeover = "jump"\n')
    r.handle(cc(3, 100), 0.0)
    r.handle(cc(35, 77), 0.0)
    assert sets(r) == [{"budget": round(((100 << 7) | 77) / 16383, 6)}]


def test_channel_filters_route_the_same_cc_to_different_controls():
    r = router('[[binding]]\ncontrol = "budget"\ncc = 7\nchannel = 1\ntakeover = "jump"\n'
               '[[binding]]\ncontrol = "guidance"\ncc = 7\nchannel = [2, 3]\n'
               'takeover = "jump"\nrange = [0, 10]\n')
    r.handle(cc(7, 127, ch=0), 0.0)
    r.handle(cc(7, 0, ch=2), 0.0)
    r.handle(cc(7, 0, ch=5), 0.0)
    assert sets(r) == [{"budget": 1.0, "guidance": 0.0}] and r.counts.unmapped == 1


def test_a_change_made_elsewhere_releases_pickup_and_is_fed_back():
    r = router(feedback=True)
    r.handle(cc(1, 64), 0.0)
    r.take()
    r.take_feedback()
    r.observe({**STATE, "budget": 0.1})  # the page moved it
    assert r.take_feedback() == [[0xB0, 1, round(0.1 * 127)]]
    r.handle(cc(1, 70), 0.0)  # the knob is at 64-70, far from 0.1: waits
    assert sets(r) == [] and r.counts.external >= 1


def test_the_engine_echoing_our_own_values_is_not_a_change_made_elsewhere():
    r = router(feedback=True)
    for v in (64, 80, 100):
        r.handle(cc(1, v), 0.0)
        r.take()
    r.take_feedback()
    externals = r.counts.external
    r.observe({**STATE, "budget": round(80 / 127, 6)})  # an older value of ours, applied late
    r.observe({**STATE, "budget": round(100 / 127, 6)})
    assert r.counts.external == externals and r.take_feedback() == []
    r.handle(cc(1, 101), 0.0)  # still engaged
    assert sets(r) == [{"budget": round(101 / 127, 6)}]


def test_feedback_goes_to_other_bindings_of_the_same_control_not_the_one_moved():
    r = router('[[binding]]\ncontrol = "budget"\ncc = 1\ntakeover = "jump"\n'
               '[[binding]]\ncontrol = "budget"\ncc = 2\n', feedback=True)
    r.handle(cc(1, 127), 0.0)
    r.take()
    assert r.take_feedback() == [[0xB0, 2, 127]]
    r.handle(cc(2, 0), 0.0)  # its pick-up was released by the other knob: waits
    assert sets(r) == []


def test_preset_lamps_and_weight_faders_follow_a_preset():
    r = router(feedback=True)
    r.handle([0x90, 43, 100], 0.0)  # preset 8: [accordion 0.7, fiddle 0.3]
    r.take()
    out = r.take_feedback()
    assert [0x90, 43, 127] in out and [0xB0, 20, round(0.7 * 127)] in out
    assert [0xB0, 21, round(0.3 * 127)] in out
    r.observe({**STATE, "prompts": [list(p) for p in r.mapping.presets[0].prompts]})
    out = r.take_feedback()
    assert [0x90, 43, 0] in out and [0x90, 36, 127] in out  # the page chose preset 1's text
    assert [0xB0, 20, 127] in out  # its one prompt at weight 1


def test_sysex_and_unknown_messages_are_counted_and_change_nothing():
    r = router()
    r.handle([0xF0, 1, 2, 0xF7], 0.0)
    r.handle([0xE0, 0, 64], 0.0)
    r.handle([0xB0, 90, 1], 0.0)
    assert r.take() == []
    s = r.status()
    assert s["messages"]["sysex"] == 1 and s["messages"]["unsupported"] == 1
    assert s["unmapped"] == 1


def test_learn_binds_the_next_knob_and_consumes_its_messages():
    r = router()
    r.arm("budget")
    for v in (10, 11, 12, 13):
        r.handle(cc(1 + 73, v), float(v))  # CC 74 (guidance) is now budget
    assert r.take() == []
    learned = r.take_learned()
    assert [b.describe() for b in learned] == ["cc 74 (omni) -> budget 0..1 linear"]
    r.handle(cc(74, 64), 0.0)
    assert sets(r) == [{"budget": round(64 / 127, 6)}]
    r.handle(cc(1, 64), 0.0)  # CC 1 no longer drives budget
    assert sets(r) == [] and r.counts.unmapped == 1


def test_learn_settles_on_time_too():
    r = router()
    r.arm("weight", 2)
    r.handle(cc(50, 3), 10.0)
    r.poll(10.1)
    assert r.take_learned() == []
    r.poll(10.5)
    assert [b.target for b in r.take_learned()] == [("weight", 2)]


def test_learn_refuses_a_target_that_does_not_exist():
    with pytest.raises(ValueError, match="preset needs index 1..8"):
        router().arm("preset", 9)


MESSAGES = st.sampled_from(
    [cc(1, v) for v in (0, 30, 64, 100, 127)] + [cc(74, v) for v in (0, 90, 127)]
    + [cc(20, 50), cc(21, 120), cc(115, 127), cc(115, 0), cc(116, 127), cc(116, 0)]
    + [[0x90, n, 100] for n in (36, 37, 44, 45, 46)] + [[0xC0, 2], [0xF0, 1, 0xF7]]
    + [cc(3, 10), cc(35, 20), cc(10, 1), cc(10, 127)])
BATCH_MAP = load_mapping().text + """
[[binding]]
control = "variation"
cc = 3
bits = 14
[[binding]]
control = "guidance"
cc = 10
channel = 1
mode = "relative-twos"
"""


@given(st.lists(st.lists(MESSAGES, max_size=30), max_size=4), st.booleans())
@settings(max_examples=60, deadline=None)
def test_batches_give_what_their_messages_give_one_by_one(batches, state):
    state = STATE if state else None  # with a state, knobs start waiting for pick-up
    one, batch = router(BATCH_MAP, state=state), router(BATCH_MAP, state=state)
    for messages in batches:
        for m in messages:
            one.handle(m, 0.0)
        batch.handle_batch([(0.0, m) for m in messages])
    assert [m.get("set") or m["action"] for m in one.take()] == \
        [m.get("set") or m["action"] for m in batch.take()]
    assert one.parser.counts == batch.parser.counts
    assert one.counts.events == batch.counts.events
