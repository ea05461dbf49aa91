"""Presto-L in the DiT: budget conditioning, reroute vs early exit, and the ONNX runner."""

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.edm.precond import EDMPrecond
from engine.model.config import DiTConfig
from engine.model.dit import DiT
from tests.model.conftest import SMALL, inputs, randomised


def early_exit_twin(net: DiT) -> DiT:
    """The same weights under exit_mode early_exit."""
    twin = DiT(replace(net.cfg, exit_mode="early_exit"))
    twin.load_state_dict(net.state_dict())
    return twin.eval()


def test_exit_mode_is_a_validated_config_field():
    assert DiTConfig().exit_mode == "reroute"
    with pytest.raises(ValueError, match="exit_mode"):
        DiTConfig(exit_mode="skip")


def test_changing_the_budget_changes_the_output(small_dit):
    x, c_noise, text, _, known, mask = inputs()
    with torch.no_grad():
        a = small_dit(x, c_noise, text, torch.full((2,), 1.0), known, mask)
        b = small_dit(x, c_noise, text, torch.full((2,), 0.5), known, mask)
    assert (a - b).abs().max() > 1e-4


def test_the_budget_reaches_the_final_layer_even_when_no_block_sees_it(small_dit):
    x, c_noise, text, _, known, mask = inputs()
    net = randomised()
    with torch.no_grad():
        for block in net.blocks:  # blocks become the identity: only the final adaLN is left
            block.adaLN_modulation[-1].weight.zero_()
            block.adaLN_modulation[-1].bias.zero_()
        a = net(x, c_noise, text, torch.full((2,), 1.0), known, mask)
        b = net(x, c_noise, text, torch.full((2,), 0.3), known, mask)
    assert (a - b).abs().max() > 1e-4


def test_budget_one_with_all_blocks_is_the_base_forward_in_both_exit_modes(small_dit):
    x, c_noise, text, _, known, mask = inputs()
    ones = torch.ones(2)
    twin = early_exit_twin(small_dit)
    with torch.no_grad():
        base = small_dit(x, c_noise, text, ones, known, mask)  # how base training calls it
        for net in (small_dit, twin):
            out = net(x, c_noise, text, ones, known, mask, n_blocks=SMALL.depth)
            torch.testing.assert_close(out, base, rtol=0, atol=0)


@pytest.mark.parametrize("k", range(1, SMALL.depth + 1))
def test_reroute_and_early_exit_both_run_at_every_k_and_differ_below_full_depth(small_dit, k):
    args = inputs()
    twin = early_exit_twin(small_dit)
    with torch.no_grad():
        reroute = small_dit(*args, n_blocks=k)
        early = twin(*args, n_blocks=k)
    assert torch.isfinite(reroute).all() and torch.isfinite(early).all()
    assert twin.route(k) == list(range(k))
    if k < SMALL.depth:
        assert (reroute - early).abs().max() > 1e-4
    else:
        torch.testing.assert_close(reroute, early, rtol=0, atol=0)


def test_early_exit_is_the_first_k_blocks_then_the_final_layer(small_dit):
    twin = early_exit_twin(small_dit)
    x, c_noise, text, budget, known, mask = inputs()
    with torch.no_grad():
        h, c, c_final = twin.embed(x, c_noise, text, budget, known, mask)
        cos, sin = twin.rope(h)
        for i in range(2):
            h = twin.blocks[i](h, c, cos, sin)
        manual = twin.head(h, c_final, x.shape[2])
        torch.testing.assert_close(twin(x, c_noise, text, budget, known, mask, n_blocks=2),
                                   manual)


def test_split_onnx_runner_follows_the_exit_mode(tmp_path):
    from engine.model.export import example_inputs, export_split
    from engine.model.runner import SplitDenoiser

    warnings.simplefilter("ignore")
    net = randomised()
    export_split(EDMPrecond(net).eval(), tmp_path)  # the graphs do not depend on the mode
    early = EDMPrecond(early_exit_twin(net)).eval()
    args = example_inputs(early, batch=2, frames=13)
    run = SplitDenoiser(tmp_path, threads=1, exit_mode="early_exit")
    for k in (1, 2, SMALL.depth):
        with torch.no_grad():
            ref = early(*args[:2], text_emb=args[2], budget=args[3], known=args[4],
                        mask=args[5], n_blocks=k).numpy()
        out = run(*[a.numpy() for a in args], n_blocks=k)
        assert np.abs(out - ref).max() < 1e-4
    assert run.route(2) == [0, 1]
    # Without an explicit mode the runner reads the one export_split wrote beside the graphs.
    config = tmp_path / "dit_config.json"
    assert json.loads(config.read_text())["exit_mode"] == "reroute"
    assert SplitDenoiser(tmp_path, threads=1).route(2) == [0, SMALL.depth - 1]
    config.write_text(json.dumps(early.net.cfg.to_dict()))
    assert SplitDenoiser(tmp_path, threads=1).route(2) == [0, 1]
