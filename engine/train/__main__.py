"""Training dispatcher: ``python -m engine.train <model> [options]``.

    python -m engine.train codec --data /root/presto-data/corpus \
        --out /root/presto-data/runs/codec --preset cpu [--resume] [--steps N] [--minutes M]
    python -m engine.train base --data /root/presto-data/corpus \
        --codec /root/presto-data/runs/codec --out /root/presto-data/runs/base --preset tiny
    python -m engine.train presto-l --teacher /root/presto-data/runs/base \
        --out /root/presto-data/runs/presto-l [--baseline ase | --drop-order ORDER.json]
    python -m engine.train block-order --teacher /root/presto-data/runs/base --out ORDER.json
    python -m engine.train classifier --data /root/presto-data/corpus \
        --out /root/presto-data/runs/classifier [--minutes 6] [--resume]
    python -m engine.train presto-s --teacher /root/presto-data/runs/base \
        --out /root/presto-data/runs/presto-s [--ablation gen-train|discrete] [--minutes M]
    python -m engine.train presto-ls --presto-l /root/presto-data/runs/presto-l \
        --teacher /root/presto-data/runs/base --out /root/presto-data/runs/presto-ls
    python -m engine.train presto-s-snapshots --run /root/presto-data/runs/presto-s
    python -m engine.train import-base --model exported/base \
        --out /root/presto-data/runs/base-shipped   # the shipped teacher as a base run
    python -m engine.train pack-cache --cache LATENTS --out BUNDLE   # carry to a GPU ...
    python -m engine.train unpack-cache --bundle BUNDLE --out LATENTS   # ... and back
    python -m engine.train slim --run RUN --out FILE [--half]   # EMA-only checkpoint
    python -m engine.train subset-cache --cache LATENTS --out SMALL --fraction 0.6
    python -m engine.train import-codec --model exported/codec --out RUN   # shipped codec
    python -m engine.train pack-audio --data CORPUS --out BUNDLE --megabytes 52   # codec
    python -m engine.train unpack-audio --bundle BUNDLE --out CACHE   # training audio, there

Adding a model = one function below that adds its subparser and sets ``func``;
then list it in COMMANDS. Imports stay inside ``run`` so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli import dispatch
from engine.train.base_config import DEVICE_CHOICES
from engine.train.presto_s_config import DMD_NORMS


def codec(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("codec", help="latent audio codec (autoencoder)")
    p.add_argument("--data", type=Path, default=None,
                   help="corpus dir with metadata.jsonl (optional with a complete --cache)")
    p.add_argument("--out", type=Path, required=True, help="run dir")
    p.add_argument("--preset", default="cpu", help="codec preset (engine.codec.config)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    p.add_argument("--steps", type=int, default=None, help="total steps (overrides preset)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (LR follows)")
    p.add_argument("--cache", type=Path, default=None,
                   help="audio cache dir (default RUN/cache; unpack-audio writes one)")
    p.add_argument("--init", type=Path, default=None,
                   help="codec run to start from (import-codec makes one of an export)")
    p.add_argument("--freeze-encoder", action="store_true",
                   help="train the decoder only; latents and their statistics stay --init's")
    p.add_argument("--device", default="cpu", choices=DEVICE_CHOICES,
                   help="where to train (auto: a working CUDA device, else cpu)")
    p.add_argument("--valid-cache", type=Path, default=None,
                   help="held-out audio cache: validation passes, best weights in RUN/best.pt")

    def run(a: argparse.Namespace) -> None:
        from engine.train.codec import CodecRun, main

        if a.data is None and a.cache is None:
            raise SystemExit("codec: pass --data CORPUS, or --cache a complete audio cache")
        main(CodecRun(a.data, a.out, a.preset, a.resume, a.steps, a.minutes, a.cache,
                      a.init, a.freeze_encoder, a.device, a.valid_cache))

    p.set_defaults(func=run)


def base(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("base", help="base DiT under EDM on cached codec latents")
    p.add_argument("--data", type=Path, default=None,
                   help="corpus dir with metadata.jsonl (leave out to train on a complete "
                        "--cache alone, e.g. one carried to an accelerator)")
    p.add_argument(
        "--codec",
        type=Path,
        required=True,
        help="codec run dir (checkpoint.pt, latent_stats.json) or exported codec dir",
    )
    p.add_argument("--out", type=Path, required=True, help="run dir")
    p.add_argument("--preset", default="tiny", help="base preset (engine.train.base_config)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    p.add_argument("--steps", type=int, default=None, help="total steps (overrides preset)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (LR follows)")
    p.add_argument("--cache", type=Path, default=None, help="latent cache dir (RUN/latents)")
    p.add_argument("--cache-only", action="store_true", help="build the latent cache and stop")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: all cores; 1 leaves a core for other work)")
    p.add_argument("--init", type=Path, default=None,
                   help="start from this base run's EMA weights (text_scale may differ)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help="auto: a working CUDA GPU (bf16 autocast) if there is one, else cpu")

    def run(a: argparse.Namespace) -> None:
        from engine.train.base import BaseRun, main

        main(
            BaseRun(
                a.data,
                a.codec,
                a.out,
                a.preset,
                a.resume,
                a.steps,
                a.cache,
                a.cache_only,
                a.minutes,
                a.threads,
                a.init,
                a.device,
            )
        )

    p.set_defaults(func=run)


def presto_l(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presto-l", help="Presto-L layer-dropping fine-tune of a base run")
    p.add_argument("--teacher", type=Path, required=True, help="base run dir (checkpoint.pt)")
    p.add_argument("--out", type=Path, required=True, help="run dir")
    p.add_argument("--preset", default="tiny", help="preset (engine.train.presto_l_config)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    p.add_argument("--steps", type=int, default=None, help="total steps (overrides preset)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (LR follows)")
    p.add_argument("--baseline", choices=["ase"], default=None,
                   help="ase: fine-tune the plain early-exit baseline instead of the reroute")
    p.add_argument("--cache", type=Path, default=None, help="latent cache (the teacher's)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help="auto: a working CUDA GPU (bf16 autocast) if there is one, else cpu")
    p.add_argument("--init", type=Path, default=None,
                   help="start from this presto-l run's EMA weights (same teacher, exit mode "
                        "and schedule) instead of the teacher's")
    p.add_argument("--guided-teacher", type=float, default=None,
                   help="weight of the guided self-teacher loss (CFG 3 output toward the "
                        "teacher's; default: the preset's, 0)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (preset's: 1e-4)")
    p.add_argument("--denoise", type=float, default=None,
                   help="weight of the denoising (data) loss (preset's: 1); 0 distils from the "
                        "teacher alone, so the full-depth student stays the teacher")
    p.add_argument("--drop-order", type=Path, default=None,
                   help="ranked Presto-L: drop the blocks this block-order file ranks least "
                        "important at each noise band first (engine.train block-order)")

    def run(a: argparse.Namespace) -> None:
        from engine.train.presto_l import PrestoLRun, main

        main(PrestoLRun(a.teacher, a.out, a.preset, a.resume, a.steps, a.baseline, a.cache,
                        a.minutes, a.threads, a.device, a.init, a.guided_teacher, a.lr,
                        a.denoise, a.drop_order))

    p.set_defaults(func=run)


# The presto-s / presto-ls flags that take one value (None: the preset's, or the teacher's)
PRESTO_S_VALUE_FLAGS: tuple[tuple[str, type, str], ...] = (
    ("--lr-gen", float, "generator peak learning rate"),
    ("--lr-fake", float, "fake score (and discriminator) peak learning rate"),
    ("--guidance", float, "CFG weight of the real score (default: the preset's, 3)"),
    ("--guidance-sigma-min", float,
     "DMD noise levels below this use the unguided real score (default 0)"),
    ("--anchor-sigma", float, "generator inputs below this sigma regress to the teacher's x0 "
     "instead of DMD (default 0: off)"),
    ("--classifier", Path, "quality-bench classifier dir for FD on decoded audio along "
     "training (default: reports/quality/classifier)"),
    ("--codec", Path, "exported codec that decodes samples for that FD (default: the "
     "teacher's)"),
    ("--snapshot-every", int,
     "updates between exportable EMA snapshots (RUN/snapshots; 0 = none)"),
    ("--fake-updates", int, "fake-score (and discriminator) updates per generator update "
     "(default: the preset's, 5)"),
    ("--batch", int, "generator samples per update, and per fake-score update (default: the "
     "preset's, 4)"),
    ("--gan-gen-weight", float, "weight of the generator's adversarial loss next to DMD "
     "(default: the preset's, 5e-2)"),
    ("--window-frames", int, "longest training crop in latent frames (default: the preset's, "
     "172 = 8 s; 689 = the 32 s serving window)"),
    ("--fd-frames", int, "FD probe window in latent frames (default: the training crop's)"),
)


def presto_s_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--teacher", type=Path, required=True, help="base run dir (checkpoint.pt)")
    p.add_argument("--out", type=Path, required=True, help="run dir")
    p.add_argument("--preset", default="tiny", help="preset (engine.train.presto_s_config)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    p.add_argument("--steps", type=int, default=None, help="generator updates (overrides preset)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (LR follows)")
    p.add_argument("--ablation", choices=["gen-train", "discrete"], default=None,
                   help="gen-train: generator inputs on the training log-normal; discrete: "
                   "discrete-time DMD on fixed sigma levels")
    p.add_argument("--cache", type=Path, default=None, help="latent cache (the teacher's)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    for flag, kind, text in PRESTO_S_VALUE_FLAGS:  # default None: the preset's value
        p.add_argument(flag, type=kind, default=None, help=text)
    p.add_argument("--fake-by-level", action="store_true", default=None,
                   help="the fake score learns each generator input level's outputs apart "
                   "(labelled through its budget input) instead of their mixture")
    p.add_argument("--fake-by-budget", action="store_true", default=None,
                   help="Presto-LS: the fake score and critic see each sample's layer budget "
                   "and judge each budget's outputs on their own instead of their mixture")
    p.add_argument("--no-gan", dest="gan", action="store_const", const=False, default=None,
                   help="DMD alone: no discriminator head, no adversarial loss")
    p.add_argument("--dmd-norm", choices=DMD_NORMS, default=None,
                   help="scale of the DMD direction: per sample (DMD2) or one for the batch (the "
                   "preset's)")
    p.add_argument("--gen-steps", type=int, nargs="+", default=None,
                   help="step counts whose schedule levels the generator trains at (default: "
                   "the preset's 1 2 4 8; e.g. 2 to specialise it to 2-step sampling)")
    p.add_argument("--fd-steps", type=int, nargs="+", default=None,
                   help="step counts the FD probe samples at (default: the preset's 1 2 4 8)")
    p.add_argument("--no-audio-fd", action="store_true",
                   help="measure FD along training on latent statistics only")
    p.add_argument("--device", default="cpu", choices=DEVICE_CHOICES,
                   help="where the networks run (auto: a working CUDA GPU, else cpu); batches "
                   "and noise are drawn on the CPU either way")


def presto_s_run(a: argparse.Namespace, presto_l: Path | None,
                 from_presto_s: Path | None = None):
    """The PrestoSRun that the presto-s / presto-ls command lines describe."""
    from engine.train.presto_s import DEFAULT_CLASSIFIER, OVERRIDES, PrestoSRun

    classifier = None if a.no_audio_fd else (a.classifier or DEFAULT_CLASSIFIER)
    overrides = {name: getattr(a, name) for name in OVERRIDES}  # flags named as the fields
    steps = {"gen_steps": tuple(a.gen_steps) if a.gen_steps else None,
             "fd_steps": tuple(a.fd_steps) if a.fd_steps else None}
    return PrestoSRun(a.teacher, a.out, preset=a.preset, resume=a.resume, minutes=a.minutes,
                      presto_l=presto_l, ablation=a.ablation, cache=a.cache, threads=a.threads,
                      classifier=classifier, codec=a.codec, device=a.device,
                      from_presto_s=from_presto_s, **steps, **overrides)


def presto_s(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presto-s", help="Presto-S step distillation (DMD + GAN) of a base run")
    presto_s_args(p)

    def run(a: argparse.Namespace) -> None:
        from engine.train.presto_s import main

        main(presto_s_run(a, None))

    p.set_defaults(func=run)


def presto_ls(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presto-ls", help="Presto-S with a Presto-L run as the generator's init")
    p.add_argument("--presto-l", type=Path, required=True, help="engine.train presto-l run dir")
    p.add_argument("--from-presto-s", type=Path, default=None,
                   help="a finished presto-s run of the same teacher: the generator starts as "
                   "its generator plus the Presto-L run's change to the teacher, the fake "
                   "score and critic as its own")
    presto_s_args(p)

    def run(a: argparse.Namespace) -> None:
        from engine.train.presto_s import main

        main(presto_s_run(a, a.presto_l, a.from_presto_s))

    p.set_defaults(func=run)


def classifier(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classifier", help="the quality yardstick's audio attribute classifier")
    p.add_argument("--data", type=Path, required=True, help="corpus dir with metadata.jsonl")
    p.add_argument("--out", type=Path, required=True, help="run dir")
    p.add_argument("--minutes", type=float, default=6.0, help="training wall-clock budget")
    p.add_argument("--steps", type=int, default=4000, help="at most this many steps")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--eval-every", type=int, default=150, help="steps between validations")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    p.add_argument("--cache", type=Path, default=None, help="log-mel cache dir (RUN/mels)")

    def run(a: argparse.Namespace) -> None:
        import sys

        from engine.bench.quality.train_classifier import ClassifierRun, main

        try:
            main(ClassifierRun(a.data, a.out, minutes=a.minutes, steps=a.steps, batch=a.batch,
                               eval_every=a.eval_every, threads=a.threads, resume=a.resume,
                               cache=a.cache))
        except ValueError as error:  # a corpus without the needed splits or attributes
            print(f"classifier: {error}", file=sys.stderr)
            raise SystemExit(2) from None

    p.set_defaults(func=run)


def import_base(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-base",
                       help="rebuild a base run (teacher) from an exported model dir")
    p.add_argument("--model", type=Path, required=True, help="exported base model (exported/base)")
    p.add_argument("--out", type=Path, required=True, help="run dir to write checkpoint.pt into")
    p.add_argument("--preset", default="tiny", help="training preset the run records")

    def run(a: argparse.Namespace) -> None:
        from engine.train.import_base import import_base as rebuild

        rebuild(a.model, a.out, a.preset)

    p.set_defaults(func=run)


def presto_s_snapshots(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presto-s-snapshots",
                       help="judge a Presto-S/LS run's EMA snapshots (valid split), pick one")
    p.add_argument("--run", type=Path, required=True, help="presto-s / presto-ls run dir")
    p.add_argument("--clips", type=int, default=None, help="valid windows (default: fd_clips)")
    p.add_argument("--serve-steps", type=int, default=4, help="step count the pick is judged at")
    p.add_argument("--classifier", type=Path, default=None,
                   help="quality-bench classifier dir (default: reports/quality/classifier)")
    p.add_argument("--codec", type=Path, default=None,
                   help="exported codec (default: the teacher's)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")

    def run(a: argparse.Namespace) -> None:
        from engine.train.presto_s_snapshots import DEFAULT_CLASSIFIER, SnapshotJudge, main

        main(SnapshotJudge(a.run, a.clips, a.serve_steps, a.classifier or DEFAULT_CLASSIFIER,
                           a.codec, a.threads))

    p.set_defaults(func=run)


def slim(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("slim", help="EMA-only copy of a run's checkpoint (to carry it off a "
                                    "lent machine)")
    p.add_argument("--run", type=Path, required=True,
                   help="run dir (checkpoint.pt), or a checkpoint file (a snapshot)")
    p.add_argument("--out", type=Path, required=True, help="file to write")
    p.add_argument("--half", action="store_true", help="store the weights as float16")

    def run(a: argparse.Namespace) -> None:
        from engine.train.slim import slim_checkpoint

        slim_checkpoint(a.run, a.out, a.half)

    p.set_defaults(func=run)


def pack_cache(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pack-cache", help="a latent cache as an int8, delta, xz bundle (about "
                                          "a third of its size) to carry to another machine")
    p.add_argument("--cache", type=Path, required=True, help="complete latent cache dir")
    p.add_argument("--out", type=Path, required=True, help="bundle dir to write")

    def run(a: argparse.Namespace) -> None:
        from engine.train.cache_transport import pack_cache as pack

        record = pack(a.cache, a.out)
        print(f"packed {record['shape'][0]} frames x {record['shape'][1]}: int8 scale "
              f"{record['scale']:.5f}, rounding error {record['error_rms']} RMS")

    p.set_defaults(func=run)


def unpack_cache(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("unpack-cache", help="rebuild a latent cache from a pack-cache bundle")
    p.add_argument("--bundle", type=Path, required=True, help="bundle dir (pack-cache --out)")
    p.add_argument("--out", type=Path, required=True, help="cache dir to write")

    def run(a: argparse.Namespace) -> None:
        from engine.train.cache_transport import unpack_cache as unpack

        unpack(a.bundle, a.out)

    p.set_defaults(func=run)


def import_codec(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-codec", help="a codec run rebuilt from an exported codec "
                                            "(to train a new decoder for its latent space)")
    p.add_argument("--model", type=Path, required=True, help="exported codec dir")
    p.add_argument("--out", type=Path, required=True, help="run dir to write")

    def run(a: argparse.Namespace) -> None:
        from engine.train.import_codec import main

        main(a.model, a.out)

    p.set_defaults(func=run)


def pack_audio(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pack-audio", help="lossless excerpts of train audio, size-bounded, "
                                          "to carry to another machine for codec training")
    p.add_argument("--data", type=Path, required=True, help="corpus dir")
    p.add_argument("--out", type=Path, required=True, help="bundle dir to write")
    p.add_argument("--megabytes", type=float, required=True, help="bundle size (FLAC bytes)")
    p.add_argument("--excerpt", type=float, default=8.0, help="seconds taken from each clip")
    p.add_argument("--seed", type=int, default=0, help="clip order and excerpt offsets")
    p.add_argument("--split", default="train", choices=("train", "valid"),
                   help="corpus split to take excerpts from")

    def run(a: argparse.Namespace) -> None:
        from engine.train.audio_transport import pack_audio as pack

        index = pack(a.data, a.out, a.megabytes, a.excerpt, seed=a.seed, split=a.split)
        print(f"packed {len(index['starts'])} excerpts, {index['hours'] * 60:.1f} min, "
              f"{index['bytes'] / 1e6:.1f} MB")

    p.set_defaults(func=run)


def unpack_audio(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("unpack-audio", help="an audio cache from a pack-audio bundle")
    p.add_argument("--bundle", type=Path, required=True, help="bundle dir (pack-audio --out)")
    p.add_argument("--out", type=Path, required=True, help="audio cache dir to write")

    def run(a: argparse.Namespace) -> None:
        from engine.train.audio_transport import unpack_audio as unpack

        unpack(a.bundle, a.out)

    p.set_defaults(func=run)


def subset_cache(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("subset-cache", help="a latent cache with a seeded share of the train "
                                            "clips (and every valid/test clip)")
    p.add_argument("--cache", type=Path, required=True, help="complete latent cache dir")
    p.add_argument("--out", type=Path, required=True, help="cache dir to write")
    p.add_argument("--fraction", type=float, required=True, help="share of train clips kept")
    p.add_argument("--seed", type=int, default=0, help="which train clips")

    def run(a: argparse.Namespace) -> None:
        from engine.train.cache_subset import subset_cache as subset

        record = subset(a.cache, a.out, a.fraction, a.seed)
        print(f"subset: {record['train_clips']} train clips, {record['clips']} clips, "
              f"{record['frames']} frames -> {a.out}")

    p.set_defaults(func=run)


def block_order(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("block-order", help="rank a base run's blocks per noise band by how "
                                           "little dropping them changes its output")
    p.add_argument("--teacher", type=Path, required=True, help="base run dir (checkpoint.pt)")
    p.add_argument("--cache", type=Path, default=None, help="latent cache (the teacher's)")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    p.add_argument("--edges", type=float, nargs="+", default=[10.0, 1.5, 0.0],
                   help="noise-band lower edges (0 is added)")
    p.add_argument("--sigmas", type=float, nargs="+", default=[20.0, 3.0, 0.5, 0.1],
                   help="probe noise levels (each band needs one)")
    p.add_argument("--clips", type=int, default=12, help="valid windows probed")
    p.add_argument("--frames", type=int, default=172, help="latent frames per window")
    p.add_argument("--threads", type=int, default=1)

    def run(a: argparse.Namespace) -> None:
        from engine.train.block_order import main

        main(a.teacher, a.cache, a.out, a.edges, a.sigmas, a.clips, a.frames, a.threads)

    p.set_defaults(func=run)


COMMANDS = (codec, base, presto_l, block_order, presto_s, presto_ls, presto_s_snapshots, classifier,
            import_base, import_codec, slim, subset_cache, pack_cache, unpack_cache, pack_audio,
            unpack_audio)


def main(argv: list[str] | None = None) -> None:
    dispatch("python -m engine.train", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    main()
