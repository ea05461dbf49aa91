"""Run the exported DiT with onnxruntime, torch-free: one graph, or per-block graphs.

The split layout (embed.onnx, block_{i}.onnx, final.onnx; engine.model.export)
lets every call choose its layer count k (Presto-L reroute: blocks 0..k-2, then
the last block) with each weight stored once. Both runners take numpy arrays and
return x0 (B, C, T) float32, so either is a `denoise(x, sigma)` for engine.edm's
samplers once the conditioning is bound.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from engine.model.layer_schedule import DropOrder, check_drop_order, route
from engine.runtime.sessions import session_options

INPUT_NAMES = ("x", "sigma", "text_emb", "budget", "known", "mask")


def cpu_session(path: Path | str, threads: int = 2, spin: bool = False,
                providers: Sequence[str] = ("CPUExecutionProvider",)) -> ort.InferenceSession:
    """An onnxruntime session with `threads` intra-op threads, all graph optimisations on.

    spin=False (the default) stops the session's worker threads from busy-waiting
    after a run: each session owns its own thread pool, so with one session per
    block the idle pools would spin against the one that is working, and on a
    shared machine a spinning pool takes cores from everything else (measured:
    several times slower; see engine.model.timing). `providers`: CPU unless the
    caller chose a device (engine.runtime.sessions.select_device).
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} is missing")
    return ort.InferenceSession(str(path), session_options(threads, spin),
                                providers=list(providers))


def _feeds(x, sigma, text_emb, budget, known, mask) -> dict[str, np.ndarray]:  # noqa: ANN001
    arrays = (x, sigma, text_emb, budget, known, mask)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in zip(INPUT_NAMES, arrays,
                                                                        strict=True)}


class MonolithicDenoiser:
    """denoiser.onnx: a single graph at the layer count it was exported with."""

    def __init__(self, path: Path | str, threads: int = 2, spin: bool = False) -> None:
        self.session = cpu_session(path, threads, spin)

    def __call__(self, x: np.ndarray, sigma: np.ndarray, text_emb: np.ndarray,
                 budget: np.ndarray, known: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, _feeds(x, sigma, text_emb, budget, known, mask))[0]


