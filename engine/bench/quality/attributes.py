"""The attributes the yardstick classifies and checks prompts against, from corpus metadata.

    attrs = Attributes.from_rows(train_rows)          # classes fixed by the train split
    attrs.labels(row)  # {"family": [3] (every family in the clip), "tempo": 1, "mode": 0}

Three heads, each a closed set of classes:

- family: General MIDI instrument family (metadata `families`). A clip played by
  several families (about 12% of the corpus) lists them all; its caption names them
  all, so the target is spread evenly over them and a prediction of any of them
  counts as adherent. Families holding fewer than `min_share` of the train clips
  are merged into "other" (none are in the current corpus: 12 families, 7-11% each).
- tempo: a band of the written tempo (`tempo_bpm`): slow < 108 <= medium < 132 <=
  fast. The thresholds split the train split into near thirds (32 / 36 / 32%).
- mode: the quality of the third: major (and lydian, mixolydian) or minor (and
  dorian, phrygian, aeolian, locrian). A clip with no mode has no mode label (-1).

A missing attribute gives an empty family list or -1; such clips are left out of
that head's loss and of that attribute's adherence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

HEADS = ("family", "tempo", "mode")
TEMPO_BANDS = ("slow", "medium", "fast")
TEMPO_EDGES = (108.0, 132.0)  # BPM: slow < 108 <= medium < 132 <= fast
MODES = ("major", "minor")
MAJOR_THIRD = {"major", "ionian", "lydian", "mixolydian"}
MINOR_THIRD = {"minor", "aeolian", "dorian", "phrygian", "locrian"}
OTHER = "other"


@dataclass(frozen=True)
class Attributes:
    families: tuple[str, ...]  # family classes in head order ("other" last if present)
    tempo_edges: tuple[float, float] = TEMPO_EDGES

    @classmethod
    def from_rows(cls, rows: Iterable[dict], min_share: float = 0.02) -> Attributes:
        """Family classes from (train split) metadata rows: every family with at least
        `min_share` of the clips, in alphabetical order, plus "other" for the rest."""
        counts: Counter[str] = Counter()
        n = 0
        for row in rows:
            n += 1
            counts.update(set(row.get("families") or ()))
        keep = sorted(f for f, c in counts.items() if c >= min_share * max(n, 1))
        if len(keep) < len(counts):
            keep.append(OTHER)
        if len(keep) < 2:
            raise ValueError(f"the metadata names {len(keep)} instrument family "
                             "(need at least 2 to train a family head): are `families` set?")
        return cls(tuple(keep))

    @classmethod
    def from_dict(cls, d: dict) -> Attributes:
        return cls(tuple(d["families"]), tuple(d["tempo_edges"]))

    def to_dict(self) -> dict:
        return {"families": list(self.families), "tempo_edges": list(self.tempo_edges),
                "tempo_bands": list(TEMPO_BANDS), "modes": list(MODES)}

    def classes(self, head: str) -> tuple[str, ...]:
        return {"family": self.families, "tempo": TEMPO_BANDS, "mode": MODES}[head]

    def n_classes(self) -> dict[str, int]:
        return {h: len(self.classes(h)) for h in HEADS}

    def family_ids(self, row: dict) -> list[int]:
        """Class ids of every family in the clip (deduplicated, sorted); [] if none."""
        ids = set()
        for fam in row.get("families") or ():
            if fam in self.families:
                ids.add(self.families.index(fam))
            elif OTHER in self.families:
                ids.add(self.families.index(OTHER))
        return sorted(ids)

    def tempo_band(self, bpm: float | None) -> int:
        """0 slow, 1 medium, 2 fast; -1 if the tempo is unknown."""
        if bpm is None or not bpm > 0:
            return -1
        return sum(bpm >= edge for edge in self.tempo_edges)

    @staticmethod
    def mode_id(mode: str | None) -> int:
        """0 major, 1 minor (by the third); -1 if unknown."""
        m = (mode or "").lower()
        return 0 if m in MAJOR_THIRD else 1 if m in MINOR_THIRD else -1

    def labels(self, row: dict) -> dict:
        """{"family": [ids], "tempo": id or -1, "mode": id or -1} for a metadata row."""
        return {"family": self.family_ids(row), "tempo": self.tempo_band(row.get("tempo_bpm")),
                "mode": self.mode_id(row.get("mode"))}
