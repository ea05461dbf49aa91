"""A served model directory: text encoder + DiT graphs + codec, checked and loaded. No torch.

    model = ServedModel.load("exported/presto-ls")       # device "auto": CUDA if it works
    emb = model.text.embed(["a slow chorale"])             # (1, 384)
    x0 = model.denoiser(x, sigma, emb, budget, known, mask, n_blocks=k)   # (B, C, T)
    pcm = model.codec.decode(model.codec.denormalize(latent))            # (B, 1, T * 2048)

Layout (written by `python -m engine.export model`):

    exported/NAME/manifest.json   kind "model": DiT config, window, sampling defaults,
                                  layer schedule, the text and codec directories it uses,
                                  training provenance, benchmark figures, file hashes
    exported/NAME/embed.onnx, block_{i}.onnx, final.onnx, dit_config.json, null_text.npy
    exported/text, exported/codec shared by every model (named in the manifest, relative)

The DiT is stored as per-block graphs so that the layer count is chosen per call with
each weight stored once. The codec is checked by its encoder's hash and latent
statistics: a retrained decoder that keeps the latent space can replace the old one,
a different latent space cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.codec.runtime import CodecRuntime
from engine.manifest import ManifestError, latent_stats_digest, load_manifest
from engine.model.config import DiTConfig
from engine.model.layer_schedule import LayerSchedule
from engine.model.runner import SplitDenoiser
from engine.runtime.backend import Denoiser
from engine.runtime.sessions import Device, select_device
from engine.text.encoder import TextEncoder

MODES = ("diffusion", "distilled")  # EDM ODE sampling with guidance / Presto-S few-step


@dataclass(frozen=True)
class SamplingDefaults:
    """How the model is meant to be sampled; every field can be overridden per call."""

    mode: str = "diffusion"  # "diffusion": EDM sampler + CFG; "distilled": x0 -> renoise loop
    steps: int = 32
    sampler: str = "heun"  # diffusion mode: heun | euler | dpmpp_2m
    guidance: float = 3.0  # diffusion mode (a distilled generator has guidance baked in)
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    budget: float = 1.0  # default layer budget
    budgets: tuple[float, ...] = (1.0,)  # budgets the model was trained and measured at
    max_steps: int = 64

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")

    @classmethod
    def from_dict(cls, d: dict) -> SamplingDefaults:
        d = dict(d)
        if "budgets" in d:
            d["budgets"] = tuple(float(b) for b in d["budgets"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def _resolve(model_dir: Path, manifest: dict, key: str, override: Path | None) -> Path:
    if override is not None:
        return Path(override)
    entry = manifest.get(key)
    if not isinstance(entry, dict) or "dir" not in entry:
        raise ManifestError(f"{model_dir / 'manifest.json'}: no '{key}' directory entry")
    return (model_dir / entry["dir"]).resolve()


@dataclass
class ServedModel:
    model_dir: Path
    manifest: dict
    dit: DiTConfig
    window_frames: int  # longest window the DiT was trained on (latent frames)
    defaults: SamplingDefaults
    schedule: LayerSchedule
    text: TextEncoder
    denoiser: Denoiser  # onnxruntime's per-block graphs (engine.runtime.backend)
    codec: CodecRuntime
    device: Device
    load_seconds: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.model_dir.name))

    @property
    def sample_rate(self) -> int:
        return self.codec.cfg.sample_rate

    @property
    def channels(self) -> int:
        return self.codec.cfg.channels

    @property
    def latent_channels(self) -> int:
        return self.dit.latent_channels

    @property
    def samples_per_latent(self) -> int:
        return self.codec.cfg.samples_per_latent

    @property
    def latent_rate(self) -> float:
        return self.sample_rate / self.samples_per_latent

    @property
    def provider(self) -> str:
        return self.device.providers[0]

    @classmethod
    def load(cls, model_dir: Path | str, device: str = "auto", threads: int = 2,
             sample_rate: int | None = None, channels: int | None = None,
             text_dir: Path | None = None, codec_dir: Path | None = None,
             decoder: str = "auto") -> ServedModel:
        """Check and open a model directory; ManifestError names any file that is wrong.

        sample_rate / channels: what the caller expects (None: accept the model's);
        a model that differs is refused. text_dir / codec_dir override the manifest's.
        decoder: the codec decoder graph, "auto" (int8 on the CPU when the codec has
        one), "float" or "int8" (engine.codec.runtime).
        """
        import time

        t0 = time.perf_counter()
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise ManifestError(f"{model_dir} is not a directory: pass --model with an "
                                "exported model (see `python run_engine.py status`)")
        manifest = load_manifest(model_dir, kind="model")
        try:
            dit = DiTConfig(**manifest["dit"])
            window = int(manifest["window_frames"])
            defaults = SamplingDefaults.from_dict(manifest.get("sampling", {}))
            schedule = LayerSchedule(**manifest["layer_schedule"])
        except (KeyError, TypeError, ValueError) as e:
            raise ManifestError(f"{model_dir / 'manifest.json'}: bad model fields ({e})") from e
        dev = select_device(device)
        text = TextEncoder(_resolve(model_dir, manifest, "text", text_dir), threads=threads,
                           providers=dev.providers)
        null = model_dir / "null_text.npy"
        text.set_null_embedding(np.load(null))
        codec_path = _resolve(model_dir, manifest, "codec", codec_dir)
        codec = CodecRuntime(codec_path, device=dev.name, threads=threads, decoder=decoder)
        _check_codec(model_dir, manifest, codec)
        if codec.cfg.latent_dim != dit.latent_channels:
            raise ManifestError(f"{codec_path} makes {codec.cfg.latent_dim}-channel latents, "
                                f"the model in {model_dir} expects {dit.latent_channels}")
        if sample_rate is not None and codec.cfg.sample_rate != sample_rate:
            raise ManifestError(f"{model_dir} makes {codec.cfg.sample_rate} Hz audio, "
                                f"{sample_rate} Hz was expected")
        if channels is not None and codec.cfg.channels != channels:
            raise ManifestError(f"{model_dir} makes {codec.cfg.channels}-channel audio, "
                                f"{channels} was expected")
        denoiser = SplitDenoiser(model_dir, threads=threads, exit_mode=dit.exit_mode,
                                 providers=dev.providers)
        if denoiser.depth != dit.depth:
            raise ManifestError(f"{model_dir} holds {denoiser.depth} block graphs, its manifest "
                                f"says depth {dit.depth}")
        return cls(model_dir=model_dir, manifest=manifest, dit=dit, window_frames=window,
                   defaults=defaults, schedule=schedule, text=text, denoiser=denoiser,
                   codec=codec, device=dev, load_seconds=time.perf_counter() - t0)


def _check_codec(model_dir: Path, manifest: dict, codec: CodecRuntime) -> None:
    """The codec must speak the latent language the DiT was trained on."""
    want = manifest["codec"]
    have_encoder = codec.manifest["files"].get("encoder.onnx", {}).get("sha256")
    if want.get("encoder_sha256") and want["encoder_sha256"] != have_encoder:
        raise ManifestError(f"{codec.model_dir}/encoder.onnx is not the codec encoder "
                            f"{model_dir.name} was trained with: its latents mean something "
                            "else. Use the codec exported beside the model.")
    digest = latent_stats_digest(codec.manifest["latent_stats"])
    if want.get("latent_stats_sha256") and want["latent_stats_sha256"] != digest:
        raise ManifestError(f"{codec.model_dir}/manifest.json has other latent statistics than "
                            f"the codec {model_dir.name} was trained with")
