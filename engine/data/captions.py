"""Captions written the way people write prompts, from what is known about a render.

Every attribute in a caption is true of the audio: source and instruments from the render plan,
tempo from the plan's BPM, key after transposition, metre from the score, loudness measured on
the clip itself. Wording, order and which optional attributes appear vary with the rng.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from engine.data.instruments import PROGRAM_NAMES, family_of
from engine.data.works import SOURCE_PHRASES

TEMPO_WORDS: tuple[tuple[float, tuple[str, ...]], ...] = (
    # (upper BPM bound, words)
    (60, ("very slow", "largo", "slow and broad")),
    (76, ("slow", "adagio", "unhurried")),
    (108, ("andante", "walking pace", "relaxed")),
    (120, ("moderate", "moderato", "medium tempo")),
    (156, ("lively", "allegro", "upbeat")),
    (176, ("fast", "vivace", "brisk")),
    (1e9, ("very fast", "presto", "rapid")),
)

LOUDNESS_WORDS: tuple[tuple[float, tuple[str, ...]], ...] = (
    # (upper RMS dBFS bound, words)
    (-32, ("very soft", "quiet", "pianissimo")),
    (-25, ("soft", "gentle", "piano")),
    (-18, ("medium loud", "mezzo-forte", "moderately loud")),
    (1e9, ("loud", "forte", "powerful")),
)

ENSEMBLE_WORDS = {1: "solo", 2: "duet", 3: "trio", 4: "quartet", 5: "quintet"}


def tempo_words(bpm: float) -> tuple[str, ...]:
    return next(words for bound, words in TEMPO_WORDS if bpm < bound)


def loudness_words(rms_dbfs: float) -> tuple[str, ...]:
    return next(words for bound, words in LOUDNESS_WORDS if rms_dbfs < bound)


@dataclass(frozen=True)
class CaptionFacts:
    source: str
    programs: tuple[int, ...]
    bpm: float
    tonic: str
    mode: str
    meter: str | None
    rms_dbfs: float


def with_article(phrase: str) -> str:
    """'an oboe', 'a flute'."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def describe_instruments(programs: tuple[int, ...], rng: np.random.Generator) -> str:
    """'solo flute', 'two violins and cello', 'brass quartet', 'organ and strings'..."""
    n = len(programs)
    counts = Counter(PROGRAM_NAMES[p] for p in programs)
    families = {family_of(p).name for p in programs}
    if n == 1:
        name = PROGRAM_NAMES[programs[0]]
        return str(rng.choice([f"solo {name}", name, with_article(name)]))
    if len(families) == 1 and n in ENSEMBLE_WORDS and rng.random() < 0.5:
        family = family_of(programs[0])
        return f"{rng.choice(family.words)} {ENSEMBLE_WORDS[n]}"
    numbers = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
    pieces = []
    for name, count in counts.items():
        pieces.append(name if count == 1 else f"{numbers.get(count, count)} {name}s")
    if len(pieces) == 1:
        return pieces[0]
    return ", ".join(pieces[:-1]) + " and " + pieces[-1]


def make_caption(facts: CaptionFacts, rng: np.random.Generator) -> str:
    """One caption, e.g. 'Bach chorale for brass quartet in D minor, 3/4, andante, 84 BPM, soft'."""
    source = str(rng.choice(SOURCE_PHRASES[facts.source]))
    instruments = describe_instruments(facts.programs, rng)
    key = f"{facts.tonic} {facts.mode}"
    words = str(rng.choice(tempo_words(facts.bpm)))
    bpm = int(round(facts.bpm))
    tempo = str(
        rng.choice(
            [
                f"{words}, {bpm} BPM",
                f"{words} ({bpm} bpm)",
                f"{bpm} BPM",
                words,
                f"{words} tempo around {bpm} bpm",
            ]
        )
    )
    extras = [tempo, str(rng.choice([f"in {key}", f"key of {key}", key]))]
    if facts.meter and rng.random() < 0.75:
        extras.append(
            str(rng.choice([f"{facts.meter} time", f"in {facts.meter}", f"{facts.meter} metre"]))
        )
    if rng.random() < 0.75:
        extras.append(str(rng.choice(loudness_words(facts.rms_dbfs))))
    rng.shuffle(extras)
    style = int(rng.integers(4))
    if style == 0:
        head = f"{source} played on {instruments}"
    elif style == 1:
        head = f"{instruments} playing {with_article(source)}"
    elif style == 2:
        head = f"{source} for {instruments}"
    else:
        head = f"{instruments}, {source}"
    separator = str(rng.choice([", ", "; "]))
    caption = head + separator + separator.join(extras)
    return caption[0].upper() + caption[1:]
