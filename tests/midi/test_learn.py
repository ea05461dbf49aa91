import pytest

from engine.midi.learn import REPLACED, Learner, learn_into, write_mapping
from engine.midi.mapping import Binding, load_mapping, parse_mapping
from engine.midi.messages import ControlChange, NoteOff, NoteOn, ProgramChange


def knob(learner, number, values, channel=0, lsb=None, t0=0.0):
    out = None
    for k, v in enumerate(values):
        out = learner.offer(ControlChange(channel, number, v), t0 + 0.01 * k) or out
        if lsb is not None:
            out = learner.offer(ControlChange(channel, number + 32, lsb), t0 + 0.01 * k) or out
    return out


def test_a_knob_is_learned_after_it_settles():
    learner = Learner()
    learner.arm("guidance")
    assert learner.offer(ControlChange(2, 71, 10), 0.0) is None
    assert learner.poll(0.1) is None
    b = learner.poll(0.5)
    assert b == Binding("guidance", "cc", 71, range=(1.0, 7.0))
    assert not learner.armed


def test_enough_messages_finish_a_take_without_waiting():
    learner = Learner()
    learner.arm("weight", index=3)
    b = knob(learner, 12, [10, 11, 12, 13])
    assert b.target == ("weight", 3) and b.number == 12 and b.bits == 7


def test_msb_with_lsb_is_learned_as_fourteen_bit():
    learner = Learner()
    learner.arm("budget")
    b = knob(learner, 5, [10, 11, 12, 13], lsb=60)
    assert b.bits == 14 and b.number == 5


def test_an_encoder_repeating_a_step_is_relative():
    for values, mode in (([1, 1, 1, 1], "relative-twos"), ([127] * 4, "relative-twos"),
                         ([65] * 4, "relative-offset")):
        learner = Learner()
        learner.arm("budget")
        assert knob(learner, 30, values).mode == mode


def test_buttons_learn_from_a_note_a_cc_press_or_a_program_change():
    learner = Learner()
    learner.arm("pause")
    assert learner.offer(NoteOff(0, 50, 0), 0) is None
    assert learner.offer(ControlChange(0, 90, 0), 0) is None  # a release is not a press
    assert learner.offer(NoteOn(0, 50, 90), 0) == Binding("pause", "note", 50)
    learner.arm("preset", index=2, presets=8)
    assert learner.offer(ProgramChange(0, 9), 0) == Binding("preset", "program", 9, index=2)
    learner.arm("reset")
    assert learner.offer(ControlChange(0, 90, 127), 0) == Binding("reset", "cc", 90)


def test_arming_something_that_cannot_be_learned_says_what_can():
    learner = Learner()
    with pytest.raises(ValueError, match="budget, guidance"):
        learner.arm("volume")
    with pytest.raises(ValueError, match="index 1..8"):
        learner.arm("weight")
    with pytest.raises(ValueError, match="index 1..3"):
        learner.arm("preset", index=4, presets=3)
    assert not learner.armed


def test_learn_into_comments_out_what_it_replaces_and_keeps_the_rest(tmp_path):
    m = load_mapping()
    # budget moves from CC 1 to CC 7; CC 20 (weight 1) becomes guidance, replacing CC 74 too
    m2 = learn_into(m, Binding("budget", "cc", 7))
    m3 = learn_into(m2, Binding("guidance", "cc", 20))
    targets = {b.source_key: b.target for b in m3.bindings}
    assert targets[("cc", 7)] == ("budget", None) and ("cc", 1) not in targets
    assert targets[("cc", 20)] == ("guidance", None) and ("cc", 74) not in targets
    assert len(m3.bindings) == len(m.bindings) - 1  # 3 out, 2 in
    assert m3.text.count(REPLACED) == 3
    assert m3.text.startswith(m.text.splitlines()[0])  # comments kept
    write_mapping(m3, tmp_path / "mine.toml")
    again = load_mapping(tmp_path / "mine.toml")
    assert again.bindings == tuple(b for b in m3.bindings)
    assert [p.name for p in again.presets] == [p.name for p in m.presets]


def test_learn_into_a_channel_filtered_file():
    m = parse_mapping('[[binding]]\ncontrol = "budget"\ncc = 1\nchannel = 2\n# a comment\n\n'
                      '[[binding]]\ncontrol = "guidance"\ncc = 1\nchannel = 3\n')
    # budget moves to channel 4 (same target: replaced); guidance on channel 3 stays
    m2 = learn_into(m, Binding("budget", "cc", 1, frozenset({3})))
    assert [b.describe() for b in m2.bindings] == [
        "cc 1 (ch 3) -> guidance 1..7 linear", "cc 1 (ch 4) -> budget 0..1 linear"]
    assert "# a comment" in m2.text and f"{REPLACED}[[binding]]" in m2.text
    # the same CC on channel 3 replaces guidance there (same source, same channel)
    m3 = learn_into(m2, Binding("reset", "cc", 1, frozenset({2})))
    assert [b.describe() for b in m3.bindings] == [
        "cc 1 (ch 4) -> budget 0..1 linear", "cc 1 (ch 3) -> reset"]
