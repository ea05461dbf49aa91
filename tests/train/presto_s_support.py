"""Micro Presto-S and Presto-LS runs for tests, built once per test session.

The teacher is presto_l_support's random-weight 4-block DiT in the base run's format (the
micro base run's codec, latent cache and checkpoint layout): non-zero weights everywhere,
so every path of the DMD and GAN losses carries a signal. Presto-LS starts from the micro
Presto-L fine-tune of that teacher."""

from __future__ import annotations

from pathlib import Path

from tests.train import presto_l_support

_cache: dict[str, Path] = {}


def teacher_run(tmp_factory) -> Path:
    return presto_l_support.teacher_run(tmp_factory)


def presto_s_run(tmp_factory) -> Path:
    """engine.train presto-s at the micro preset: 3 generator updates of 2 fake updates each."""
    if "presto-s" not in _cache:
        from engine.train.presto_s import PrestoSRun, main
        from tests.codec import support as codec_support

        out = tmp_factory.mktemp("presto_s")
        # the teacher's codec is a training run: FD on decoded audio needs its export
        _cache["presto-s"] = main(PrestoSRun(teacher_run(tmp_factory), out, "micro", threads=1,
                                             codec=codec_support.exported_model(tmp_factory)))
    return _cache["presto-s"]


def presto_ls_run(tmp_factory) -> Path:
    """engine.train presto-ls at the micro preset, from the micro Presto-L run."""
    if "presto-ls" not in _cache:
        from engine.train.presto_s import PrestoSRun, main

        runs = presto_l_support.presto_l_runs(tmp_factory)
        out = tmp_factory.mktemp("presto_ls")
        _cache["presto-ls"] = main(PrestoSRun(runs["base"], out, "micro", threads=1,
                                              presto_l=runs["presto-l"]))
    return _cache["presto-ls"]


def exported_models(tmp_factory) -> dict[str, Path]:
    """The teacher (diffusion mode) and both micro runs (distilled mode) exported for real
    (engine.export model, beside a real text-encoder and codec export), in one models dir
    laid out as engine.bench.presto_s keeps it: MODELS/{base, RUN_NAME...}."""
    if "models" not in _cache:
        from engine.bench.presto_s import export_run
        from tests.codec import support as codec_support
        from tests.text import support as text_support

        text = text_support.text_model_dir(tmp_factory)
        codec = codec_support.exported_model(tmp_factory)
        models = tmp_factory.mktemp("presto_s_models")
        export_run(teacher_run(tmp_factory), models / "base", text, codec, "diffusion", "base")
        for kind, run in (("presto-s", presto_s_run(tmp_factory)),
                          ("presto-ls", presto_ls_run(tmp_factory))):
            export_run(run, models / run.name, text, codec, "distilled", kind)
        _cache.update(models=models, text=text, codec=codec)
    models = _cache["models"]
    return {"dir": models, "text": _cache["text"], "codec": _cache["codec"],
            "base": models / "base",
            "presto-s": models / presto_s_run(tmp_factory).name,
            "presto-ls": models / presto_ls_run(tmp_factory).name}
