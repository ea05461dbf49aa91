"""End-to-end corpus builds with the real renderer: content, schema, determinism, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from engine.data.build import BuildConfig, BuildError, build, ordered_works
from engine.data.stats import read_metadata
from engine.data.works import split_of

from .conftest import small_config

REQUIRED_KEYS = {
    "id": str,
    "work": str,
    "source": str,
    "split": str,
    "caption": str,
    "programs": list,
    "tempo_bpm": float,
    "key": str,
    "mode": str,
    "duration_s": float,
    "path": str,
}
ROOT = Path(__file__).resolve().parents[2]


def _audio_digest(corpus: Path) -> dict[str, bytes]:
    return {
        r["id"]: soundfile.read(corpus / r["path"], dtype="int16")[0].tobytes()
        for r in read_metadata(corpus)
    }


def test_build_writes_audible_44k_mono_clips_of_at_most_32_seconds(built_corpus):
    corpus, stats = built_corpus
    records = read_metadata(corpus)
    assert stats["works"] == 4 and len(records) >= 4
    for record in records:
        audio, rate = soundfile.read(corpus / record["path"], dtype="float32", always_2d=True)
        assert rate == 44100
        assert audio.shape[1] == 1
        assert 4.0 <= audio.shape[0] / rate <= 32.0
        assert audio.shape[0] / rate == pytest.approx(record["duration_s"], abs=1e-3)
        assert np.sqrt(np.mean(audio**2)) > 10 ** (-55 / 20), "clip is silent"


def test_metadata_has_the_documented_schema(built_corpus):
    corpus, _ = built_corpus
    for record in read_metadata(corpus):
        for key, kind in REQUIRED_KEYS.items():
            assert isinstance(record[key], kind), (key, record[key])
        assert "meter" in record
        assert record["split"] == split_of(record["work"])
        assert record["mode"] in {
            "major",
            "minor",
            "dorian",
            "phrygian",
            "lydian",
            "mixolydian",
            "locrian",
        }
        assert record["key"] in record["caption"]


def test_splits_never_share_a_work(built_corpus):
    corpus, _ = built_corpus
    splits_of_work: dict[str, set[str]] = {}
    for record in read_metadata(corpus):
        splits_of_work.setdefault(record["work"], set()).add(record["split"])
    assert all(len(s) == 1 for s in splits_of_work.values())


def test_same_seed_gives_identical_corpus_serial_or_parallel(built_corpus, tmp_path):
    corpus, _ = built_corpus
    parallel = tmp_path / "parallel"
    build(small_config(parallel, workers=2))
    assert read_metadata(parallel) == read_metadata(corpus)
    assert _audio_digest(parallel) == _audio_digest(corpus)


def test_other_seed_gives_other_works(built_corpus, tmp_path):
    corpus, _ = built_corpus
    other = tmp_path / "other"
    build(small_config(other, seed=8))
    assert {r["work"] for r in read_metadata(other)} != {r["work"] for r in read_metadata(corpus)}


def test_resume_after_a_killed_build_gives_the_same_corpus(built_corpus, tmp_path):
    corpus, _ = built_corpus
    out = tmp_path / "killed"
    command = [
        sys.executable,
        "-c",
        "from pathlib import Path; from tests.data.conftest import small_config;"
        "from engine.data.build import build;"
        f"build(small_config(Path({str(out)!r})))",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / "works").glob("*.json")):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = list((out / "works").glob("*.json"))
    assert 1 <= len(finished) < 4, "the kill should land mid-build"
    # A crash can also leave half-written files behind: they must not survive the resume.
    (out / "audio" / "train" / "half.flac.tmp").write_bytes(b"partial")
    stats = build(small_config(out))
    assert stats["works"] == 4
    assert read_metadata(out) == read_metadata(corpus)
    assert _audio_digest(out) == _audio_digest(corpus)
    assert not list(out.rglob("*.tmp"))


def test_damaged_work_record_is_redone(built_corpus, tmp_path):
    corpus, _ = built_corpus
    out = tmp_path / "damaged"
    build(small_config(out))
    victim = sorted((out / "works").glob("*.json"))[0]
    victim.write_text('{"work_id": "trunc')
    build(small_config(out))
    assert read_metadata(out) == read_metadata(corpus)


def test_hours_limit_stops_early_and_deterministically(tmp_path):
    first = build(small_config(tmp_path / "a", limit=None, hours=0.01))
    second = build(small_config(tmp_path / "b", limit=None, hours=0.01, workers=2))
    assert 0.01 <= first["hours"] < 0.05
    assert read_metadata(tmp_path / "a") == read_metadata(tmp_path / "b")
    claimed = {r["path"] for r in read_metadata(tmp_path / "b")}
    on_disk = {
        p.relative_to(tmp_path / "b").as_posix() for p in (tmp_path / "b" / "audio").rglob("*.flac")
    }
    assert on_disk == claimed, "audio past the stop point must be removed"
    assert second["works"] == first["works"]


def test_resume_with_other_settings_is_refused(tmp_path):
    build(small_config(tmp_path, limit=1))
    with pytest.raises(BuildError, match="other settings"):
        build(BuildConfig(out=tmp_path, seed=99, limit=1, workers=1))


def test_stats_subcommand_reports_hours_and_families(built_corpus):
    corpus, _ = built_corpus
    result = subprocess.run(
        [sys.executable, "-m", "engine.data", "stats", str(corpus), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    stats = json.loads(result.stdout)
    assert stats["works"] == 4 and stats["hours"] > 0 and stats["clips_by_family"]


def _run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.data", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_unwritable_out_is_one_clear_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = _run_cli("build", "--out", str(blocker / "corpus"), "--limit", "1")
    assert result.returncode == 2
    assert "cannot write to --out" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_soundfont_says_what_to_install(tmp_path):
    result = _run_cli(
        "build", "--out", str(tmp_path), "--limit", "1", "--soundfont", str(tmp_path / "none.sf2")
    )
    assert result.returncode == 2
    assert "fluid-soundfont-gm" in result.stderr and "Traceback" not in result.stderr


def test_missing_fluidsynth_library_says_what_to_install(tmp_path):
    # Make ctypes unable to find libfluidsynth, as on a machine without the Debian package.
    code = (
        "import ctypes.util, sys; ctypes.util.find_library = lambda name: None\n"
        "from engine.data.__main__ import main\n"
        f"sys.exit(main(['build', '--out', {str(tmp_path)!r}, '--limit', '1']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "libfluidsynth3" in result.stderr and "Traceback" not in result.stderr


def test_splits_keep_the_full_builds_works_of_those_splits(tmp_path):
    full = ordered_works(small_config(tmp_path, limit=300))
    only_test = ordered_works(small_config(tmp_path, limit=300, splits=("test",)))
    assert only_test and only_test == [w for w in full if w.split == "test"]
    # A real build of the first test work alone: its clips are all in audio/test.
    first = full.index(only_test[0]) + 1
    stats = build(small_config(tmp_path / "eval", limit=first, splits=("test",)))
    records = read_metadata(tmp_path / "eval")
    assert stats["works"] == 1 and records
    assert {r["split"] for r in records} == {"test"}
    assert all(r["path"].startswith("audio/test/") for r in records)


def test_unknown_split_is_refused_by_name(tmp_path):
    result = _run_cli("build", "--out", str(tmp_path), "--splits", "testing")
    assert result.returncode == 2 and "invalid choice: 'testing'" in result.stderr
