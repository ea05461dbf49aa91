"""A codec training run rebuilt from an exported codec directory.

Checkpoints stay out of git, so on a fresh machine the only copy of the shipped codec is
its ONNX export (exported/codec). Training a new decoder against the shipped encoder (the
latent space every diffusion model here was trained in) starts from that export:

    python -m engine.train import-codec --model exported/codec --out RUN

writes RUN/checkpoint.pt (step 0, no optimiser state), RUN/config.json and
RUN/latent_stats.json (the manifest's, unchanged), after checking that the rebuilt
PyTorch codec reproduces both ONNX graphs.

The exporter keeps convolution and norm weights under their PyTorch names but stores a
linear layer's weight transposed under a generated name (``val_N``) feeding a MatMul whose
result is added to the layer's named bias; that pattern gives the name back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from engine.codec.autoencoder import Autoencoder
from engine.codec.config import CodecConfig
from engine.export.codec import check_parity
from engine.manifest import ManifestError, load_manifest
from engine.train.checkpoint import save_atomic, write_json_atomic


def graph_weights(path: Path, prefix: str) -> dict[str, np.ndarray]:
    """Named parameters of one exported graph, linear weights recovered (out, in).

    ``prefix`` is prepended to every name (the encoder graph's names lack "encoder.").
    """
    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    found = {prefix + k: v for k, v in inits.items() if not k.startswith("val_")}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        weight = inits[node.input[1]]
        adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
        biases = [i for n in adds for i in n.input if i.endswith(".bias") and i in inits]
        if len(biases) != 1:
            raise ValueError(f"{path.name}: cannot name the linear weight {node.input[1]}")
        found[prefix + biases[0][: -len(".bias")] + ".weight"] = weight.T
    return found


def exported_state_dict(model_dir: Path, cfg: CodecConfig) -> dict[str, torch.Tensor]:
    """The Autoencoder state dict held by encoder.onnx and decoder.onnx.

    Raises ValueError naming any parameter that is missing or has the wrong shape.
    """
    found = graph_weights(model_dir / "encoder.onnx", "encoder.")
    found |= graph_weights(model_dir / "decoder.onnx", "")
    expected = Autoencoder(cfg).state_dict()
    missing = [k for k in expected if k not in found]
    if missing:
        raise ValueError(f"{model_dir}: the ONNX graphs lack {missing[:5]} ({len(missing)} in all)")
    state = {}
    for key, ref in expected.items():
        value = found[key]
        if value.size != ref.numel():
            raise ValueError(
                f"{model_dir}: {key} has shape {value.shape}, expected {tuple(ref.shape)}"
            )
        state[key] = torch.from_numpy(np.array(value, copy=True)).reshape(ref.shape).to(ref.dtype)
    return state


def main(model_dir: Path, out: Path) -> Path:
    """Rebuild the codec of ``model_dir`` as a training run in ``out``; returns out."""
    try:
        manifest = load_manifest(model_dir, "codec")
    except ManifestError as exc:
        raise SystemExit(f"import-codec: {exc}") from None
    ckpt = out / "checkpoint.pt"
    if ckpt.exists():
        raise SystemExit(f"import-codec: {ckpt} exists: choose another --out")
    cfg = CodecConfig.from_dict(manifest["config"])
    model = Autoencoder(cfg)
    model.load_state_dict(exported_state_dict(model_dir, cfg))
    model.eval()
    parity = check_parity(model, model_dir)  # raises when the rebuild differs from the graphs
    out.mkdir(parents=True, exist_ok=True)
    training = manifest.get("training", {})
    source = {"imported_from": str(model_dir)}
    write_json_atomic({"codec": cfg.to_dict()} | source, out / "config.json")
    write_json_atomic(dict(manifest["latent_stats"]) | source, out / "latent_stats.json")
    save_atomic(
        {
            "config": cfg.to_dict(),
            "train_config": None,
            "model": model.state_dict(),
            "optimizer": None,
            "step": 0,
            "wall_s": 0.0,
            "torch_rng": torch.get_rng_state(),
            "data": training.get("data"),
            "imported_from": str(model_dir),
            "parity": parity,
        },
        ckpt,
    )
    print(f"import-codec: {model_dir} -> {ckpt} (ONNX parity {parity['max_abs_error']:.1e})")
    return out
