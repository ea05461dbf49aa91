"""Read a music21 score into plain note events and the facts a caption can state.

music21 is slow and its objects are heavy; everything downstream (MIDI writing, rendering,
captions) works on the small frozen records defined here.
"""

from __future__ import annotations

from dataclasses import dataclass

# Score keys from ABC headers are trustworthy; otherwise the key is estimated (Krumhansl).
MODES = ("major", "minor", "dorian", "phrygian", "lydian", "mixolydian", "aeolian", "locrian")


@dataclass(frozen=True)
class Note:
    """One sounding note, timed in quarter-note beats from the start of the score."""

    start: float
    duration: float
    pitch: int  # MIDI note number
    velocity: int | None  # written velocity if the score has one


@dataclass(frozen=True)
class ScoreFacts:
    """A parsed work: its notes per part (top part first) and what is known about it."""

    parts: tuple[tuple[Note, ...], ...]
    part_names: tuple[str, ...]
    written_bpm: float | None  # quarter-note BPM of the first metronome mark, if any
    tonic: str  # e.g. "F#", "B-" (music21 spelling: '-' is flat)
    mode: str  # one of MODES
    meter: str | None  # e.g. "6/8"
    length_beats: float
    title: str | None
    composer: str | None


def _first(stream, class_name: str):
    found = stream.recurse().getElementsByClass(class_name)
    return found[0] if len(found) else None


def read_score(score) -> ScoreFacts:
    """Extract ScoreFacts from a parsed music21 Score (or single-part stream).

    Repeats are expanded where music21 can; ties are merged into single notes;
    chord symbols (lead-sheet harmony) and grace notes are skipped.
    """
    from music21 import harmony, key

    try:
        score = score.expandRepeats()
    except Exception:  # noqa: BLE001 - music21 raises many kinds of errors on odd repeat marks
        pass
    part_streams = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]

    parts: list[tuple[Note, ...]] = []
    names: list[str] = []
    for part in part_streams:
        notes: list[Note] = []
        flat = part.stripTies().flatten()
        for element in flat.notes:
            if isinstance(element, harmony.ChordSymbol):
                continue
            duration = float(element.duration.quarterLength)
            if duration <= 0:
                continue
            start = float(element.offset)
            velocity = (
                element.volume.velocity if element.volume.velocityIsRelative is False else None
            )
            for pitch in element.pitches:
                notes.append(Note(start, duration, int(pitch.midi), velocity))
        if notes:
            notes.sort(key=lambda n: (n.start, n.pitch))
            parts.append(tuple(notes))
            names.append(str(part.partName or ""))
    if not parts:
        raise ValueError("the score has no notes")

    metronome = _first(score, "MetronomeMark")
    bpm = None
    if metronome is not None:
        try:
            bpm = float(metronome.getQuarterBPM())
        except Exception:  # noqa: BLE001
            bpm = None

    written_key = _first(score, "Key")
    if isinstance(written_key, key.Key) and written_key.mode in MODES:
        tonic, mode = written_key.tonic.name, written_key.mode
    else:
        estimated = score.analyze("key")
        tonic, mode = estimated.tonic.name, estimated.mode

    meter = _first(score, "TimeSignature")
    length = max(n.start + n.duration for part in parts for n in part)
    metadata = score.metadata
    return ScoreFacts(
        parts=tuple(parts),
        part_names=tuple(names),
        written_bpm=bpm if bpm and 20.0 <= bpm <= 300.0 else None,
        tonic=tonic,
        mode=mode if mode != "aeolian" else "minor",
        meter=meter.ratioString if meter is not None else None,
        length_beats=float(length),
        title=(metadata.title if metadata is not None else None) or None,
        composer=(metadata.composer if metadata is not None else None) or None,
    )


PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def transpose_tonic(tonic: str, semitones: int) -> str:
    """Name of the tonic after transposing by a number of semitones ("Bb", "F#", ...).

    Accepts music21 spellings ("B-", "F#", "E--"); answers with the usual one of twelve names.
    """
    letter_pc = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    pc = letter_pc[tonic[0].upper()] + tonic.count("#") - tonic.count("-") - tonic.count("b", 1)
    return PITCH_CLASS_NAMES[(pc + semitones) % 12]
