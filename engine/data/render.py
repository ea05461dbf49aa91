"""Render a General MIDI file to audio with FluidSynth (through the pyfluidsynth binding).

Each render gets a fresh synth: FluidSynth's reverb, chorus and voice state survive a reset,
and a render must not depend on what the same process rendered before (the build is
deterministic whatever the number of workers). Loading the soundfont costs about 0.15 s;
rendering itself runs about a hundred times faster than real time on one core.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import mido
import numpy as np

DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SAMPLE_RATE = 44100
TAIL_SECONDS = 1.5  # let the last notes and the reverb ring out
_BLOCK = 4096


class RendererUnavailable(RuntimeError):
    """FluidSynth (the library, the binding or the soundfont) is missing; says what to install."""


def load_fluidsynth_module():
    """Import pyfluidsynth, turning its failure modes into one actionable message."""
    try:
        import fluidsynth
    except ImportError as error:
        text = str(error)
        if "fluidsynth" in text.lower() and "library" in text.lower():
            raise RendererUnavailable(
                "the FluidSynth library (libfluidsynth) was not found: install it with "
                "`apt-get install libfluidsynth3` (Debian) and retry"
            ) from error
        raise RendererUnavailable(
            "the Python FluidSynth binding is not installed: `pip install pyfluidsynth` "
            f"(and `apt-get install libfluidsynth3`); import said: {text}"
        ) from error
    return fluidsynth


def check_renderer(soundfont: Path = DEFAULT_SOUNDFONT) -> None:
    """Raise RendererUnavailable (with what to install) unless rendering can work here."""
    if not Path(soundfont).is_file():
        raise RendererUnavailable(
            f"soundfont not found at {soundfont}: install the Debian package "
            "fluid-soundfont-gm (`apt-get install fluid-soundfont-gm`) or pass --soundfont "
            "with the path of a General MIDI .sf2 file"
        )
    load_fluidsynth_module()


class FluidSynthRenderer:
    """Renders MIDI files with FluidSynth and a General MIDI soundfont."""

    def __init__(
        self,
        soundfont: Path = DEFAULT_SOUNDFONT,
        sample_rate: int = SAMPLE_RATE,
        gain: float = 0.35,
    ) -> None:
        self.soundfont = Path(soundfont)
        check_renderer(self.soundfont)
        self._fluidsynth = load_fluidsynth_module()
        self._write_float = self._fluidsynth._fl.fluid_synth_write_float
        self._write_float.restype = ctypes.c_int
        self._write_float.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
        ]
        self.sample_rate = sample_rate
        self.gain = gain
        self._synth = None
        self._sfid = -1

    def _new_synth(self) -> None:
        if self._synth is not None:
            self._synth.delete()
        self._synth = self._fluidsynth.Synth(gain=self.gain, samplerate=float(self.sample_rate))
        self._sfid = self._synth.sfload(str(self.soundfont))
        if self._sfid < 0:
            raise RendererUnavailable(f"FluidSynth could not load the soundfont {self.soundfont}")

    def _samples(self, frames: int) -> np.ndarray:
        """Render `frames` stereo frames -> float32 array (frames, 2), nominally in [-1, 1].

        Uses fluid_synth_write_float, not the binding's 16-bit get_samples: the 16-bit path
        dithers from a process-wide random table, so its output depends on what the process
        rendered before, and it clips.
        """
        out = np.zeros((frames, 2), np.float32)
        done = 0
        while done < frames:
            n = min(frames - done, _BLOCK)
            block = out[done : done + n]  # a view: FluidSynth writes interleaved L/R into it
            pointer = block.ctypes.data_as(ctypes.c_void_p)
            self._write_float(self._synth.synth, n, pointer, 0, 2, pointer, 1, 2)
            done += n
        return out

    def render(self, midi: mido.MidiFile, channels: int = 1) -> np.ndarray:
        """Render a whole MIDI file -> float32 array (channels, samples).

        channels=1 averages the synth's stereo output; channels=2 keeps it.
        """
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        self._new_synth()
        pieces = []
        pending = 0.0  # seconds of audio owed before the next event
        for message in midi:  # mido yields messages with .time as delta seconds
            pending += message.time
            frames = int(round(pending * self.sample_rate))
            if frames:
                pieces.append(self._samples(frames))
                pending -= frames / self.sample_rate
            if message.is_meta:
                continue
            if message.type == "note_on" and message.velocity > 0:
                self._synth.noteon(message.channel, message.note, message.velocity)
            elif message.type in ("note_off", "note_on"):
                self._synth.noteoff(message.channel, message.note)
            elif message.type == "program_change":
                self._synth.program_select(message.channel, self._sfid, 0, message.program)
            elif message.type == "control_change":
                self._synth.cc(message.channel, message.control, message.value)
        pieces.append(self._samples(int(TAIL_SECONDS * self.sample_rate)))
        stereo = np.concatenate(pieces)  # (samples, 2)
        if channels == 1:
            return stereo.mean(axis=1, keepdims=True).T.copy()
        return stereo.T.copy()
