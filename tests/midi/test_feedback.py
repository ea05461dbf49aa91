from engine.midi.feedback import Feedback, knob_position
from engine.midi.mapping import Binding


def test_a_value_goes_back_as_the_knob_position_through_range_and_curve():
    fb = Feedback()
    lin = Binding("budget", "cc", 1)
    assert fb.value(0, lin, 0.5) == [[0xB0, 1, 64]]
    exp = Binding("guidance", "cc", 74, range=(1.0, 7.0), curve="exp")
    raw = fb.value(1, exp, 3.0)[0][2]
    assert raw == round(knob_position(exp, 3.0) * 127) and raw > 64  # exp: 3.0 sits high
    rev = Binding("budget", "cc", 2, range=(1.0, 0.0))
    assert fb.value(2, rev, 1.0) == [[0xB0, 2, 0]]


def test_fourteen_bits_go_back_as_msb_and_lsb_on_the_bindings_channel():
    fb = Feedback()
    b = Binding("budget", "cc", 3, frozenset({4, 9}), bits=14)
    value = 0.3
    raw = round(value * 16383)
    assert fb.value(0, b, value) == [[0xB4, 3, raw >> 7], [0xB4, 35, raw & 0x7F]]


def test_nothing_is_sent_that_the_controller_already_shows():
    fb = Feedback()
    b = Binding("budget", "cc", 1)
    fb.heard(0, channel=5, raw=64)
    assert fb.value(0, b, 64 / 127) == []
    assert fb.value(0, b, 0.0) == [[0xB5, 1, 0]]  # omni: answers on the channel used last
    assert fb.value(0, b, 0.0) == []
    fb.forget()
    assert fb.value(0, b, 0.0) == [[0xB5, 1, 0]]


def test_lamps_for_pads_and_buttons_and_none_for_programs():
    fb = Feedback()
    assert fb.lamp(0, Binding("preset", "note", 36, index=1), True) == [[0x90, 36, 127]]
    assert fb.lamp(0, Binding("preset", "note", 36, index=1), True) == []
    assert fb.lamp(0, Binding("preset", "note", 36, index=1), False) == [[0x90, 36, 0]]
    assert fb.lamp(1, Binding("play", "cc", 115), True) == [[0xB0, 115, 127]]
    assert fb.lamp(2, Binding("preset", "program", None), True) == []
