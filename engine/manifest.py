"""Model-directory manifests: ONNX files plus ``manifest.json`` with their hashes.

A model directory is trusted only if its manifest parses, has a known format version,
is of the expected kind, and every listed file exists with the recorded SHA-256. Any
failure raises ``ManifestError`` naming the file. Kinds: "codec" (later: "text",
"dit", ...); kind-specific fields live at the top level next to the common ones.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class ManifestError(ValueError):
    """A model directory that must not be loaded."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(model_dir: Path, kind: str, files: list[str], **fields: Any) -> dict:
    """Hash ``files`` (relative to model_dir) and write manifest.json atomically."""
    model_dir = Path(model_dir)
    entries = {}
    for name in files:
        path = model_dir / name
        if not path.is_file():
            raise ManifestError(f"cannot write manifest: {path} does not exist")
        entries[name] = {"sha256": sha256(path), "bytes": path.stat().st_size}
    manifest = {"format_version": FORMAT_VERSION, "kind": kind, **fields, "files": entries}
    save_manifest(model_dir, manifest)
    return manifest


def save_manifest(model_dir: Path, manifest: dict) -> None:
    """Write an (already hashed) manifest, e.g. after adding benchmark figures."""
    path = Path(model_dir) / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, path)


def load_manifest(model_dir: Path, kind: str | None = None, verify: bool = True) -> dict:
    """Read and check a model directory's manifest; raise ManifestError naming the problem."""
    model_dir = Path(model_dir)
    path = model_dir / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{path} is missing: not a model directory")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ManifestError(f"{path} is not valid JSON: {e}") from e
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ManifestError(f"{path}: format_version {version!r}, expected {FORMAT_VERSION}")
    if kind is not None and manifest.get("kind") != kind:
        raise ManifestError(f"{path}: kind {manifest.get('kind')!r}, expected {kind!r}")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ManifestError(f"{path}: no 'files' entry")
    if verify:
        for name, entry in files.items():
            file = model_dir / name
            if not file.is_file():
                raise ManifestError(f"{file} is listed in {path} but missing")
            if sha256(file) != entry.get("sha256"):
                raise ManifestError(f"{file} does not match its sha256 in {path}: altered?")
    return manifest


def latent_stats_digest(stats: dict) -> str:
    """sha256 naming a codec's latent space by its per-channel mean and std.

    The same for a codec training run and its export, and it survives copying; a
    retrained encoder has other statistics, so models trained on different latent
    spaces cannot be paired by mistake.
    """
    payload = json.dumps({"mean": stats["mean"], "std": stats["std"]}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
