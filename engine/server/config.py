"""The server's settings: one frozen dataclass (the stream's own in engine.stream.config).

    cfg = ServerConfig(port=8765, control_token="s3cret", stream=StreamConfig(hop_seconds=2))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.stream.config import StreamConfig

WEB_ROOT = Path(__file__).resolve().parents[2] / "clients" / "web"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"  # loopback by default: pass --host 0.0.0.0 to serve a network
    port: int = 8765  # 0 = any free port (logged)
    model: Path | None = None  # exported model dir; None = engine.generate.default_model()
    device: str = "auto"  # auto | cpu | cuda
    decoder: str = "auto"  # codec decoder: auto (int8 on the CPU when shipped) | float | int8
    threads: int = 0  # onnxruntime intra-op threads; 0 = this machine's cores
    record: Path | None = None  # FLAC file the stream is recorded to
    control_token: str | None = None  # required for control and playback when set
    origins: tuple[str, ...] = ()  # browser origins allowed besides the page's own host
    block_frames: int = 4096  # sample frames per audio message (93 ms at 44.1 kHz)
    listener_queue_blocks: int = 32  # audio blocks a listener may lag before it is skipped
    listener_queue_texts: int = 256  # unsent JSON messages before a listener is closed
    max_skips: int = 3  # skips within skip_window seconds before closing with 4001
    skip_window: float = 30.0
    max_message_bytes: int = 65536  # larger client messages: close 1009
    messages_per_second: float = 20.0  # client message rate (token bucket)
    message_burst: int = 40
    flood_messages: int = 100  # dropped for rate within 10 s: close 1008
    max_auth_failures: int = 5  # wrong tokens before close 1008
    max_pending_controls: int = 16  # per connection, waiting for their ack
    send_buffer_bytes: int | None = 262144  # kernel send buffer per listener socket
    web_root: Path = WEB_ROOT
    stream: StreamConfig = field(default_factory=StreamConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in [0, 65535], got {self.port}")
        if self.block_frames < 64:
            raise ValueError(f"block_frames must be >= 64, got {self.block_frames}")
        if self.listener_queue_blocks < 1:
            raise ValueError("listener_queue_blocks must be >= 1")
        if self.control_token is not None and not self.control_token:
            raise ValueError("--control-token must not be empty")