class SplitDenoiser:
    """embed.onnx + block_{i}.onnx + final.onnx in `model_dir`; k chosen per call.

    exit_mode: which blocks a layer count runs ("reroute", "early_exit" or "ranked"); None
    reads it from the dit_config.json that export_split writes (reroute if there is none),
    as the ranked drop order always is.
    io_binding: pass the hidden state (B, L, D) and conditioning from graph to graph as
    onnxruntime values on the sessions' device instead of numpy arrays, so on a GPU
    they stay there between blocks and only x0 comes back; None = on when the first
    provider is CUDA (on the CPU the arrays are already host memory: no gain).
    """

    def __init__(self, model_dir: Path | str, threads: int = 2, spin: bool = False,
                 exit_mode: str | None = None,
                 providers: Sequence[str] = ("CPUExecutionProvider",),
                 io_binding: bool | None = None) -> None:
        model_dir = Path(model_dir)
        config = model_dir / "dit_config.json"
        saved = json.loads(config.read_text()) if config.exists() else {}
        self.exit_mode = exit_mode or saved.get("exit_mode", "reroute")
        self.depth = len(list(model_dir.glob("block_*.onnx")))
        self.drop_order: DropOrder = ()
        if self.exit_mode == "ranked":
            self.drop_order = check_drop_order(self.depth, saved.get("drop_order", ()))
        if self.depth == 0:
            raise FileNotFoundError(f"no block_*.onnx graphs in {model_dir}")
        self.embed = cpu_session(model_dir / "embed.onnx", threads, spin, providers)
        self.blocks = [cpu_session(model_dir / f"block_{i}.onnx", threads, spin, providers)
                       for i in range(self.depth)]
        self.final = cpu_session(model_dir / "final.onnx", threads, spin, providers)
        on_cuda = self.final.get_providers()[0] == "CUDAExecutionProvider"
        self.io_binding = on_cuda if io_binding is None else io_binding
        self.device = "cuda" if on_cuda else "cpu"  # where bound values live

    def route(self, n_blocks: int | None, sigma: float | None = None) -> list[int]:
        """Same rule as DiT.route (engine.model.layer_schedule.route)."""
        return route(self.depth, n_blocks, self.exit_mode, sigma, self.drop_order)

    def __call__(self, x: np.ndarray, sigma: np.ndarray, text_emb: np.ndarray,
                 budget: np.ndarray, known: np.ndarray, mask: np.ndarray,
                 n_blocks: int | None = None) -> np.ndarray:
        feeds = _feeds(x, sigma, text_emb, budget, known, mask)
        blocks = self.route(n_blocks, float(feeds["sigma"][0]))
        if self.exit_mode == "ranked" and n_blocks is not None:
            routes = [self.route(n_blocks, float(s)) for s in feeds["sigma"]]
            if any(r != blocks for r in routes):  # rows in different noise bands: one by one
                return np.concatenate([self(*(v[r : r + 1] for v in feeds.values()),
                                            n_blocks=n_blocks) for r in range(len(routes))])
        if self.io_binding:
            return self._bound(feeds, blocks)
        h, c, c_final = self.embed.run(None, feeds)  # (B, L, D), (B, D), (B, D)
        for i in blocks:
            h = self.blocks[i].run(None, {"h": h, "c": c})[0]  # (B, L, D)
        return self.final.run(None, {"h": h, "c_final": c_final, "x": feeds["x"],
                                     "sigma": feeds["sigma"]})[0]  # (B, C, T)

    def _bound(self, feeds: dict[str, np.ndarray], blocks: list[int]) -> np.ndarray:
        """The same evaluation with IO binding: h, c, c_final stay onnxruntime values on
        self.device from embed through the blocks to final; x0 (B, C, T) is copied out."""
        binding = self.embed.io_binding()
        for name, array in feeds.items():
            binding.bind_cpu_input(name, array)
        for out in self.embed.get_outputs():
            binding.bind_output(out.name, self.device)
        self.embed.run_with_iobinding(binding)
        h, c, c_final = binding.get_outputs()
        for i in blocks:
            block = self.blocks[i]
            binding = block.io_binding()
            binding.bind_ortvalue_input("h", h)
            binding.bind_ortvalue_input("c", c)
            binding.bind_output(block.get_outputs()[0].name, self.device)
            block.run_with_iobinding(binding)
            h = binding.get_outputs()[0]
        binding = self.final.io_binding()
        binding.bind_ortvalue_input("h", h)
        binding.bind_ortvalue_input("c_final", c_final)
        binding.bind_cpu_input("x", feeds["x"])
        binding.bind_cpu_input("sigma", feeds["sigma"])
        binding.bind_output(self.final.get_outputs()[0].name, "cpu")
        self.final.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]


def bind(runner: MonolithicDenoiser | SplitDenoiser, text_emb: np.ndarray, budget: np.ndarray,
         known: np.ndarray, mask: np.ndarray, n_blocks: int | None = None
         ) -> Callable[[np.ndarray, float], np.ndarray]:
    """`denoise(x, sigma)` for engine.edm's samplers, conditioning fixed.

    text_emb (B, 384), budget (B,), known (B, C, T), mask (B, 1, T); sigma is
    the sampler's Python float, broadcast over the batch. n_blocks needs the split runner.
    """
    batch = text_emb.shape[0]
    extra = {} if n_blocks is None else {"n_blocks": n_blocks}

    def denoise(x: np.ndarray, sigma: float) -> np.ndarray:
        sigmas = np.full((batch,), sigma, dtype=np.float32)
        return runner(x, sigmas, text_emb, budget, known, mask, **extra)

    return denoise
