"""Export the EDM-preconditioned DiT to ONNX (dynamo exporter, dynamic batch and frames).

Two layouts, both inputs (x, sigma, text_emb, budget, known, mask) -> x0:

- monolithic: one graph `denoiser.onnx` for one fixed layer count k;
- split: `embed.onnx` (preconditioning in, tokens and conditioning out),
  `block_{i}.onnx` for each block, `final.onnx` (head and preconditioning out).
  The runtime picks k per call by choosing which block graphs to run
  (Presto-L reroute), with every weight stored once. See engine.model.runner.

Beside them, null_text.npy holds the learned empty-prompt embedding for CFG.

    python -m engine.model.export --preset tiny --out /tmp/dit --split --bench
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import onnx
import onnx.numpy_helper
import torch
from torch import nn

from engine.edm.precond import EDMPrecond, edm_coefficients
from engine.model.config import preset
from engine.model.dit import DiT

# The exporter warns once per export about torchvision ops it cannot register.
logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)

DENOISER_INPUTS = ["x", "sigma", "text_emb", "budget", "known", "mask"]


class DenoiserGraph(nn.Module):
    """D(x, sigma, ...) -> x0 (B, C, T) at a fixed layer count."""

    def __init__(self, denoiser: EDMPrecond, n_blocks: int | None = None) -> None:
        super().__init__()
        self.denoiser, self.n_blocks = denoiser, n_blocks

    def forward(self, x, sigma, text_emb, budget, known, mask):  # noqa: ANN001, D102
        return self.denoiser(x, sigma, text_emb=text_emb, budget=budget, known=known, mask=mask,
                             n_blocks=self.n_blocks)  # (B, C, T)


class EmbedGraph(nn.Module):
    """(x, sigma, text_emb, budget, known, mask) -> h (B, L, D), c (B, D), c_final (B, D)."""

    def __init__(self, denoiser: EDMPrecond) -> None:
        super().__init__()
        self.dit, self.sigma_data = denoiser.net, denoiser.sigma_data

    def forward(self, x, sigma, text_emb, budget, known, mask):  # noqa: ANN001, D102
        _, _, c_in, c_noise = edm_coefficients(sigma.to(x.dtype), self.sigma_data)  # (B,) each
        return self.dit.embed(x * c_in[:, None, None], c_noise, text_emb, budget, known, mask)


class BlockGraph(nn.Module):
    """One adaLN-Zero block: (h (B, L, D), c (B, D)) -> h (B, L, D); rotary built in-graph."""

    def __init__(self, dit: DiT, index: int) -> None:
        super().__init__()
        self.dit_rope, self.block = dit.rope, dit.blocks[index]

    def forward(self, h, c):  # noqa: ANN001, D102
        cos, sin = self.dit_rope(h)  # (L, Dh/2) each
        return self.block(h, c, cos, sin)  # (B, L, D)


class FinalGraph(nn.Module):
    """(h (B, L, D), c_final (B, D), x (B, C, T), sigma (B,)) -> x0 (B, C, T)."""

    def __init__(self, denoiser: EDMPrecond) -> None:
        super().__init__()
        self.dit, self.sigma_data = denoiser.net, denoiser.sigma_data

    def forward(self, h, c_final, x, sigma):  # noqa: ANN001, D102
        c_skip, c_out, _, _ = edm_coefficients(sigma.to(x.dtype), self.sigma_data)  # (B,) each
        f = self.dit.head(h, c_final, x.shape[2])  # (B, C, T)
        return x * c_skip[:, None, None] + f * c_out[:, None, None]  # (B, C, T)


def example_inputs(denoiser: EDMPrecond, batch: int = 2, frames: int = 37
                   ) -> tuple[torch.Tensor, ...]:
    """(x, sigma, text_emb, budget, known, mask) of the right shapes, for tracing and tests."""
    cfg = denoiser.net.cfg
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cfg.latent_channels, frames, generator=g)
    sigma = torch.rand(batch, generator=g) * 5 + 0.1
    text = torch.randn(batch, cfg.text_dim, generator=g)
    budget = torch.rand(batch, generator=g)
    known = torch.randn(batch, cfg.latent_channels, frames, generator=g)
    mask = (torch.arange(frames) < frames // 2).float().expand(batch, 1, frames).contiguous()
    return x, sigma, text, budget, known, mask


def _export(module: nn.Module, args: tuple, names: list[str], outputs: list[str],
            dynamic: dict, path: Path) -> Path:
    """dynamo export with named dynamic axes; the weights are embedded in the file.

    optimize=False: onnxruntime's own graph optimiser makes the same speed
    (tiny preset, 344 tokens: 70.3 ms unoptimised vs 70.4 ms optimised), the
    export takes half the time, and the initializers keep their parameter
    names, which lets export_split reuse one block graph for every block.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        program = torch.onnx.export(module.eval(), args, dynamo=True, input_names=names,
                                    output_names=outputs, dynamic_shapes=dynamic,
                                    optimize=False, verbose=False)
    program.save(str(path), external_data=False)
    return path


def _with_weights(template: onnx.ModelProto, state: dict[str, torch.Tensor]
                  ) -> onnx.ModelProto | None:
    """A copy of template with each initializer named in state replaced; None unless every
    tensor in state found an initializer of its name and shape."""
    model = onnx.ModelProto()
    model.CopyFrom(template)
    replaced = set()
    for init in model.graph.initializer:
        value = state.get(init.name)
        if value is None:
            continue
        if tuple(init.dims) != tuple(value.shape):
            return None
        init.CopyFrom(onnx.numpy_helper.from_array(value.detach().cpu().numpy(), init.name))
        replaced.add(init.name)
    return model if replaced == set(state) else None


