"""`run_engine.py --midi-*`: the engine process steered from a real MIDI port, MIDI learn armed
by a WebSocket message, and each bad MIDI option refused with a clear message."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from clients.listen import Listener
from tests.midi.support import Controller, EngineProcess
from tests.midi.test_link import run, until

ROOT = Path(__file__).resolve().parents[2]


def run_engine(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_engine.py", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_engine_process_is_steered_from_a_virtual_port_and_learns(
        jack, exported_root, tmp_path):
    mapping = tmp_path / "mine.toml"
    args = ["--model", str(exported_root / "base"), "--hop", "0.2", "--margin", "0.1",
            "--midi-virtual", "proc", "--midi-map", str(mapping)]
    with EngineProcess(args) as proc:
        ctl = Controller("proc-ctl")
        ctl.connect("presto-live:proc", "presto-live-out:proc")

        async def go():
            client = await Listener.connect(proc.url)
            await client.wait_audio(seconds=0.3)
            ctl.cc(28, 77)  # seed: no pick-up
            state = await until(client, lambda s: s["seed"] == 77)
            assert any(a["applied"] == {"seed": 77} for a in state["midi"]["acks"])
            reply = await client.request({"type": "midi_learn", "control": "budget"})
            assert reply["type"] == "ack" and reply["midi_learn"]["status"] == "armed"
            for v in (5, 6, 7, 8):
                ctl.cc(50, v)
            state = await until(client, lambda s: s["midi"]["learned"] is not None)
            assert state["midi"]["learned"]["saved_to"] == str(mapping)
            await client.close()

        run(go())
        ctl.close()
    learned = mapping.read_text().split("# learned")[-1]
    assert 'control = "budget"' in learned and "cc = 50" in learned


def test_midi_learn_without_midi_is_an_error(served):
    from engine.server.config import ServerConfig
    from engine.stream.config import StreamConfig
    from tests.server.support import ServerThread

    cfg = ServerConfig(port=0, stream=StreamConfig(hop_seconds=0.2, margin_seconds=0.1))
    with ServerThread(served, cfg) as srv:
        async def go():
            client = await Listener.connect(srv.url)
            reply = await client.request({"type": "midi_learn", "id": "L1", "control": "seed"})
            assert reply["type"] == "error" and reply["code"] == "no_midi"
            assert "--midi-virtual" in reply["message"]
            await client.close()

        asyncio.run(asyncio.wait_for(go(), 60))


def test_midi_list_prints_the_ports(jack):
    import rtmidi

    device = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="listed")
    device.open_virtual_port("Faders 16")
    try:
        out = run_engine("--midi-list")
    finally:
        device.delete()
    assert out.returncode == 0 and "listed:Faders 16" in out.stdout


def test_bad_midi_options_are_refused_with_what_to_do(jack, exported_root, tmp_path):
    model = ["--model", str(exported_root / "base"), "--hop", "0.2", "--threads", "1",
             "--port", "0"]
    out = run_engine(*model, "--midi-in", "No Such Keyboard")
    assert out.returncode == 2
    assert "no MIDI input port matches 'No Such Keyboard'" in out.stderr
    assert "Traceback" not in out.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[[binding]]\ncontrol = "budget"\ncc = 1\ncurve = "cubic"\n')
    out = run_engine(*model, "--midi-virtual", "x", "--midi-map", str(bad))
    assert out.returncode == 2 and "line 4" in out.stderr and "'curve'" in out.stderr
    out = run_engine(*model, "--midi-out", "x")
    assert out.returncode == 2 and "need --midi-in" in out.stderr
