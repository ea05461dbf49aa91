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


@pytest.fixture(scope="session")
def exported_root(tmp_path_factory):
    """The real micro exported model (tests/runtime/support.py), built once per session;
    PRESTO_TEST_EXPORTED=DIR reuses one built earlier."""
    import os
    from pathlib import Path

    from tests.runtime import support

    prebuilt = os.environ.get("PRESTO_TEST_EXPORTED")
    if prebuilt:
        return Path(prebuilt)
    return support.exported_root(tmp_path_factory)


@pytest.fixture(scope="session")
def served(exported_root):
    from engine.runtime.model import ServedModel

    return ServedModel.load(exported_root / "base", threads=1)
