"""The "untrained network" reference: an exported model with its learned structure destroyed.

    path = untrained_copy(Path("exported/base"), Path("/tmp/untrained"), seed=0)
    ServedModel.load(path, text_dir=..., codec_dir=...)   # the original's text and codec

Every learned tensor of the DiT graphs (ONNX initializers named *.weight or *.bias)
has its entries randomly permuted, each tensor on its own; fixed buffers (the
sinusoidal frequency tables) are kept. The network keeps its architecture, its
per-tensor weight distributions (so activations keep their scale, which a fresh
adaLN-Zero initialisation would not: it outputs exactly zero) and the text encoder,
codec and sampler; only what training put in the arrangement of the weights is
gone. The manifest's file hashes are rewritten for the permuted graphs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from engine.manifest import load_manifest, save_manifest, sha256

LEARNED = (".weight", ".bias")


def permute_graph(path: Path, rng: np.random.Generator) -> int:
    """Permute each learned float initializer of an ONNX file in place; returns how many."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    changed = 0
    for init in model.graph.initializer:
        if not init.name.endswith(LEARNED) or init.data_type != onnx.TensorProto.FLOAT:
            continue
        value = numpy_helper.to_array(init)
        shuffled = rng.permutation(value.ravel()).reshape(value.shape)
        init.CopyFrom(numpy_helper.from_array(shuffled.astype(value.dtype), init.name))
        changed += 1
    onnx.save(model, str(path))
    return changed


def untrained_copy(model_dir: Path, out_dir: Path, seed: int = 0) -> Path:
    """Copy model_dir to out_dir with every DiT graph's learned tensors permuted."""
    manifest = load_manifest(model_dir, kind="model")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(model_dir, out_dir)
    rng = np.random.default_rng(seed)
    changed = 0
    for name in sorted(manifest["files"]):
        if name.endswith(".onnx"):
            changed += permute_graph(out_dir / name, rng)
            manifest["files"][name] = {"sha256": sha256(out_dir / name),
                                       "bytes": (out_dir / name).stat().st_size}
    if changed == 0:
        raise ValueError(f"{model_dir}: no *.weight / *.bias initializers found to permute")
    manifest["name"] = f"{manifest.get('name', model_dir.name)}-untrained"
    manifest["untrained"] = {"permuted_tensors": changed, "seed": seed,
                             "from": str(Path(model_dir).resolve())}
    save_manifest(out_dir, manifest)
    return out_dir
