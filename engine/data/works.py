"""The works of music21's offline corpus, their sources and their train/valid/test split."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

# Share of works held out, decided by a hash of the work id so that a work keeps its split
# across builds and seeds (a model trained on one build is never tested on its own data).
VALID_PERCENT = 5
TEST_PERCENT = 5
SPLITS = ("train", "valid", "test")

# What a caption may call each corpus source; the first phrase is the canonical one.
SOURCE_PHRASES: dict[str, tuple[str, ...]] = {
    "german_folk": (
        "German folk song",
        "German folk melody",
        "folk song from the Essen collection",
    ),
    "chinese_folk": ("Chinese folk song", "Han Chinese folk melody"),
    "childrens_song": ("German children's song", "children's song", "nursery tune"),
    "lorraine_folk": ("folk song from Lorraine", "French-German folk tune"),
    "luxembourg_folk": ("Luxembourgish folk song", "folk song from Luxembourg"),
    "irish_folk": ("Irish folk tune", "Irish fiddle tune", "traditional Irish melody"),
    "scottish_air": ("Scottish air", "Scottish fiddle tune", "Highland air"),
    "british_dance": ("Irish and Scottish dance tune", "reel or jig", "Celtic dance tune"),
    "english_dance": ("English folk dance tune", "country dance tune"),
    "folk": ("folk tune", "traditional tune"),
    "bach_chorale": ("Bach chorale", "Lutheran chorale harmonised by Bach", "baroque chorale"),
    "renaissance_sacred": (
        "Renaissance sacred polyphony",
        "Palestrina-style mass movement",
        "Renaissance choral counterpoint",
    ),
    "renaissance_madrigal": ("Renaissance madrigal", "Italian madrigal"),
    "medieval": ("medieval Italian song", "Trecento piece", "Ars nova song"),
    "classical_quartet": (
        "classical string quartet movement",
        "Viennese classical piece",
        "classical chamber music",
    ),
    "romantic": ("romantic piece", "nineteenth-century piano music"),
    "classical": ("classical piece", "art music"),
}

_ESSEN_PREFIX_TO_SOURCE = {
    "han": "chinese_folk",
    "kinder": "childrens_song",
    "lot": "lorraine_folk",
    "lux": "luxembourg_folk",
    "irl": "irish_folk",
}
_DIRECTORY_TO_SOURCE = {
    "oneills1850": "irish_folk",
    "airdsAirs": "scottish_air",
    "ryansMammoth": "british_dance",
    "nottingham-dataset": "english_dance",
    "miscFolk": "folk",
    "bach": "bach_chorale",
    "palestrina": "renaissance_sacred",
    "josquin": "renaissance_sacred",
    "monteverdi": "renaissance_madrigal",
    "trecento": "medieval",
    "ciconia": "medieval",
    "luca": "medieval",
    "beethoven": "classical_quartet",
    "mozart": "classical_quartet",
    "haydn": "classical_quartet",
    "schumann_robert": "romantic",
    "schumann_clara": "romantic",
    "chopin": "romantic",
}
# Not music to learn from: exercises and demos.
_EXCLUDED_DIRECTORIES = {"demos", "theoryExercises"}


@dataclass(frozen=True)
class Work:
    """One piece in the music21 corpus (a multi-tune ABC file holds many works)."""

    work_id: str  # "<corpus path>" or "<corpus path>#<number>", unique and stable
    corpus_path: str  # path relative to music21's corpus directory
    number: int | None  # tune number inside a multi-work file
    source: str  # a key of SOURCE_PHRASES

    @property
    def file_stem(self) -> str:
        """A file-system-safe name that is unique per work."""
        readable = re.sub(r"[^A-Za-z0-9]+", "_", self.work_id).strip("_")[-60:]
        digest = hashlib.sha1(self.work_id.encode()).hexdigest()[:8]
        return f"{readable}_{digest}"

    @property
    def split(self) -> str:
        return split_of(self.work_id)


def split_of(work_id: str) -> str:
    """'train', 'valid' or 'test', fixed for a work id."""
    bucket = int(hashlib.sha1(work_id.encode()).hexdigest(), 16) % 100
    if bucket < TEST_PERCENT:
        return "test"
    if bucket < TEST_PERCENT + VALID_PERCENT:
        return "valid"
    return "train"


def source_of(corpus_path: str) -> str:
    """Map a corpus path such as 'essenFolksong/han1.abc' to a source key."""
    directory, _, rest = corpus_path.partition("/")
    if directory == "essenFolksong":
        prefix = re.match(r"[A-Za-z]+", rest.split("/")[-1])
        return _ESSEN_PREFIX_TO_SOURCE.get(prefix.group(0) if prefix else "", "german_folk")
    return _DIRECTORY_TO_SOURCE.get(directory, "classical")


@functools.cache
def list_works() -> tuple[Work, ...]:
    """Every work of music21's core corpus, sorted by work id (reads music21's metadata cache,
    about 30 s; kept for the process, since the installed corpus does not change under it)."""
    from music21 import corpus

    works: dict[str, Work] = {}
    for entry in corpus.corpora.CoreCorpus().metadataBundle:
        corpus_path = str(entry.sourcePath).replace("\\", "/")
        if corpus_path.split("/")[0] in _EXCLUDED_DIRECTORIES:
            continue
        number = int(entry.number) if entry.number not in (None, "") else None
        work_id = corpus_path if number is None else f"{corpus_path}#{number}"
        works[work_id] = Work(work_id, corpus_path, number, source_of(corpus_path))
    return tuple(works[k] for k in sorted(works))


def parse_work(work: Work):
    """Parse a work with music21 (returns a music21 Score).

    A few multi-tune ABC files are indexed without tune numbers and parse to an Opus: the work
    is then the file's first tune.
    """
    from music21 import corpus, stream

    parsed = corpus.parse(work.corpus_path, number=work.number)
    if isinstance(parsed, stream.Opus):
        if not parsed.scores:
            raise ValueError("the file holds no tunes")
        parsed = parsed.scores[0]
    return parsed
