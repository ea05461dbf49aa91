"""The quality yardstick for real: classifier training and export on a tiny attribute corpus,
note density, the untrained-model copy, and the bench end to end on the micro exported model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.bench.__main__ import main as bench_cli
from engine.bench.quality.attributes import HEADS
from engine.bench.quality.embed import Classifier
from engine.bench.quality.notes import NoteDensity
from engine.bench.quality.untrained import untrained_copy
from engine.latent_codec import read_audio
from engine.runtime.model import ServedModel
from tests.bench import quality_support
from tests.runtime import support as runtime_support


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return quality_support.corpus(tmp_path_factory)


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory) -> Path:
    return quality_support.classifier_run(tmp_path_factory)


def test_classifier_learns_family_and_exports_onnx(classifier_run: Path, corpus: Path) -> None:
    info = json.loads((classifier_run / "classifier.json").read_text())
    assert info["attributes"]["families"] == list(quality_support.FAMILIES)
    assert info["trained"]["steps"] == 40 and info["onnx_max_abs_error"] < 1e-3
    for split in ("valid", "test"):
        assert set(info[split]) == set(HEADS)
    # three timbres this different are learnt in 40 steps: well above the 1/3 of chance
    assert info["test"]["family"]["acc"] > info["test"]["family"]["chance"] + 0.3
    assert (classifier_run / "curves.png").stat().st_size > 0
    clf = Classifier(classifier_run)
    rows = [json.loads(line) for line in (corpus / "metadata.jsonl").read_text().splitlines()]
    audio = [read_audio(corpus / r["path"], 44100, 1) for r in rows if r["split"] == "test"]
    m = clf.measure(audio[:2] + audio[:1], 44100)
    assert m.features.shape == (3, info["config"]["features"])
    assert np.allclose(m.probs["family"].sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(m.features[0], m.features[2])  # the same clip measures the same


def test_classifier_resumes_from_its_checkpoint(classifier_run: Path, corpus: Path,
                                                tmp_path: Path) -> None:
    import shutil

    from engine.bench.quality.train_classifier import ClassifierRun, main

    run = tmp_path / "run"
    shutil.copytree(classifier_run, run)
    main(ClassifierRun(corpus, run, minutes=5.0, steps=50, batch=8, eval_every=20,
                       resume=True))
    info = json.loads((run / "classifier.json").read_text())
    assert info["trained"]["steps"] == 50
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 50


def test_a_tampered_classifier_is_refused(classifier_run: Path, tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "clf"
    shutil.copytree(classifier_run, bad)
    with open(bad / "classifier.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match="sha256"):
        Classifier(bad)
    with pytest.raises(ValueError, match="engine.train classifier"):
        Classifier(tmp_path / "missing")


def test_note_density_follows_the_note_rate() -> None:
    density = NoteDensity(threads=1)
    sr = quality_support.SR
    slow = density(quality_support.render("organ", 60.0, "major", 6.0, 0), sr)
    fast = density(quality_support.render("organ", 180.0, "major", 6.0, 0), sr)
    assert 0.5 < slow < 2.0 and 2.0 < fast < 6.0  # 1 and 3 notes per second were played
    assert density(np.zeros(sr * 2, np.float32), sr) == 0.0


def test_untrained_copy_permutes_learned_tensors_only(tmp_path_factory, tmp_path) -> None:
    import onnx
    from onnx import numpy_helper

    root = runtime_support.exported_root(tmp_path_factory)
    copy = untrained_copy(root / "base", tmp_path / "untrained", seed=0)
    model = ServedModel.load(copy, threads=1, text_dir=root / "text", codec_dir=root / "codec")
    assert model.manifest["untrained"]["permuted_tensors"] > 10

    def tensors(path: Path) -> dict[str, np.ndarray]:
        return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}

    before, after = tensors(root / "base" / "embed.onnx"), tensors(copy / "embed.onnx")
    for name, value in before.items():
        if name.endswith((".weight", ".bias")):
            assert np.array_equal(np.sort(value, axis=None), np.sort(after[name], axis=None))
            if value.size > 8 and np.ptp(value) > 0:
                assert not np.array_equal(value, after[name]), name
        else:
            assert np.array_equal(value, after[name]), name  # fixed tables untouched


def test_bench_end_to_end_on_the_micro_model(tmp_path_factory, classifier_run: Path,
                                             corpus: Path, tmp_path: Path) -> None:
    root = runtime_support.exported_root(tmp_path_factory)
    out, docs = tmp_path / "report", tmp_path / "docs" / "benchmarks.md"
    bench_cli(["quality", "--model", str(root / "base"), "--data", str(corpus),
               "--classifier", str(classifier_run), "--n", "2", "--seconds", "2",
               "--context", "1", "--steps", "2", "--threads", "1", "--out", str(out),
               "--docs", str(docs)])
    r = json.loads((out / "results.json").read_text())
    assert [row["kind"] for row in r["rows"]] == ["real", "real", "codec", "model", "model",
                                                  "shuffled", "untrained"]
    assert [row.get("steps") for row in r["rows"][3:5]] == [2, 4]  # + the model's default
    for row in r["rows"]:
        assert row["n"] == 2 and row["fd_classifier"] >= 0 and row["fd_logmel"] >= 0
    model_row = r["rows"][3]
    assert set(model_row["adherence"]) == set(HEADS)
    assert model_row["seconds_per_clip"] > 0 and "note_density_err" in model_row
    assert r["rows"][0]["adherence"]["family"]["n"] == 2
    cont = r["continuation"]
    assert [c["row"] for c in cont["rows"]] == ["continuation (context given)",
                                                "unconditional, spliced after the context"]
    assert all(c["seam_ratio"] > 0 and np.isfinite(c["fd_joint_context"]) for c in cont["rows"])
    assert len(r["listening"]) == 8
    for item in r["listening"]:
        assert (out / item["wav"]).stat().st_size > 0 and (out / item["png"]).is_file()
    assert r["targets"] and all(isinstance(t["pass"], bool) for t in r["targets"])
    md = (out / "results.md").read_text()
    assert "| model, 2 steps |" in md and "seam ratio" in md and "FD joint with the context" in md
    assert "quality-table:begin" in docs.read_text()


def test_continuation_only_renders_just_what_the_continuation_verdict_needs(
        tmp_path_factory, classifier_run: Path, corpus: Path, tmp_path: Path) -> None:
    root = runtime_support.exported_root(tmp_path_factory)
    bench_cli(["quality", "--model", str(root / "base"), "--data", str(corpus),
               "--classifier", str(classifier_run), "--n", "2", "--seconds", "2",
               "--context", "1", "--steps", "2", "--threads", "1", "--out", str(tmp_path),
               "--continuation-only"])
    r = json.loads((tmp_path / "results.json").read_text())
    assert [row["kind"] for row in r["rows"]] == ["real", "real", "codec", "model"]
    assert r["rows"][3]["steps"] == r["model"]["default_steps"]  # not --steps: the splice's
    assert len(r["continuation"]["rows"]) == 2 and r["listening"] == []
    verdicts = [t["target"] for t in r["targets"]]
    assert "continuation fd_classifier < unconditional" in verdicts
    assert not any("untrained" in v or "shuffled" in v for v in verdicts)


def test_an_evaluation_corpus_of_the_test_split_alone_is_enough(
        tmp_path_factory, classifier_run: Path, corpus: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture) -> None:
    """python -m engine.data build --splits test: no train clips, so no real-train row."""
    test_only = tmp_path / "eval"
    test_only.mkdir()
    (test_only / "audio").symlink_to(corpus / "audio")
    rows = [line for line in (corpus / "metadata.jsonl").read_text().splitlines()
            if json.loads(line)["split"] == "test"]
    (test_only / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    root = runtime_support.exported_root(tmp_path_factory)
    bench_cli(["quality", "--model", str(root / "base"), "--data", str(test_only),
               "--classifier", str(classifier_run), "--n", "2", "--seconds", "2",
               "--context", "1", "--threads", "1", "--out", str(tmp_path / "report"),
               "--continuation-only"])
    assert "no train clips" in capsys.readouterr().out
    r = json.loads((tmp_path / "report" / "results.json").read_text())
    assert [row["row"] for row in r["rows"]][:2] == ["real test clips (the prompts' own audio)",
                                                     "codec reconstruction"]
    assert len(r["continuation"]["rows"]) == 2


def test_bench_says_what_is_wrong_with_bad_arguments(tmp_path_factory, classifier_run: Path,
                                                     corpus: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    root = runtime_support.exported_root(tmp_path_factory)
    base = ["quality", "--model", str(root / "base"), "--data", str(corpus), "--classifier",
            str(classifier_run), "--threads", "1", "--out", str(tmp_path), "--no-pack"]
    for extra, message in ((["--n", "1"], "--n must be at least 2"),
                           (["--seconds", "30"], "fewer than 2 test clips"),
                           (["--n", "2", "--seconds", "2", "--context", "3"], "--context must"),
                           (["--classifier", str(tmp_path)], "engine.train classifier"),
                           (["--data", str(tmp_path)], "metadata.jsonl")):
        with pytest.raises(SystemExit) as exit_info:
            bench_cli(base + extra)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
