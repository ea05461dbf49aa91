"""The live stream core: hops of sliding-window generation into a PCM ring. No I/O.

    from engine.stream.config import StreamConfig
    from engine.stream.engine import StreamEngine

config (sizes), latent_ring, pcm_ring, crossfade, noise (per-hop seeds, variation),
controls (validation + queue), prompt_glide, governor (adaptive steps), clock (when
blocks are due), engine (the worker). The server (engine.server) adds sockets.
"""
