"""ONNX export of a small random-weight DiT: parity with PyTorch at other shapes than traced."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from engine.model.export import example_inputs, export_denoiser, export_split
from engine.model.runner import MonolithicDenoiser, SplitDenoiser

# (batch, frames): the export traced (2, 37); these differ in batch, length and parity.
SHAPES = [(1, 2), (1, 37), (3, 16), (2, 101), (4, 250)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, small_denoiser):
    out = tmp_path_factory.mktemp("dit_onnx")
    with warnings.catch_warnings():  # the exporter's axis-rename chatter
        warnings.simplefilter("ignore")
        export_denoiser(small_denoiser, out / "denoiser.onnx")
        export_split(small_denoiser, out / "split")
    return out


def reference(denoiser, args, n_blocks=None) -> np.ndarray:
    x, sigma, text, budget, known, mask = args
    with torch.no_grad():
        return denoiser(x, sigma, text_emb=text, budget=budget, known=known, mask=mask,
                        n_blocks=n_blocks).numpy()


@pytest.mark.parametrize(("batch", "frames"), SHAPES)
def test_monolithic_graph_matches_pytorch_at_any_batch_and_length(exported, small_denoiser,
                                                                  batch, frames):
    run = MonolithicDenoiser(exported / "denoiser.onnx", threads=1)
    args = example_inputs(small_denoiser, batch, frames)
    out = run(*(a.numpy() for a in args))
    assert out.shape == (batch, 8, frames)
    np.testing.assert_allclose(out, reference(small_denoiser, args), rtol=0, atol=2e-5)


@pytest.mark.parametrize("n_blocks", [None, 3, 2, 1])
@pytest.mark.parametrize(("batch", "frames"), [(1, 37), (3, 16), (2, 101)])
def test_per_block_graphs_match_pytorch_at_every_layer_count(exported, small_denoiser, batch,
                                                             frames, n_blocks):
    run = SplitDenoiser(exported / "split", threads=1)
    assert run.depth == 3
    args = example_inputs(small_denoiser, batch, frames)
    out = run(*(a.numpy() for a in args), n_blocks=n_blocks)
    np.testing.assert_allclose(out, reference(small_denoiser, args, n_blocks), rtol=0, atol=2e-5)


def test_split_runner_rejects_layer_counts_outside_one_to_depth(exported, small_denoiser):
    run = SplitDenoiser(exported / "split", threads=1)
    args = [a.numpy() for a in example_inputs(small_denoiser, 1, 8)]
    with pytest.raises(ValueError, match=r"\[1, 3\]"):
        run(*args, n_blocks=0)


def test_split_runner_needs_block_graphs(tmp_path):
    with pytest.raises(FileNotFoundError, match="block_"):
        SplitDenoiser(tmp_path)


def test_sampling_through_onnx_in_numpy_matches_sampling_through_pytorch(exported,
                                                                        small_denoiser):
    """The serving path end to end: numpy sampler + CFG + onnxruntime vs the same in torch."""
    from engine.edm import classifier_free_guidance, karras_sigmas, sample_dpmpp_2m
    from engine.model.runner import bind

    _, _, text, budget, known, mask = example_inputs(small_denoiser, 2, 21)
    null = small_denoiser.net.null_text.detach().expand_as(text)
    noise = torch.randn(2, 8, 21, generator=torch.Generator().manual_seed(3))
    sigmas = karras_sigmas(4, 0.002, 80.0)

    def torch_denoiser(text_emb):
        def denoise(x, sigma):
            with torch.no_grad():
                return small_denoiser(x, torch.full((2,), sigma), text_emb=text_emb,
                                      budget=budget, known=known, mask=mask, n_blocks=2)
        return denoise

    ref = sample_dpmpp_2m(classifier_free_guidance(torch_denoiser(text), torch_denoiser(null),
                                                   3.0), noise * 80.0, sigmas)
    run = SplitDenoiser(exported / "split", threads=1)
    arrays = [a.numpy() for a in (budget, known, mask)]
    cond = bind(run, text.numpy(), *arrays, n_blocks=2)
    uncond = bind(run, null.numpy(), *arrays, n_blocks=2)
    out = sample_dpmpp_2m(classifier_free_guidance(cond, uncond, 3.0), noise.numpy() * 80.0,
                          sigmas)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, ref.numpy(), rtol=0, atol=1e-3)


def test_every_block_graph_is_block_0s_graph_with_its_own_weights(exported, small_denoiser):
    import onnx
    from onnx import numpy_helper

    graphs = [onnx.load(str(exported / "split" / f"block_{i}.onnx")).graph for i in range(3)]
    for i, graph in enumerate(graphs):
        assert [n.op_type for n in graph.node] == [n.op_type for n in graphs[0].node]
        weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        for name, value in small_denoiser.net.blocks[i].state_dict().items():
            np.testing.assert_array_equal(weights[f"block.{name}"], value.numpy())


def test_the_learned_null_prompt_is_saved_for_the_runtime(tmp_path, small_denoiser):
    from engine.model.export import save_null_text

    saved = np.load(save_null_text(small_denoiser, tmp_path))
    assert saved.dtype == np.float32 and saved.shape == (384,)
    np.testing.assert_array_equal(saved, small_denoiser.net.null_text.detach().numpy())
