"""Port listing and matching against a real JACK server (tests/midi/conftest.py)."""

import pytest
import rtmidi

from engine.midi.ports import (
    PortError,
    choose_api,
    describe_ports,
    list_ports,
    match_port,
    open_input,
)


@pytest.fixture
def two_devices(jack):
    made = []
    for name in ("nanoKONTROL2 MIDI 1", "Launchpad Mini"):
        out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="dev")
        out.open_virtual_port(name)
        made.append(out)
    yield
    for out in made:
        out.delete()


def test_jack_is_chosen_when_its_server_runs(jack):
    assert choose_api("auto") == rtmidi.API_UNIX_JACK == choose_api("jack")


def test_alsa_without_a_sequencer_is_a_clear_error(jack):
    from pathlib import Path

    if Path("/dev/snd/seq").exists():
        pytest.skip("this machine has an ALSA sequencer")
    with pytest.raises(PortError, match="no sequencer.*--midi-api jack"):
        choose_api("alsa")
    with pytest.raises(PortError, match="not available"):
        choose_api("nonsense")


def test_ports_are_listed_and_matched_by_part_of_their_name(two_devices):
    ins, _ = list_ports(rtmidi.API_UNIX_JACK)
    assert any("nanoKONTROL2" in p for p in ins)
    text = describe_ports(rtmidi.API_UNIX_JACK)
    assert "Launchpad Mini" in text and "--midi-in" in text
    assert "nano" in ins[match_port("nanokontrol", ins)]
    exact = next(p for p in ins if "Launchpad" in p)
    assert ins[match_port(exact, ins)] == exact


def test_a_name_that_matches_nothing_lists_the_ports_that_exist(two_devices):
    with pytest.raises(PortError) as info:
        open_input(rtmidi.API_UNIX_JACK, "Oxygen 49")
    message = str(info.value)
    assert "no MIDI input port matches 'Oxygen 49'" in message
    assert "nanoKONTROL2 MIDI 1" in message and "Launchpad Mini" in message


def test_a_name_that_matches_several_asks_for_more_of_it(two_devices):
    ins, _ = list_ports(rtmidi.API_UNIX_JACK)
    with pytest.raises(PortError, match="matches several.*give more of the name"):
        match_port("dev", ins)  # dev:nanoKONTROL2 MIDI 1 and dev-01:Launchpad Mini


def test_own_ports_are_never_matched():
    with pytest.raises(PortError, match="ports are: none"):
        match_port("presto", ["presto-live:presto", "presto-live-out:presto"])
