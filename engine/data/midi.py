"""Turn a parsed score and a render plan into a General MIDI file (mido).

A render plan is everything that makes one render of a work distinct from another render of
the same work: orchestration, tempo, transposition and dynamics.
"""

from __future__ import annotations

from dataclasses import dataclass

import mido
import numpy as np

from engine.data.instruments import choose_orchestration, family_of
from engine.data.score import ScoreFacts

TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9  # GM percussion channel: never used for pitched parts

DYNAMIC_VELOCITY = {"pp": 38, "p": 52, "mp": 66, "mf": 80, "f": 96, "ff": 112}

# Quarter-note BPM to use when the score has no metronome mark.
DEFAULT_BPM = {
    "german_folk": 108,
    "chinese_folk": 92,
    "childrens_song": 112,
    "lorraine_folk": 108,
    "luxembourg_folk": 108,
    "irish_folk": 140,
    "scottish_air": 92,
    "british_dance": 150,
    "english_dance": 150,
    "folk": 116,
    "bach_chorale": 80,
    "renaissance_sacred": 132,
    "renaissance_madrigal": 120,
    "medieval": 112,
    "classical_quartet": 120,
    "romantic": 100,
    "classical": 104,
}


@dataclass(frozen=True)
class RenderPlan:
    """How one render of a work sounds."""

    programs: tuple[int, ...]  # 0-based GM program per part, top part first
    bpm: float  # quarter-note beats per minute
    transpose: int  # semitones
    dynamic: str  # a key of DYNAMIC_VELOCITY
    humanise_seed: int  # seeds the small velocity variations
    max_seconds: float  # the render stops here (long works are cut)


def choose_plan(
    facts: ScoreFacts, source: str, rng: np.random.Generator, max_seconds: float
) -> RenderPlan:
    """Draw a render plan: orchestration, tempo scaling (x0.8-1.25), transposition (-5..+6)."""
    programs = tuple(choose_orchestration(min(len(facts.parts), 15), rng))
    base_bpm = facts.written_bpm or DEFAULT_BPM.get(source, 108)
    bpm = float(np.clip(base_bpm * rng.uniform(0.8, 1.25), 40.0, 240.0))
    return RenderPlan(
        programs=programs,
        bpm=round(bpm, 1),
        transpose=int(rng.integers(-5, 7)),
        dynamic=str(rng.choice(list(DYNAMIC_VELOCITY))),
        humanise_seed=int(rng.integers(2**31)),
        max_seconds=max_seconds,
    )


def _octave_shift(pitches: list[int], lowest: int, highest: int) -> int:
    """Whole-octave shift that moves a line's median into an instrument's comfortable range."""
    median = float(np.median(pitches))
    centre = (lowest + highest) / 2
    shift = 0
    while median + shift < lowest + 6 and median + shift < centre:
        shift += 12
    while median + shift > highest - 6 and median + shift > centre:
        shift -= 12
    return shift


def build_midi(facts: ScoreFacts, plan: RenderPlan) -> mido.MidiFile:
    """A type-1 MIDI file: a tempo track plus one track (and channel) per part."""
    rng = np.random.default_rng(plan.humanise_seed)
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    tempo_track = mido.MidiTrack()
    tempo_track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(plan.bpm), time=0))
    midi.tracks.append(tempo_track)

    max_beats = plan.max_seconds * plan.bpm / 60.0
    base_velocity = DYNAMIC_VELOCITY[plan.dynamic]
    channels = [c for c in range(16) if c != DRUM_CHANNEL]
    for index, (notes, program) in enumerate(zip(facts.parts, plan.programs, strict=False)):
        channel = channels[index]
        family = family_of(program)
        shift = plan.transpose + _octave_shift(
            [n.pitch + plan.transpose for n in notes], family.lowest, family.highest
        )
        melody_boost = 8 if index == 0 and len(facts.parts) > 1 else 0
        events: list[tuple[int, int, mido.Message]] = []  # (tick, order, message)
        for note in notes:
            if note.start >= max_beats:
                break
            pitch = int(np.clip(note.pitch + shift, 0, 127))
            velocity = int(np.clip(base_velocity + melody_boost + rng.normal(0, 5), 1, 127))
            start = round(note.start * TICKS_PER_BEAT)
            end = round(min(note.start + note.duration, max_beats) * TICKS_PER_BEAT)
            end = max(end, start + 1)
            # note_off sorts before note_on at the same tick so repeated pitches re-strike.
            events.append(
                (start, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity))
            )
            events.append(
                (end, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0))
            )
        events.sort(key=lambda e: (e[0], e[1], e[2].note))
        track = mido.MidiTrack()
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
        previous = 0
        for tick, _, message in events:
            track.append(message.copy(time=tick - previous))
            previous = tick
        midi.tracks.append(track)
    return midi
