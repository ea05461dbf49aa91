"""A JACK server with the dummy backend: real MIDI ports on a machine with no sound hardware.

    with dummy_jack(period=128) as name:     # jackd -d dummy, a unique server name
        midi = MidiInput(MidiConfig(virtual="presto"), sink)   # talks to that server

Used by the tests (tests/midi/conftest.py) and `python -m engine.bench midi`. The server runs
without real-time scheduling (a container has no rt privileges), without audio ports, and
under a unique name, so it never meets another JACK server; while it runs,
JACK_DEFAULT_SERVER in this process's environment points rtmidi (and child processes) at it.
JACK delivers MIDI once per cycle: `period` frames at 48 kHz (128 -> 2.7 ms).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import rtmidi

from engine.midi.ports import _quiet_stderr

RATE = 48000


class JackError(RuntimeError):
    pass


def jack_running() -> bool:
    """Whether rtmidi can reach the JACK server JACK_DEFAULT_SERVER names (default: default)."""
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    try:
        with _quiet_stderr():
            rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="presto-probe").delete()
        return True
    except rtmidi.SystemError:
        return False


@contextlib.contextmanager
def dummy_jack(period: int = 256, name: str | None = None,
               timeout: float = 15.0) -> Iterator[str]:
    """Start `jackd -d dummy`, point this process at it, stop it on exit; yields its name."""
    jackd = shutil.which("jackd")
    if jackd is None:
        raise JackError("jackd is not installed: apt-get install jackd2 (Debian)")
    name = name or f"presto-{os.getpid()}-{time.monotonic_ns() % 100000}"
    env = {"JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1",
           "JACK_DEFAULT_SERVER": name}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    proc = subprocess.Popen(
        [jackd, "--no-realtime", "--name", name, "-d", "dummy", "-r", str(RATE),
         "-p", str(period), "-C", "0", "-P", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + timeout
        while not jack_running():
            if proc.poll() is not None:
                raise JackError(f"jackd exited ({proc.returncode}): {proc.stdout.read()}")
            if time.monotonic() > deadline:
                raise JackError(f"jackd did not come up within {timeout:.0f} s")
            time.sleep(0.1)
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
