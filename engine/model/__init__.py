"""The diffusion transformer (DiT) over latent frames, its presets and its ONNX export.

This package's import is torch-free (only the configs): the network is in
`engine.model.dit`, the export in `engine.model.export` (both need torch), and
the onnxruntime runner of the per-block graphs in `engine.model.runner` (no torch).
"""

from engine.model.config import PRESETS, DiTConfig, preset

__all__ = ["PRESETS", "DiTConfig", "preset"]
