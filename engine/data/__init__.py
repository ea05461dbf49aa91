"""Training corpus: music21's offline works rendered to 44.1 kHz audio with captions.

Pipeline: music21 score -> note events -> General MIDI file -> FluidSynth -> FLAC clips,
plus one metadata line per clip. `python -m engine.data build --out DIR` runs it.
"""
