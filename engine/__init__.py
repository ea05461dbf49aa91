"""presto-live: a streaming real-time text-to-music engine built on Presto."""

__version__ = "0.1.0"
