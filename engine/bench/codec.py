"""Codec benchmark: reconstruction vs Griffin-Lim, decode speed, listening pack.

    python -m engine.bench codec --model exported/codec --data /root/presto-data/corpus \
        --clips 8 --out reports/codec [--record]

Quality: on test-split clips, the codec's reconstruction (encode -> decode) and a
Griffin-Lim inversion (librosa mel_to_audio, 32 iterations, same mel parameters) of
the same clip, both scored against the original with log-mel L1 and multi-resolution
STFT distance. Speed: ONNX decoder + numpy iSTFT for 32 s of latent, onnxruntime CPU
with 2 threads, median of several runs; plus a 2 s streaming hop with look-back.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.bench.metrics import log_mel_l1, mrstft_distance
from engine.codec.runtime import INT8_DECODER, CodecRuntime
from engine.manifest import load_manifest, save_manifest
from engine.train.audio_cache import load_audio, read_metadata


@dataclass(frozen=True)
class CodecBench:
    model: Path  # exported codec dir
    data: Path  # corpus dir
    clips: int = 8
    seconds: float = 8.0  # max seconds per clip
    out: Path = Path("reports/codec")
    runs: int = 7  # timed decode runs
    record: bool = False  # write the figures into the model's manifest
    split: str = "test"  # corpus split to score


def griffin_lim(audio: np.ndarray, sr: int, n_fft: int, hop: int, n_mels: int) -> np.ndarray:
    """(C, N) -> (C, N): magnitude mel -> NNLS linear -> 32 Griffin-Lim iterations."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=audio, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=1.0
    )
    out = librosa.feature.inverse.mel_to_audio(
        mel, sr=sr, n_fft=n_fft, hop_length=hop, power=1.0, n_iter=32, length=audio.shape[-1]
    )
    return out.astype(np.float32)


def load_clips(
    bench: CodecBench, sr: int, channels: int, block: int
) -> list[tuple[str, np.ndarray]]:
    """Deterministic test clips (C, N), N a multiple of ``block``, skipping silent ones."""
    rows = sorted(read_metadata(bench.data, bench.split), key=lambda r: r["path"])
    order = np.random.default_rng(0).permutation(len(rows))
    clips = []
    for i in order:
        x = load_audio(bench.data / rows[i]["path"], sr, channels)
        n = min(x.shape[1], int(bench.seconds * sr)) // block * block
        if n >= block and np.sqrt(np.mean(x[:, :n] ** 2)) > 1e-4:
            clips.append((Path(rows[i]["path"]).stem, x[:, :n]))
        if len(clips) == bench.clips:
            break
    return clips


def spectrogram_png(path: Path, audios: dict[str, np.ndarray], sr: int) -> None:
    import librosa
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(audios), figsize=(5 * len(audios), 3.5), sharey=True)
    for ax, (name, x) in zip(axes, audios.items(), strict=True):
        mel = librosa.feature.melspectrogram(y=x[0], sr=sr, n_fft=2048, hop_length=512)
        ax.imshow(librosa.power_to_db(mel, ref=1.0, top_db=90), origin="lower", aspect="auto")
        ax.set_title(name)
        ax.set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def time_decode(codec: CodecRuntime, latent: np.ndarray, runs: int) -> float:
    """Median seconds for decode(latent) (ONNX + numpy iSTFT), after one warm-up."""
    codec.decode(latent)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        codec.decode(latent)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def stream(codec: CodecRuntime, latent: np.ndarray, hop: int) -> tuple[np.ndarray, list[float]]:
    """Chunk-by-chunk decode with ``hop`` latent frames per step; returns audio, step times."""
    state, parts, times = codec.init_state(latent.shape[0]), [], []
    for a in range(0, latent.shape[-1], hop):
        t = time.perf_counter()
        pcm, state = codec.decode_step(latent[..., a : a + hop], state)
        times.append(time.perf_counter() - t)
        parts.append(pcm)
    parts.append(codec.flush(state))
    return np.concatenate(parts, axis=-1), times