def _max_error(path: Path, module: nn.Module, feeds: dict[str, torch.Tensor]) -> float:
    """Max abs difference between onnxruntime on path and module on the same inputs."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {k: v.numpy() for k, v in feeds.items()})[0]
    with torch.no_grad():
        ref = module(*feeds.values()).numpy()
    return float(abs(out - ref).max())


def _dims() -> tuple[torch.export.Dim, torch.export.Dim, torch.export.Dim]:
    batch = torch.export.Dim("batch", min=1, max=1024)
    frames = torch.export.Dim("frames", min=2, max=1 << 16)
    tokens = torch.export.Dim("tokens", min=1, max=1 << 15)
    return batch, frames, tokens


def export_denoiser(denoiser: EDMPrecond, path: Path, n_blocks: int | None = None) -> Path:
    """One monolithic graph at layer count n_blocks (None = all)."""
    b, t, _ = _dims()
    dyn = {"x": {0: b, 2: t}, "sigma": {0: b}, "text_emb": {0: b}, "budget": {0: b},
           "known": {0: b, 2: t}, "mask": {0: b, 2: t}}
    return _export(DenoiserGraph(denoiser, n_blocks), example_inputs(denoiser), DENOISER_INPUTS,
                   ["x0"], dyn, Path(path))


def export_split(denoiser: EDMPrecond, out_dir: Path) -> list[Path]:
    """embed.onnx, block_0.onnx .. block_{depth-1}.onnx, final.onnx and dit_config.json
    (the DiT config, exit_mode included) under out_dir."""
    out_dir = Path(out_dir)
    b, t, n = _dims()
    args = example_inputs(denoiser)
    dyn = {"x": {0: b, 2: t}, "sigma": {0: b}, "text_emb": {0: b}, "budget": {0: b},
           "known": {0: b, 2: t}, "mask": {0: b, 2: t}}
    paths = [_export(EmbedGraph(denoiser), args, DENOISER_INPUTS, ["h", "c", "c_final"], dyn,
                     out_dir / "embed.onnx")]
    with torch.no_grad():
        h, c, c_final = EmbedGraph(denoiser)(*args)
    # Every block has the same graph: export block 0, then give its graph each
    # other block's weights (checked against PyTorch; re-exported if that fails).
    block_dyn = {"h": {0: b, 1: n}, "c": {0: b}}
    first = _export(BlockGraph(denoiser.net, 0), (h, c), ["h", "c"], ["h_out"], block_dyn,
                    out_dir / "block_0.onnx")
    paths.append(first)
    template = onnx.load(str(first))
    for i in range(1, len(denoiser.net.blocks)):
        block = BlockGraph(denoiser.net, i).eval()
        path = out_dir / f"block_{i}.onnx"
        model = _with_weights(template, {f"block.{k}": v for k, v in
                                         denoiser.net.blocks[i].state_dict().items()})
        if model is not None:
            onnx.save(model, str(path))
        if model is None or _max_error(path, block, {"h": h, "c": c}) > 1e-4:
            _export(block, (h, c), ["h", "c"], ["h_out"], block_dyn, path)
        paths.append(path)
    x, sigma = args[0], args[1]
    paths.append(_export(FinalGraph(denoiser), (h, c_final, x, sigma),
                         ["h", "c_final", "x", "sigma"], ["x0"],
                         {"h": {0: b, 1: n}, "c_final": {0: b}, "x": {0: b, 2: t},
                          "sigma": {0: b}}, out_dir / "final.onnx"))
    # The runner needs the exit mode (which blocks a layer count runs) beside the graphs.
    config = out_dir / "dit_config.json"
    config.write_text(json.dumps(denoiser.net.cfg.to_dict(), indent=2) + "\n")
    paths.append(config)
    return paths


def save_null_text(denoiser: EDMPrecond, out_dir: Path) -> Path:
    """null_text.npy: the DiT's learned empty-prompt embedding (384,) float32, which the
    runtime installs with TextEncoder.set_null_embedding for classifier-free guidance."""
    import numpy as np

    path = Path(out_dir) / "null_text.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, denoiser.net.null_text.detach().cpu().numpy().astype(np.float32))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.model.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--split", action="store_true", help="also write the per-block graphs")
    parser.add_argument("--bench", action="store_true", help="time torch vs onnxruntime")
    parser.add_argument("--frames", type=int, default=688, help="bench window (688 = 344 tokens)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-export", action="store_true", help="bench existing graphs")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # the exporter's axis-rename and deprecation chatter
    torch.manual_seed(args.seed)
    net = DiT(preset(args.preset))
    # Random weights everywhere, adaLN-Zero parts included: a zero-initialised
    # network is a trivial graph to check parity or speed on.
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    denoiser = EDMPrecond(net).eval()
    t0 = time.perf_counter()
    if not args.skip_export:
        export_denoiser(denoiser, args.out / "denoiser.onnx")
        save_null_text(denoiser, args.out)
        print(f"monolithic export: {time.perf_counter() - t0:.1f} s")
    if args.split and not args.skip_export:
        t0 = time.perf_counter()
        export_split(denoiser, args.out / "split")
        print(f"split export: {time.perf_counter() - t0:.1f} s")
    if args.bench:
        from engine.model.timing import bench_all

        bench_all(denoiser, args.out, frames=args.frames, threads=args.threads,
                  split=args.split, repeats=args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
