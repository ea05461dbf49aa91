"""MIDI control: knobs, faders, pads and keys steer the live engine (docs/midi.md).

    ports.py     pick the MIDI system (JACK / ALSA), list ports, match one by name
    messages.py  raw bytes -> events; 14-bit CC pairs, relative encoders; the rest counted
    curves.py    linear / exp / log response curves and their inverses
    mapping.py   the TOML mapping file: presets and bindings, checked with line-and-key errors
    pickup.py    takeover for absolute knobs
    learn.py     MIDI learn, and editing the mapping file in place
    feedback.py  values changed elsewhere -> messages for LEDs and motorised faders
    router.py    the I/O-free core: events -> coalesced control messages + feedback
    input.py     rtmidi callback -> queue -> drain thread -> the engine's ControlSink
    sink.py      the interface to the engine (ControlSink, StateObserver, RecordingSink)
    jack.py      a dummy-backend JACK server (tests and bench on machines without sound)

Only ports.py, input.py and jack.py touch rtmidi; the rest is plain Python.
"""
