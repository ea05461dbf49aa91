"""MIDI ports through python-rtmidi: pick the MIDI system, list ports, match one by name.

    api = choose_api("auto")                  # JACK when a JACK server runs, else ALSA
    print(describe_ports(api))                # what --midi-list prints
    midi_in = open_input(api, "nanoKONTROL")  # PortOpen: the rtmidi object + the port's full name
    midi_in = open_virtual_input(api, "presto")   # a port other software connects to

Matching (`match_port`): a name equal to a port's full name wins; otherwise the name must
appear in exactly one port's name (case ignored). No match, or several, is a PortError whose
message lists the ports that exist. Ports of this process's own clients are never matched.

JACK here is also how tests get real ports without sound hardware: `jackd -d dummy` gives
rtmidi virtual ports on a machine with no /dev/snd (docs/midi.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import rtmidi

APIS = {"jack": rtmidi.API_UNIX_JACK, "alsa": rtmidi.API_LINUX_ALSA,
        "coremidi": rtmidi.API_MACOSX_CORE, "winmm": rtmidi.API_WINDOWS_MM}
API_NAMES = {v: k for k, v in APIS.items()}
CLIENT = "presto-live"


class PortError(RuntimeError):
    """A port or MIDI system that cannot be used; the message says what exists instead."""


@contextlib.contextmanager
def _quiet_stderr():
    """libjack and alsa-lib print to fd 2 when a probe fails; the probe's result is enough."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _works(api: int) -> bool:
    os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never spawn a JACK server by probing
    try:
        with _quiet_stderr():
            rtmidi.MidiIn(api, name=f"{CLIENT}-probe").delete()
        return True
    except rtmidi.SystemError:
        return False


def choose_api(name: str = "auto") -> int:
    """The rtmidi API: "jack", "alsa", ... or "auto" (a running JACK server, else the system's
    default). PortError if none works."""
    compiled = [API_NAMES.get(a, str(a)) for a in rtmidi.get_compiled_api()]
    if name != "auto":
        if name not in APIS or APIS[name] not in rtmidi.get_compiled_api():
            raise PortError(f"MIDI system {name!r} is not available; this rtmidi has "
                            f"{', '.join(compiled)} (or use auto)")
        if not _works(APIS[name]):
            raise PortError(_not_running(name))
        return APIS[name]
    for api in rtmidi.get_compiled_api():
        if api != rtmidi.API_RTMIDI_DUMMY and _works(api):
            return api
    raise PortError("no MIDI system is usable: no JACK server is running and ALSA has no "
                    "sequencer (/dev/snd/seq). Start one, e.g. `jackd -d dummy &` on a "
                    "machine without sound hardware, then try again")


def _not_running(name: str) -> str:
    if name == "jack":
        return ("the JACK server is not running (JACK_DEFAULT_SERVER="
                f"{os.environ.get('JACK_DEFAULT_SERVER', 'default')}); start it, e.g. "
                "`jackd -d dummy &`")
    if name == "alsa":
        return "ALSA has no sequencer here (/dev/snd/seq is missing); try --midi-api jack"
    return f"MIDI system {name} cannot be opened"


def own_port(name: str) -> bool:
    return name.startswith(CLIENT)


def list_ports(api: int) -> tuple[list[str], list[str]]:
    """(input ports, output ports) that exist now: the sources we could listen to and the
    destinations we could send to."""
    midi_in = rtmidi.MidiIn(api, name=f"{CLIENT}-list")
    midi_out = rtmidi.MidiOut(api, name=f"{CLIENT}-list")
    try:
        return midi_in.get_ports(), midi_out.get_ports()
    finally:
        midi_in.delete()
        midi_out.delete()


def describe_ports(api: int) -> str:
    ins, outs = list_ports(api)
    lines = [f"MIDI system: {API_NAMES.get(api, api)}", "inputs (use with --midi-in NAME):"]
    lines += [f"  {p}" for p in ins if not own_port(p)] or ["  none"]
    lines.append("outputs (use with --midi-out NAME):")
    lines += [f"  {p}" for p in outs if not own_port(p)] or ["  none"]
    return "\n".join(lines)


def match_port(name: str, ports: list[str], kind: str = "input") -> int:
    """Index in `ports` of the one port `name` means; PortError listing the ports otherwise."""
    candidates = [(i, p) for i, p in enumerate(ports) if not own_port(p)]
    exact = [i for i, p in candidates if p == name]
    if exact:
        return exact[0]
    found = [(i, p) for i, p in candidates if name.lower() in p.lower()]
    if len(found) == 1:
        return found[0][0]
    existing = ", ".join(repr(p) for _, p in candidates) or "none"
    if not found:
        raise PortError(f"no MIDI {kind} port matches {name!r}; the {kind} ports are: "
                        f"{existing} (run with --midi-list to see them)")
    raise PortError(f"{name!r} matches several MIDI {kind} ports: "
                    f"{', '.join(repr(p) for _, p in found)}; give more of the name")


@dataclass
class PortOpen:
    """An open rtmidi object and the full name of the port it is connected to."""

    midi: rtmidi.MidiIn | rtmidi.MidiOut
    port: str  # the matched port's full name, or the virtual port's name
    pattern: str | None  # what the user asked for (reconnect matches it again); None: virtual
    connected: bool = True
    callback: Callable | None = None

    def listen(self, callback: Callable) -> None:
        """Deliver input to callback((message, delta), data); SysEx too (so it is counted),
        not MIDI clock or active sensing (dropped inside rtmidi)."""
        self.callback = callback
        self.midi.ignore_types(sysex=False, timing=True, active_sense=True)
        self.midi.set_callback(callback)

    def close(self) -> None:
        self.midi.close_port()
        self.midi.delete()


def open_input(api: int, name: str, client: str = CLIENT) -> PortOpen:
    midi = rtmidi.MidiIn(api, name=client)
    try:
        ports = midi.get_ports()
        index = match_port(name, ports, "input")
        midi.open_port(index, name=f"in {name}"[:60])
    except BaseException:
        midi.delete()
        raise
    return PortOpen(midi, ports[index], name)


def open_output(api: int, name: str, client: str = f"{CLIENT}-out") -> PortOpen:
    midi = rtmidi.MidiOut(api, name=client)
    try:
        ports = midi.get_ports()
        index = match_port(name, ports, "output")
        midi.open_port(index, name=f"out {name}"[:60])
    except BaseException:
        midi.delete()
        raise
    return PortOpen(midi, ports[index], name)


def open_virtual_input(api: int, name: str, client: str = CLIENT) -> PortOpen:
    midi = rtmidi.MidiIn(api, name=client)
    midi.open_virtual_port(name)
    return PortOpen(midi, name, None)


def open_virtual_output(api: int, name: str, client: str = f"{CLIENT}-out") -> PortOpen:
    midi = rtmidi.MidiOut(api, name=client)
    midi.open_virtual_port(name)
    return PortOpen(midi, name, None)


def reconnect(port: PortOpen, ports: list[str], kind: str) -> bool:
    """Reopen a lost port if it (or one matching the same pattern) exists again."""
    if port.pattern is None:
        return False
    try:
        index = ports.index(port.port) if port.port in ports else match_port(
            port.pattern, ports, kind)
    except PortError:
        return False
    port.midi.close_port()
    port.midi.open_port(index, name=f"{kind[:3]} {port.pattern}"[:60])
    if port.callback is not None:  # closing the port cancelled the callback
        port.listen(port.callback)
    port.port, port.connected = ports[index], True
    return True
