"""The yardstick's arithmetic on known inputs: attributes, accuracy/adherence, FDs, seams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.bench.fd import frechet_distance_of
from engine.bench.quality.attributes import Attributes
from engine.bench.quality.measure import density_error
from engine.bench.quality.report import DOCS_BEGIN, DOCS_END, update_docs
from engine.bench.quality.scores import condition_vectors, head_accuracy, joint_fd
from engine.bench.quality.seam import seam_jump, splice


def test_attributes_merge_rare_families_and_band_tempo_and_mode() -> None:
    rows = [{"families": ["piano"]}] * 60 + [{"families": ["organ"]}] * 39 + [
        {"families": ["bass"]}]
    attrs = Attributes.from_rows(rows, min_share=0.02)
    assert attrs.families == ("organ", "piano", "other")
    assert attrs.family_ids({"families": ["bass", "piano"]}) == [1, 2]
    assert [attrs.tempo_band(b) for b in (60, 107.9, 108, 131.9, 132, None)] == [0, 0, 1, 1, 2,
                                                                                  -1]
    assert [attrs.mode_id(m) for m in ("major", "mixolydian", "dorian", "minor", None)] == [
        0, 0, 1, 1, -1]
    assert Attributes.from_dict(attrs.to_dict()) == attrs
    with pytest.raises(ValueError, match="instrument family"):
        Attributes.from_rows([{"families": ["piano"]}])


def test_accuracy_counts_any_listed_family_and_skips_unknown_labels() -> None:
    # clip 0 plays families 0 and 2 (predicted 2: a hit); clip 3's label is unknown
    got = head_accuracy([2, 1, 0, 1], [[0, 2], [0], [0], []])
    assert got["n"] == 3 and got["acc"] == pytest.approx(2 / 3)
    assert got["chance"] == pytest.approx(1.0)  # family 0 is in all three labelled clips
    tempo = head_accuracy([0, 0, 0, 0], [0, 0, 0, 2])
    assert tempo["acc"] == 0.75 and tempo["chance"] == 0.75
    assert tempo["balanced_acc"] == pytest.approx(0.5)  # class 0 all right, class 2 all wrong
    assert math.isnan(head_accuracy([1], [-1])["acc"])


def test_fd_is_zero_for_identical_sets_and_grows_with_a_shift() -> None:
    x = np.random.default_rng(0).standard_normal((64, 8))
    assert frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-8)
    fds = [frechet_distance_of(x, x + shift) for shift in (0.1, 0.5, 1.0)]
    assert fds[0] < fds[1] < fds[2]
    assert fds[2] == pytest.approx(8.0, rel=1e-6)  # |mean shift|^2 = 8 x 1.0^2


def test_joint_fd_sees_audio_that_ignores_its_condition() -> None:
    rng = np.random.default_rng(1)
    labels = [{"family": [i % 3], "tempo": i % 2, "mode": 0} for i in range(90)]
    conds = condition_vectors(labels, {"family": 3, "tempo": 3, "mode": 2})
    assert conds.shape == (90, 8) and np.allclose(conds.sum(axis=1), 3.0)
    feats = conds[:, :3] * 4.0 + 0.3 * rng.standard_normal((90, 3))  # audio follows family
    assert joint_fd(feats, conds, feats, conds) == pytest.approx(0.0, abs=1e-8)
    shuffled = feats[rng.permutation(90)]  # same audio distribution, wrong pairing
    assert frechet_distance_of(shuffled, feats) == pytest.approx(0.0, abs=1e-8)
    assert joint_fd(shuffled, conds, feats, conds) > 5.0


def test_density_error_is_symmetric_log_ratio() -> None:
    assert density_error([2.0, 4.0], [2.0, 4.0]) == 0.0
    assert density_error([3.75], [1.75]) == pytest.approx(1.0)  # (3.75+.25)/(1.75+.25) = 2
    assert density_error([1.75], [3.75]) == pytest.approx(1.0)


def test_splice_keeps_the_context_and_seam_jump_sees_a_cut() -> None:
    sr = 22050
    t = np.arange(2 * sr) / sr
    tone = (0.3 * np.sin(2 * np.pi * 440 * t))[None].astype(np.float32)  # (1, 2 s)
    other = (0.3 * np.sin(2 * np.pi * 1500 * t))[None].astype(np.float32)
    cut = sr  # seam at 1 s
    smooth = splice(tone[:, :cut], tone)
    assert np.array_equal(smooth[:, :cut - 2048], tone[:, :cut - 2048])
    assert np.array_equal(smooth[:, cut:], tone[:, cut:])
    abrupt = splice(tone[:, :cut], other)
    assert seam_jump(smooth, sr, 1.0) < 0.1 < seam_jump(abrupt, sr, 1.0)
    with pytest.raises(ValueError, match="seam"):
        seam_jump(tone, sr, 1.99)


def test_docs_block_is_replaced_not_appended(tmp_path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Benchmarks\n\nhand-written\n\n{DOCS_BEGIN}\nold table\n{DOCS_END}\n\n"
                    "## later section\n")
    result = {"model": {"name": "m", "mode": "diffusion", "default_steps": 4},
              "prompts": [{}, {}], "config": {"seconds": 2.0},
              "rows": [{"row": "real", "kind": "real", "fd_classifier": 0.5, "fd_joint": None,
                        "fd_logmel": 1.0}]}
    for _ in range(2):
        update_docs(result, tmp_path / "report", docs)
    text = docs.read_text()
    assert text.count(DOCS_BEGIN) == 1 and "old table" not in text
    assert "hand-written" in text and "## later section" in text
    assert "[report/results.md](report/results.md)" in text


def test_targets_compare_the_model_with_both_baselines() -> None:
    from engine.bench.quality.report import targets

    def row(kind: str, fd: float, joint: float, acc: float, steps: int | None = 32) -> dict:
        adh = {h: {"acc": acc, "chance": 0.2} for h in ("family", "tempo", "mode")}
        return {"kind": kind, "steps": steps, "fd_classifier": fd, "fd_joint": joint,
                "adherence": adh, "tempo_librosa": {"tempo_acc": acc}}

    result = {"model": {"default_steps": 32},
              "rows": [row("model", 10.0, 20.0, 0.9, 8), row("model", 60.0, 100.0, 0.6),
                       row("shuffled", 60.0, 130.0, 0.3), row("untrained", 200.0, 300.0, 0.2)],
              "continuation": {"rows": [{"fd_classifier": 5.0, "seam_ratio": 1.2},
                                        {"fd_classifier": 9.0, "seam_ratio": 1.1}]}}
    verdict = {t["target"]: t["pass"] for t in targets(result)}
    # the 32-step row is judged (not the better 8-step one)
    assert verdict["fd_classifier at 32 steps <= 0.8 x untrained network"]
    assert verdict["fd_joint - fd_classifier at 32 steps <= 0.8 x shuffled captions"]  # 40 vs 70
    assert verdict["family adherence at 32 steps >= shuffled captions + 0.1"]
    assert verdict["tempo (librosa) adherence at 32 steps >= untrained network + 0.1"]
    assert verdict["family adherence at 32 steps >= 2 x chance (majority)"]
    assert verdict["continuation fd_classifier < unconditional"]
    assert not verdict["continuation seam_ratio < unconditional"]
