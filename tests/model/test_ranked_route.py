"""Ranked routes: the blocks that matter least at a noise band are dropped first.

The rule (engine.model.layer_schedule.route), the DiT running it per row, and the ONNX
runner running it from the drop order export_split writes beside the graphs."""

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.edm.precond import EDMPrecond
from engine.model.config import DiTConfig
from engine.model.dit import DiT
from engine.model.layer_schedule import band_order, check_drop_order, route
from tests.model.conftest import SMALL, inputs, randomised

ORDER = ((10.0, (1, 0)), (0.0, (0, 1)))  # depth 3: noisy drops block 1 first, clean block 0


def ranked(net: DiT) -> DiT:
    twin = DiT(replace(net.cfg, exit_mode="ranked", drop_order=ORDER))
    twin.load_state_dict(net.state_dict())
    return twin.eval()


def test_the_route_drops_the_bands_least_important_blocks_and_keeps_the_last() -> None:
    order = ((10.0, (4, 6, 1, 0, 2, 3, 5)), (1.5, (1, 2, 0, 3, 4, 5, 6)),
             (0.0, (3, 4, 2, 5, 6, 0, 1)))
    assert route(8, 6, "ranked", 20.0, order) == [0, 1, 2, 3, 5, 7]
    assert route(8, 6, "ranked", 3.0, order) == [0, 3, 4, 5, 6, 7]
    assert route(8, 6, "ranked", 0.1, order) == [0, 1, 2, 5, 6, 7]
    assert route(8, 8, "ranked", None, order) == list(range(8))  # full depth needs no sigma
    assert route(8, 1, "ranked", 0.1, order) == [7]
    for sigma in (80.0, 10.0, 9.99, 1.5, 0.002):
        for k in range(1, 8):  # nested: a smaller k drops a superset
            assert set(route(8, k, "ranked", sigma, order)) <= set(route(8, k + 1, "ranked",
                                                                           sigma, order))
            assert len(route(8, k, "ranked", sigma, order)) == k
    assert band_order(order, 10.0) == order[0][1] and band_order(order, 9.99) == order[1][1]
    with pytest.raises(ValueError, match="pass sigma"):
        route(8, 6, "ranked", None, order)


@pytest.mark.parametrize("bad, match", [
    ((), "needs a drop_order"),
    (((1.0, (0, 1)),), "end at 0"),
    (((0.0, (0, 1)), (1.0, (0, 1))), "fall strictly"),
    (((0.0, (0, 2)),), "not an order of blocks 0..1"),
    (((0.0, (0,)),), "not an order"),
    ("nonsense", "drop_order must be"),
])
def test_bad_drop_orders_are_refused_by_name(bad, match) -> None:
    with pytest.raises(ValueError, match=match):
        check_drop_order(3, bad)


def test_the_config_takes_json_lists_and_keeps_the_order_to_ranked_mode() -> None:
    cfg = DiTConfig(depth=3, width=64, heads=2, exit_mode="ranked",
                    drop_order=[[10, [1, 0]], [0, [0, 1]]])
    assert cfg.drop_order == ORDER
    assert DiTConfig(**json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="drop_order is for exit_mode 'ranked'"):
        DiTConfig(depth=3, width=64, heads=2, drop_order=ORDER)


def test_the_dit_runs_each_row_through_its_own_bands_route() -> None:
    net = ranked(randomised())
    x, _, text, budget, known, mask = inputs(batch=3)
    c_noise = torch.log(torch.tensor([20.0, 0.5, 30.0])) / 4  # rows in bands 0, 1, 0
    with torch.no_grad():
        out = net(x, c_noise, text, budget, known, mask, n_blocks=2)
        for r, drop in enumerate((1, 0, 1)):  # k = 2 of 3: drop the band's first block
            s = slice(r, r + 1)
            h, c, c_final = net.embed(x[s], c_noise[s], text[s], budget[s], known[s], mask[s])
            cos, sin = net.rope(h)
            for i in (i for i in range(SMALL.depth) if i != drop):
                h = net.blocks[i](h, c, cos, sin)
            torch.testing.assert_close(out[s], net.head(h, c_final, x.shape[2]))
        full = net(x, c_noise, text, budget, known, mask)
        plain = randomised()(x, c_noise, text, budget, known, mask)
    torch.testing.assert_close(full, plain)  # all blocks: the same network


def test_the_onnx_runner_reads_the_drop_order_and_matches_pytorch(tmp_path) -> None:
    from engine.model.export import example_inputs, export_split
    from engine.model.runner import SplitDenoiser

    warnings.simplefilter("ignore")
    model = EDMPrecond(ranked(randomised()), sigma_data=0.5).eval()
    export_split(model, tmp_path)
    assert json.loads((tmp_path / "dit_config.json").read_text())["exit_mode"] == "ranked"
    run = SplitDenoiser(tmp_path, threads=1)
    assert run.drop_order == ORDER
    args = example_inputs(model, batch=2, frames=13)
    for sigmas in ((20.0, 20.0), (0.5, 0.5), (20.0, 0.5)):  # the last: one row per band
        sigma = torch.tensor(sigmas)
        for k in (1, 2, SMALL.depth):
            with torch.no_grad():
                ref = model(args[0], sigma, text_emb=args[2], budget=args[3], known=args[4],
                            mask=args[5], n_blocks=k).numpy()
            feeds = [a.numpy() for a in args]
            feeds[1] = sigma.numpy()
            assert np.abs(run(*feeds, n_blocks=k) - ref).max() < 1e-4
    assert run.route(2, 20.0) == [0, 2] and run.route(2, 0.5) == [1, 2]
