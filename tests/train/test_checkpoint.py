"""train.checkpoint: atomic checkpoints, strict loading, export and load_backbone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from train.checkpoint import (
    export_encoder,
    find_checkpoint,
    latest_checkpoint,
    load_backbone,
    load_checkpoint,
    save_checkpoint,
)
from train.models import create_model


@pytest.fixture
def saved(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    model = create_model("mae_hivit_nano", img_size=64)
    config = {"model": model.model_name, "model_kwargs": model.model_kwargs}
    ckpt = save_checkpoint(tmp_path / "ck", 3, model, {"x": torch.arange(3)}, config)
    return model, ckpt


def test_save_keeps_the_newest_and_points_latest_at_it(tmp_path: Path) -> None:
    model = create_model("mae_hivit_nano", img_size=64)
    config = {"model": model.model_name, "model_kwargs": model.model_kwargs}
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, model, {}, config, keep=2)
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-00000002", "step-00000003"]
    assert (tmp_path / "latest").read_text() == "step-00000003"
    assert not list(tmp_path.glob(".*tmp*"))
    # a half-written newer folder (no state.pt) is ignored
    (tmp_path / "step-00000009").mkdir()
    (tmp_path / "latest").unlink()
    assert latest_checkpoint(tmp_path).name == "step-00000003"
    assert find_checkpoint(tmp_path).name == "step-00000003"


def test_round_trip_and_config_mismatch(saved) -> None:
    model, ckpt = saved
    fresh = create_model("mae_hivit_nano", img_size=64)
    state = load_checkpoint(ckpt, fresh)
    assert state["step"] == 3 and torch.equal(state["x"], torch.arange(3))
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v)
    other = create_model("mae_hivit_nano", img_size=64, msff=False)
    with pytest.raises(ValueError, match="model_kwargs"):
        load_checkpoint(ckpt, other)


def test_pickled_state_is_refused(saved) -> None:
    _, ckpt = saved

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"evil": Evil()}, ckpt / "state.pt")
    with pytest.raises(ValueError, match="unreadable training state"):
        load_checkpoint(ckpt, create_model("mae_hivit_nano", img_size=64))


def test_export_then_load_backbone_gives_the_same_features(saved, tmp_path: Path) -> None:
    model, ckpt = saved
    out = export_encoder(ckpt, tmp_path / "export")
    enc, cfg = load_backbone(out)
    assert cfg["model"] == "hivit_nano" and cfg["img_size"] == 64
    assert cfg["format_version"] == 2
    # the authors' hifeat latent: stage-1 unit, stage-2 unit and main token, 7 x 128 wide
    assert cfg["num_features"] == enc.num_features == 7 * 128
    x = torch.rand(2, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(enc.forward_features(x), model.encoder.forward_features(x))
    assert load_backbone(out / "encoder.safetensors")[1] == cfg


def test_load_backbone_names_the_problem(saved, tmp_path: Path) -> None:
    _, ckpt = saved
    out = export_encoder(ckpt, tmp_path / "export")
    cfg = json.loads((out / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="not found"):
        load_backbone(tmp_path / "missing")
    (out / "config.json").write_text(json.dumps({**cfg, "model": "hivit_tiny"}))
    with pytest.raises(ValueError, match="shape mismatch|missing"):
        load_backbone(out)
    (out / "config.json").write_text(json.dumps({**cfg, "model": "nope"}))
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        load_backbone(out)
    (out / "config.json").write_text(json.dumps({**cfg, "model_kwargs": {"img_size": 96}}))
    with pytest.raises(ValueError, match="img_size 64 disagrees"):
        load_backbone(out)
    (out / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_backbone(out)
    (out / "config.json").write_text(json.dumps(cfg))
    save_file({"x": torch.zeros(1)}, str(out / "encoder.safetensors"))
    with pytest.raises(ValueError, match="missing"):
        load_backbone(out)
    (out / "encoder.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="unreadable safetensors"):
        load_backbone(out)


def test_version_1_exports_load_under_their_new_names(tmp_path: Path) -> None:
    """Before format 2, ``hivit_nano`` named qpt's variant, now ``qpt_hivit_nano``."""
    model = create_model("mae_qpt_hivit_nano", img_size=64).eval()
    ckpt = save_checkpoint(
        tmp_path / "ckpt",
        1,
        model,
        {},
        {"model": model.model_name, "model_kwargs": model.model_kwargs},
    )
    out = export_encoder(ckpt, tmp_path / "export")
    cfg = json.loads((out / "config.json").read_text())
    old = {k: v for k, v in cfg.items() if k != "format_version"} | {"model": "hivit_nano"}
    (out / "config.json").write_text(json.dumps(old))
    enc, read = load_backbone(out)
    assert enc.model_name == read["model"] == "qpt_hivit_nano" and read["format_version"] == 2
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(enc.forward_features(x), model.encoder.forward_features(x))
    # a version-1 folder whose weights fit no model says how to get a loadable one
    (out / "config.json").write_text(json.dumps(old | {"model": "hivit_tiny"}))
    with pytest.raises(ValueError, match="version-1 export.*qpt pretrain export.*qpt convert"):
        load_backbone(out)
    (out / "config.json").write_text(json.dumps(cfg | {"format_version": 99}))
    with pytest.raises(ValueError, match="format 99 is newer"):
        load_backbone(out)
