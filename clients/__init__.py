"""Clients of the live engine: `python -m clients.listen` (Python), clients/web (browser)."""
