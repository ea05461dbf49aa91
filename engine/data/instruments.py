"""General MIDI instrument families and how a render picks its orchestration.

Program numbers are 0-based General MIDI programs. Each family lists the programs that sound
convincing for melodic lines in FluidR3_GM; a few (e.g. applause, gunshot) are never used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Family:
    """One General MIDI instrument family."""

    name: str  # short identifier, used in metadata and statistics
    words: tuple[str, ...]  # how a caption may call the family ("strings", "string section")
    programs: tuple[int, ...]  # usable 0-based GM programs
    lowest: int  # lowest comfortable MIDI note; lines are shifted by octaves into range
    highest: int


FAMILIES: tuple[Family, ...] = (
    Family("piano", ("piano", "keys"), (0, 1, 2, 4, 5, 6, 7), 21, 108),
    Family(
        "chromatic_percussion", ("mallets", "tuned percussion"), (8, 9, 10, 11, 12, 13, 14), 48, 96
    ),
    Family("organ", ("organ",), (16, 17, 18, 19, 20, 21, 22, 23), 24, 96),
    Family("guitar", ("guitar",), (24, 25, 26, 27, 28), 40, 88),
    Family("bass", ("bass",), (32, 33, 34, 35, 36, 38), 28, 60),
    Family("strings", ("strings", "string section"), (40, 41, 42, 43, 44, 45, 46, 48, 49), 36, 100),
    Family("ensemble", ("choir", "voices"), (52, 53, 54), 40, 84),
    Family("brass", ("brass",), (56, 57, 58, 59, 60, 61), 34, 84),
    Family("reed", ("woodwinds", "reeds"), (64, 65, 66, 67, 68, 69, 70, 71), 36, 96),
    Family("pipe", ("flutes", "pipes"), (72, 73, 74, 75, 78, 79), 55, 100),
    Family("synth_lead", ("synth lead", "lead synth"), (80, 81, 82, 85, 87), 36, 96),
    Family("synth_pad", ("synth pad", "pad"), (88, 89, 90, 91, 94, 95), 36, 96),
)

FAMILY_BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}

# Instrument names for captions, by 0-based GM program.
PROGRAM_NAMES: dict[int, str] = {
    0: "grand piano",
    1: "bright piano",
    2: "electric grand piano",
    4: "electric piano",
    5: "FM electric piano",
    6: "harpsichord",
    7: "clavinet",
    8: "celesta",
    9: "glockenspiel",
    10: "music box",
    11: "vibraphone",
    12: "marimba",
    13: "xylophone",
    14: "tubular bells",
    16: "drawbar organ",
    17: "percussive organ",
    18: "rock organ",
    19: "church organ",
    20: "reed organ",
    21: "accordion",
    22: "harmonica",
    23: "bandoneon",
    24: "nylon-string guitar",
    25: "steel-string guitar",
    26: "jazz guitar",
    27: "clean electric guitar",
    28: "muted electric guitar",
    32: "acoustic bass",
    33: "fingered electric bass",
    34: "picked electric bass",
    35: "fretless bass",
    36: "slap bass",
    38: "synth bass",
    40: "violin",
    41: "viola",
    42: "cello",
    43: "contrabass",
    44: "tremolo strings",
    45: "pizzicato strings",
    46: "harp",
    48: "string ensemble",
    49: "slow strings",
    52: "choir aahs",
    53: "voice oohs",
    54: "synth voice",
    56: "trumpet",
    57: "trombone",
    58: "tuba",
    59: "muted trumpet",
    60: "French horn",
    61: "brass section",
    64: "soprano sax",
    65: "alto sax",
    66: "tenor sax",
    67: "baritone sax",
    68: "oboe",
    69: "English horn",
    70: "bassoon",
    71: "clarinet",
    72: "piccolo",
    73: "flute",
    74: "recorder",
    75: "pan flute",
    78: "whistle",
    79: "ocarina",
    80: "square lead",
    81: "sawtooth lead",
    82: "calliope lead",
    85: "voice lead",
    87: "bass and lead",
    88: "new age pad",
    89: "warm pad",
    90: "polysynth pad",
    91: "choir pad",
    94: "halo pad",
    95: "sweep pad",
}


def family_of(program: int) -> Family:
    """The family a 0-based GM program belongs to."""
    for family in FAMILIES:
        if program in family.programs:
            return family
    raise KeyError(f"GM program {program} is not in any usable family")


def choose_orchestration(n_parts: int, rng: np.random.Generator) -> list[int]:
    """Pick one GM program per part (top part first).

    Half of the renders use one family for every part (a string quartet, an organ chorale),
    the rest mix families, giving the lowest part a bass-capable instrument where one fits.
    """
    if n_parts < 1:
        raise ValueError("a score needs at least one part")
    if n_parts == 1 or rng.random() < 0.5:
        family = FAMILIES[rng.integers(len(FAMILIES))]
        if family.name == "bass" and n_parts > 1:
            family = FAMILY_BY_NAME["strings"]
        return [int(rng.choice(family.programs)) for _ in range(n_parts)]
    programs = []
    for index in range(n_parts):
        is_bass_part = index == n_parts - 1 and n_parts >= 3
        if is_bass_part and rng.random() < 0.6:
            family = FAMILY_BY_NAME[str(rng.choice(["bass", "strings", "brass", "reed"]))]
        else:
            melodic = [f for f in FAMILIES if f.name != "bass"]
            family = melodic[rng.integers(len(melodic))]
        programs.append(int(rng.choice(family.programs)))
    return programs