def main(bench: CodecBench) -> dict:
    """Every decoder the model directory has (float, and int8 when made), side by side.

    The top-level figures are those of the decoder serving picks on the CPU ("auto");
    ``decoders`` holds each decoder's own.
    """
    codec = CodecRuntime(bench.model, device="cpu", threads=2)
    cfg, manifest = codec.cfg, codec.manifest
    decoders = {codec.decoder_precision: codec}
    has_int8 = INT8_DECODER in manifest["files"]
    for precision in ("float", "int8") if has_int8 else ("float",):
        if precision not in decoders:
            decoders[precision] = CodecRuntime(bench.model, device="cpu", threads=2,
                                               decoder=precision)
    sr, block = cfg.sample_rate, cfg.samples_per_latent
    bench.out.mkdir(parents=True, exist_ok=True)
    clips = load_clips(bench, sr, cfg.channels, block)
    if not clips:
        raise SystemExit(f"no usable test clips in {bench.data}")
    keep = -(cfg.n_fft - cfg.hop)  # leave out the codec's last (tail-completed) samples
    rows = []
    for k, (name, x) in enumerate(clips):
        latent = codec.encode(x[None])
        outputs = {f"codec_{p}": c.decode(latent)[0] for p, c in decoders.items()}
        outputs["codec"] = outputs[f"codec_{codec.decoder_precision}"]
        outputs["griffin_lim"] = griffin_lim(x, sr, cfg.n_fft, cfg.hop, cfg.n_mels)
        row = {"clip": name, "seconds": x.shape[1] / sr}
        for label, y in outputs.items():
            row[f"{label}_mel_l1"] = log_mel_l1(
                y[:, :keep], x[:, :keep], sr, cfg.n_fft, cfg.hop, cfg.n_mels
            )
            row[f"{label}_mrstft"] = mrstft_distance(y[:, :keep], x[:, :keep])["total"]
        rows.append(row)
        if k < 4:  # listening pack
            pack = {"original": x, "codec": outputs["codec"]}  # codec: the served decoder
            if len(decoders) > 1:
                pack |= {f"codec_{p}": outputs[f"codec_{p}"] for p in decoders}
            pack["griffin_lim"] = outputs["griffin_lim"]
            for label, y in pack.items():
                sf.write(bench.out / f"{k:02d}_{label}.wav", y.T, sr, subtype="PCM_16")
            spectrogram_png(
                bench.out / f"{k:02d}_spectrogram.png",
                {"original": x, **{f"codec ({p})": outputs[f"codec_{p}"] for p in decoders},
                 "Griffin-Lim (32 it)": outputs["griffin_lim"]},
                sr,
            )

    # Speed: 32 s of real latent (test clips concatenated and tiled).
    n32 = int(round(32 * cfg.latent_rate))  # 689 latent frames
    audio = np.concatenate([x for _, x in clips], axis=-1)
    audio = np.tile(audio, (1, -(-n32 * block // audio.shape[-1])))[:, : n32 * block]
    latent = codec.encode(audio[None])  # (1, D, 689)
    audio_s = n32 * block / sr
    hop_frames = int(round(2 * cfg.latent_rate))  # 2 s hops, as the live engine
    sizes = {name: f["bytes"] for name, f in manifest["files"].items()}
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k not in ("clip",)}
    per_decoder = {}
    for precision, runtime in decoders.items():
        t32 = time_decode(runtime, latent, bench.runs)
        streamed, step_times = stream(runtime, latent, hop_frames)
        seam = np.abs(streamed - runtime.decode(latent)).max()
        per_decoder[precision] = {
            "codec_mel_l1": mean[f"codec_{precision}_mel_l1"],
            "codec_mrstft": mean[f"codec_{precision}_mrstft"],
            "decode_32s_ms": 1000 * t32,
            "decode_x_realtime": audio_s / t32,
            "stream_hop_ms_median": 1000 * float(np.median(step_times[1:] or step_times)),
            "stream_vs_whole_max_abs": float(seam),
            "decoder_mb": sizes[INT8_DECODER if precision == "int8" else "decoder.onnx"] / 1e6,
        }
    served = per_decoder[codec.decoder_precision]
    results = {
        "model": str(bench.model),
        "split": bench.split,
        "clips": len(rows),
        "clip_seconds": mean["seconds"],
        "decoder": codec.decoder_precision,
        **{k: served[k] for k in ("codec_mel_l1", "codec_mrstft")},
        "griffin_lim_mel_l1": mean["griffin_lim_mel_l1"],
        "griffin_lim_mrstft": mean["griffin_lim_mrstft"],
        **{k: v for k, v in served.items() if k not in ("codec_mel_l1", "codec_mrstft")},
        "stream_hop_frames": hop_frames,
        "stream_lookback_frames": codec.lookback,
        "compression_ratio": cfg.compression_ratio,
        "latent_rate_hz": cfg.latent_rate,
        "model_mb": sum(sizes.values()) / 1e6,
        "provider": codec.providers[0],
        "threads": 2,
        "decoders": per_decoder,
        "per_clip": rows,
    }
    table = markdown(results)
    (bench.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (bench.out / "results.md").write_text(table)
    print(table)
    if bench.record:
        manifest = load_manifest(bench.model, kind="codec")
        manifest["benchmark"] = {k: v for k, v in results.items() if k != "per_clip"}
        save_manifest(bench.model, manifest)
    return results


def markdown(r: dict) -> str:
    better = lambda a, b: "yes" if a < b else "no"  # noqa: E731
    names = list(r["decoders"])
    d = r["decoders"]
    head = " | ".join(f"codec ({p}{', served' if p == r['decoder'] else ''})" for p in names)
    lines = [
        f"# Codec benchmark ({r['clips']} {r['split']} clips, {r['clip_seconds']:.1f} s mean)",
        "",
        f"| metric | {head} | Griffin-Lim (32 it) | served codec better |",
        "|---|" + "---|" * (len(names) + 2),
        "| log-mel L1 | " + " | ".join(f"{d[p]['codec_mel_l1']:.4f}" for p in names)
        + f" | {r['griffin_lim_mel_l1']:.4f} | "
        f"{better(r['codec_mel_l1'], r['griffin_lim_mel_l1'])} |",
        "| multi-res STFT distance | " + " | ".join(f"{d[p]['codec_mrstft']:.4f}" for p in names)
        + f" | {r['griffin_lim_mrstft']:.4f} | "
        f"{better(r['codec_mrstft'], r['griffin_lim_mrstft'])} |",
        "",
        f"| speed and size | {' | '.join(names)} |",
        "|---|" + "---|" * len(names),
        f"| decode 32 s (ONNX + numpy iSTFT, {r['provider']}, {r['threads']} threads) | "
        + " | ".join(f"{d[p]['decode_32s_ms']:.1f} ms ({d[p]['decode_x_realtime']:.0f}x real "
                     "time)" for p in names) + " |",
        f"| streaming step: {r['stream_hop_frames']} new + {r['stream_lookback_frames']} "
        "look-back latent frames | "
        + " | ".join(f"{d[p]['stream_hop_ms_median']:.1f} ms" for p in names) + " |",
        "| streamed vs whole-clip decode, max abs diff | "
        + " | ".join(f"{d[p]['stream_vs_whole_max_abs']:.2e}" for p in names) + " |",
        "| decoder size | " + " | ".join(f"{d[p]['decoder_mb']:.1f} MB" for p in names) + " |",
        "",
        f"Compression {r['compression_ratio']:.0f}x (audio samples per latent number), latent "
        f"rate {r['latent_rate_hz']:.2f} Hz, model files {r['model_mb']:.1f} MB in all.",
        "",
    ]
    return "\n".join(lines)
