from hypothesis import given
from hypothesis import strategies as st

from engine.midi.messages import (
    ControlChange,
    MessageParser,
    NoteOff,
    NoteOn,
    ProgramChange,
    encode_cc,
    relative_delta,
)


def test_channel_messages_parse_to_events_with_zero_based_channels():
    p = MessageParser()
    assert p.parse([0xB3, 7, 100]) == ControlChange(3, 7, 100)
    assert p.parse([0x90, 60, 90]) == NoteOn(0, 60, 90)
    assert p.parse([0x81, 60, 40]) == NoteOff(1, 60, 40)
    assert p.parse([0xCF, 5]) == ProgramChange(15, 5)
    assert p.counts.parsed == 4 and p.counts.received == 4


def test_note_on_with_velocity_zero_is_a_note_off():
    assert MessageParser().parse([0x92, 36, 0]) == NoteOff(2, 36, 0)


def test_sysex_system_unsupported_and_malformed_are_counted_not_raised():
    p = MessageParser()
    for m in ([0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7], [0xF8], [0xFA], [0xE0, 0, 64],
              [0xD0, 10], [0xA0, 60, 10], [], [0x40, 1], [0xB0, 1], [0xB0, 1, 200],
              [0xC0, 1, 2]):
        assert p.parse(m) is None
    c = p.counts
    assert (c.sysex, c.system, c.unsupported, c.malformed) == (1, 2, 3, 5)
    assert c.received == 11 and c.parsed == 0


def test_fourteen_bit_pair_msb_then_lsb():
    p = MessageParser(fourteen_bit=frozenset({1}))
    assert p.parse([0xB0, 1, 64]) == ControlChange(0, 1, 64 << 7, bits=14)
    assert p.parse([0xB0, 33, 5]) == ControlChange(0, 1, (64 << 7) | 5, bits=14)
    # a new MSB resets the LSB (MIDI 1.0), then the LSB refines it again
    assert p.parse([0xB0, 1, 65]).value == 65 << 7
    assert p.parse([0xB0, 33, 127]).value == (65 << 7) | 127


def test_fourteen_bit_pairs_are_kept_per_channel_and_other_ccs_stay_seven_bit():
    p = MessageParser(fourteen_bit=frozenset({1}))
    p.parse([0xB0, 1, 10])
    p.parse([0xB1, 1, 20])
    assert p.parse([0xB0, 33, 1]).value == (10 << 7) | 1
    assert p.parse([0xB1, 33, 2]).value == (20 << 7) | 2
    assert p.parse([0xB0, 2, 3]) == ControlChange(0, 2, 3)
    assert p.parse([0xB0, 34, 3]) == ControlChange(0, 34, 3)


def test_fourteen_bit_needs_an_msb_number_below_32():
    import pytest

    with pytest.raises(ValueError, match="0..31"):
        MessageParser(fourteen_bit=frozenset({40}))


@given(st.integers(0, 15), st.integers(0, 31), st.integers(0, 16383))
def test_encoded_fourteen_bit_value_parses_back(channel, number, value):
    p = MessageParser(fourteen_bit=frozenset({number}))
    events = [p.parse(m) for m in encode_cc(channel, number, value, bits=14)]
    assert events[-1] == ControlChange(channel, number, value, bits=14)


def test_relative_encoder_encodings():
    assert [relative_delta(v, "twos") for v in (1, 3, 63, 127, 125, 64, 0)] == \
        [1, 3, 63, -1, -3, -64, 0]
    assert [relative_delta(v, "offset") for v in (65, 67, 64, 63, 60)] == [1, 3, 0, -1, -4]
    assert [relative_delta(v, "sign") for v in (1, 5, 65, 69, 0, 64)] == [1, 5, -1, -5, 0, 0]
