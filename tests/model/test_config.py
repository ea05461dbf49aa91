import dataclasses

import pytest

from engine.model.config import PRESETS, DiTConfig, preset


def test_presets_are_named_frozen_configs():
    assert set(PRESETS) >= {"tiny", "small", "base"}
    tiny = preset("tiny")
    assert (tiny.width, tiny.depth, tiny.heads, tiny.latent_channels) == (256, 8, 4, 32)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny.width = 512


def test_preset_overrides_fields_and_rejects_unknown_names():
    assert preset("tiny", latent_channels=64).latent_channels == 64
    with pytest.raises(ValueError, match="tiny"):
        preset("huge")


def test_config_rejects_widths_the_heads_cannot_split():
    with pytest.raises(ValueError, match="divisible"):
        DiTConfig(width=250, heads=4)
    with pytest.raises(ValueError, match="even"):
        DiTConfig(width=12, heads=4)


def test_model_input_carries_noisy_known_and_mask_channels():
    assert DiTConfig(latent_channels=32).in_channels == 65


def test_trained_presets_scale_the_text_and_old_configs_load_unscaled() -> None:
    from engine.model.config import DiTConfig, preset

    assert preset("tiny").text_scale == pytest.approx(384**0.5)
    old = preset("tiny").to_dict()
    del old["text_scale"]  # a config saved before the field existed
    assert DiTConfig(**old).text_scale == 1.0
