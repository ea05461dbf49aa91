"""engine.bench.text_use on the micro base run: three errors per sigma, finite, and the gap."""

from __future__ import annotations

import math

from engine.bench.text_use import SIGMAS, text_use
from tests.train import base_support


def test_text_use_reports_right_shuffled_and_null_errors(tmp_path_factory) -> None:
    run = base_support.base_run(tmp_path_factory)
    result = text_use(run, clips=2, frames=16)
    assert result["step"] == 3 and [r["sigma"] for r in result["rows"]] == list(SIGMAS)
    for r in result["rows"]:
        assert all(math.isfinite(r[k]) and r[k] > 0 for k in ("right", "shuffled", "null"))
        assert math.isclose(r["gap_shuffled_pct"], 100 * (r["shuffled"] / r["right"] - 1))
