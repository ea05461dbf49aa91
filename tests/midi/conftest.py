"""A real JACK server (dummy backend) for the whole session, so rtmidi ports are real.

engine.midi.jack.dummy_jack starts `jackd -d dummy` with no real-time scheduling, no audio
ports and a unique server name, and points this process's clients at it. Tests that need it
take the `jack` fixture; without the jackd binary (Debian package jackd2) they are skipped
with that reason.
"""

from __future__ import annotations

import shutil

import pytest

from engine.midi.jack import dummy_jack

PERIOD = 256  # frames at 48 kHz: one JACK cycle every 5.3 ms


@pytest.fixture(scope="session")
def jack():
    """The JACK server's name; the environment of this process points at it."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt-get install jackd2): MIDI port tests need a "
                    "JACK server with the dummy backend")
    with dummy_jack(PERIOD) as name:
        yield name
