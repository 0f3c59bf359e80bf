"""Backbones from an export folder, random init, and timm weights in a local file."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from bench.backbones import parse_backbone, random_init_like


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    from train.models import create_backbone

    folder = tmp_path_factory.mktemp("export")
    torch.manual_seed(5)
    model = create_backbone("hivit_nano")
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        str(folder / "encoder.safetensors"),
    )
    (folder / "config.json").write_text(
        json.dumps(
            {"format_version": 2, "model": "hivit_nano", "model_kwargs": {}, "img_size": 224}
        )
    )
    return folder


def test_export_folder_loads_its_weights_and_random_twin_differs(export_dir):
    b = parse_backbone(str(export_dir))
    assert b.name == "pretrained" and b.num_features == 128 and b.img_size == 224
    twin = random_init_like(b, seed=1)
    assert twin.name == "random_init" and twin.arch["model"] == "hivit_nano"
    mine, theirs = b.model.state_dict(), twin.model.state_dict()
    assert mine.keys() == theirs.keys()
    assert any(not torch.equal(mine[k], theirs[k]) for k in mine)
    x = torch.rand(2, 3, 224, 224)
    assert b.features(x).shape == (2, 128)


def test_config_that_does_not_match_the_weights_names_the_file(export_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "encoder.safetensors").write_bytes((export_dir / "encoder.safetensors").read_bytes())
    (bad / "config.json").write_text(json.dumps({"model": "hivit_tiny", "model_kwargs": {}}))
    with pytest.raises(ValueError, match="encoder.safetensors"):
        parse_backbone(str(bad))


def test_handcrafted_floor_backbone():
    b = parse_backbone("handcrafted")
    dark, bright = torch.full((1, 3, 64, 64), 0.2), torch.full((1, 3, 64, 64), 0.8)
    feats = b.features(torch.cat([dark, bright]))
    assert feats.shape == (2, b.num_features) and feats[1, 0] > feats[0, 0]  # brightness


def test_missing_backbone_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="random:NAME"):
        parse_backbone(str(tmp_path / "nope"))


def test_timm_model_from_a_local_safetensors_file(tmp_path):
    import timm

    torch.manual_seed(0)
    ref = timm.create_model("resnet10t", pretrained=False, num_classes=0)
    save_file(ref.state_dict(), str(tmp_path / "w.safetensors"))
    b = parse_backbone(f"timm:resnet10t={tmp_path / 'w.safetensors'}")
    assert torch.equal(b.model.inner.conv1[0].weight, ref.conv1[0].weight)
    x = torch.rand(2, 3, 64, 64)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    assert torch.allclose(b.features(x), ref.eval()((x - mean) / std), atol=1e-5)
    save_file({"fc.weight": torch.zeros(2, 2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="do not match timm model"):
        parse_backbone(f"timm:resnet10t={tmp_path / 'other.safetensors'}")


def test_open_clip_image_tower_from_a_local_file(tmp_path, monkeypatch):
    import open_clip

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ref, _, _ = open_clip.create_model_and_transforms("ViT-S-32", pretrained=None)
    save_file(
        {k: v.contiguous() for k, v in ref.state_dict().items()}, str(tmp_path / "w.safetensors")
    )
    b = parse_backbone(f"open_clip:ViT-S-32={tmp_path / 'w.safetensors'}")
    assert b.num_features == 384 and b.img_size == 224
    assert torch.equal(b.model.inner.conv1.weight, ref.visual.conv1.weight)
    twin = random_init_like(b)
    assert not torch.equal(twin.model.inner.conv1.weight, ref.visual.conv1.weight)
