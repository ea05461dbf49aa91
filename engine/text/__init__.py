"""Text conditioning: all-MiniLM-L6-v2 sentence embeddings, prompt blends, the CFG null prompt.

Serving imports only `TextEncoder` and `blend_embeddings` (numpy, tokenizers,
onnxruntime); the export (`python -m engine.text export --out DIR`) needs torch.
"""

from engine.text.blend import blend_embeddings, normalise_weights
from engine.text.encoder import ModelDirError, TextEncoder, check_model_dir

__all__ = [
    "ModelDirError",
    "TextEncoder",
    "blend_embeddings",
    "check_model_dir",
    "normalise_weights",
]
