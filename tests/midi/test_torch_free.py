import subprocess
import sys
from pathlib import Path


def test_the_midi_layer_imports_without_torch():
    code = ("import sys, engine.midi.input, engine.midi.router, engine.midi.jack, "
            "engine.midi.__main__; sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False,
                          cwd=Path(__file__).parents[2]).returncode == 0
