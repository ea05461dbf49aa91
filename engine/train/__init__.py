"""Training entry points (PyTorch). Run ``python -m engine.train --help``."""
