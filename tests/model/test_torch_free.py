import subprocess
import sys
from pathlib import Path


def test_serving_modules_import_without_torch():
    """The runtime path (text encoder, samplers, guidance, DiT runner) must not pull in torch."""
    code = ("import sys, engine.edm, engine.text, engine.model, engine.model.runner; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False,
                          cwd=Path(__file__).parents[2]).returncode == 0
