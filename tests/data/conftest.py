"""Fixtures for corpus tests: small real builds (music21 + FluidSynth), shared per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data.build import BuildConfig, build


def small_config(out: Path, **overrides) -> BuildConfig:
    """Four works, one render each, at most one clip per render: a few seconds to build."""
    settings = dict(
        out=out,
        seed=7,
        limit=4,
        workers=1,
        renders_per_work=1,
        max_clips_per_render=1,
        min_clip_seconds=4.0,
    )
    settings.update(overrides)
    return BuildConfig(**settings)


@pytest.fixture(scope="session")
def built_corpus(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("corpus")
    stats = build(small_config(out))
    return out, stats
