from pathlib import Path

import pytest

from engine.midi.mapping import (
    DEFAULT_MAPPING,
    Binding,
    MappingError,
    binding_to_toml,
    load_mapping,
    parse_mapping,
)


def test_default_mapping_is_the_documented_one():
    m = load_mapping()
    by_source = {(b.source, b.number): b for b in m.bindings}
    assert by_source[("cc", 1)].target == ("budget", None)
    assert by_source[("cc", 74)].target == ("guidance", None)
    assert by_source[("cc", 74)].curve == "exp"
    assert [by_source[("cc", 20 + i)].target for i in range(8)] == \
        [("weight", i + 1) for i in range(8)]
    assert by_source[("cc", 28)].target == ("seed", None)
    assert [by_source[("note", 36 + i)].target for i in range(8)] == \
        [("preset", i + 1) for i in range(8)]
    assert by_source[("program", None)].target == ("preset", None)
    for note, cc, action in ((44, 115, "play"), (45, 116, "pause"), (46, 117, "reset")):
        assert by_source[("note", note)].control == by_source[("cc", cc)].control == action
    assert all(b.channels is None for b in m.bindings)  # omni
    assert len(m.presets) == 8


def test_docs_list_every_default_binding():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "midi.md").read_text()
    for phrase in ("CC 1", "CC 74", "CC 20", "CC 28", "notes 36", "program change",
                   "CC 115"):
        assert phrase in docs


@pytest.mark.parametrize("text, where, what", [
    ('version = 1\n[[binding]]\ncontrol = "budget"\ncc = 1 2\n', "line 4", "cc = 1 2"),
    ('version = 1\n\n[[binding]]\ncontrol = "budget"\ncc = 1\nchanel = 2\n',
     "line 6: [[binding]] #1 key 'chanel'", "unknown key"),
    ('[[binding]]\ncontrol = "budget"\ncc = 1\n\n[[binding]]\ncontrol = "guidance"\ncc = 2\n'
     'curve = "cubic"\n', "line 8: [[binding]] #2 key 'curve'", "linear, exp, log"),
    ('[[binding]]\ncontrol = "budget"\ncc = 1\nrange = [0, 2]\n', "line 4", "0..1, got 2"),
    ('[[binding]]\ncontrol = "budget"\n', "line 1: [[binding]] #1", "exactly one source"),
    ('[[binding]]\ncontrol = "budget"\ncc = 1\n[[binding]]\ncontrol = "guidance"\ncc = 1\n',
     "line 6: [[binding]] #2 key 'cc'", "already bound by the binding at line 1"),
    ('[[binding]]\ncontrol = "budget"\ncc = 1\nbits = 14\n[[binding]]\ncontrol = "guidance"\n'
     'cc = 33\nchannel = 3\n', "line 7", "cc 33 is already bound"),
    ('[[binding]]\ncontrol = "budget"\ncc = 40\nbits = 14\n', "key 'bits'", "n 0..31"),
    ('[[preset]]\nprompt = "x"\n[[binding]]\ncontrol = "preset"\nnote = 3\npreset = 2\n',
     "line 6", "1..1, got 2"),
    ('[[binding]]\ncontrol = "weight"\ncc = 3\n', "key 'index'", "missing"),
    ('[[binding]]\ncontrol = "play"\nprogram = 3\n', "line 3", "select presets only"),
    ('[defaults]\nchannel = 17\n', "line 2: [defaults] key 'channel'", '"omni"'),
    ('version = 2\n', "line 1: key 'version'", "reads version 1"),
    ('[[preset]]\nprompts = [["a", 2.0]]\n', "line 2: [[preset]] #1", "outside 0..1"),
    ('[[binding]]\ncontrol = "budget"\nnote = 3\n', "line 3", "use cc = N"),
    ('[[binding]]\ncontrol = "budget"\ncc = 3\nstep = 0.1\n', "key 'step'", "set mode"),
    ('[[binding]]\ncontrol = "reset"\ncc = 3\nrange = [0, 1]\n', "key 'range'", "button"),
])
def test_a_bad_file_names_the_line_and_key(text, where, what):
    with pytest.raises(MappingError) as info:
        parse_mapping(text, Path("my.toml"))
    message = str(info.value)
    assert message.startswith("my.toml") and where in message and what in message


def test_a_missing_or_unreadable_file_says_where_to_start(tmp_path):
    with pytest.raises(MappingError, match="no such mapping file.*default_mapping.toml"):
        load_mapping(tmp_path / "nope.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(tmp_path / "bin.toml")


def test_channels_ranges_and_defaults():
    m = parse_mapping("""
[defaults]
takeover = "jump"
[[binding]]
control = "guidance"
cc = 7
channel = [1, 3]
range = [7.0, 1.0]
curve = "log"
shape = 2.5
[[binding]]
control = "budget"
cc = 7
channel = 2
mode = "relative-twos"
step = 0.05
[[binding]]
control = "budget"
cc = 8
bits = 14
takeover = "pickup"
""")
    g, b, fine = m.bindings
    assert g.channels == frozenset({0, 2}) and g.range == (7.0, 1.0) and g.curve == "log"
    assert g.shape == 2.5 and g.takeover == "jump" and g.listens(2) and not g.listens(1)
    assert b.channels == frozenset({1}) and b.relative and b.step == 0.05
    assert fine.bits == 14 and fine.takeover == "pickup"
    assert m.fourteen_bit() == frozenset({8})


def test_binding_to_toml_parses_back():
    m = load_mapping(DEFAULT_MAPPING)
    extra = [Binding("budget", "cc", 9, frozenset({3}), bits=14, range=(0.2, 0.9),
                     curve="exp", takeover="jump", feedback=False),
             Binding("seed", "cc", 60, mode="relative-sign", range=(0.0, 500.0), step=0.002)]
    text = m.text + "\n" + "\n".join(binding_to_toml(b) for b in extra)
    again = parse_mapping(text)
    for b, back in zip(extra, again.bindings[-2:], strict=True):
        assert b == Binding(**{**back.__dict__, "line": None})
