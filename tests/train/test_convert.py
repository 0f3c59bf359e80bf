"""``qpt convert`` and :mod:`train.convert`: authors' / timm keys -> qpt export folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from qpt.cli import main
from train.checkpoint import load_backbone
from train.convert import convert_state_dict, read_state_dict, to_authors_state_dict
from train.models import create_model, list_models, random_masking

from .reference import TOLERANCE, load_reference, max_abs


def _convert(capsys, *args: str) -> tuple[int, str]:
    code = main(["convert", *map(str, args)])
    return code, capsys.readouterr().err.strip()


def test_supervised_hivit_export_gives_the_authors_pooled_features(tmp_path, capsys) -> None:
    """A ``.pth`` under ``{"model": {"module." + key}}`` -> export -> bench's loader."""
    ref = load_reference("hivit_backbone")
    src = tmp_path / "hivit.pth"
    torch.save({"model": {f"module.{k}": v for k, v in ref.state.items()}}, src)
    code, err = _convert(capsys, src, "--from", "hivit", "-o", tmp_path / "enc")
    assert code == 0, err
    from bench.backbones import parse_backbone

    backbone = parse_backbone(str(tmp_path / "enc"))
    t, state, cfg = ref.tensors, ref.state, ref.config
    # the authors' fc_norm(forward_features(normalized x).mean(1)), from their outputs
    expected = F.layer_norm(
        t["out.tokens"].mean(1),
        (cfg["embed_dim"],),
        state["fc_norm.weight"],
        state["fc_norm.bias"],
        ref.meta["layernorm_eps"],
    )
    assert max_abs(backbone.features(t["input.rgb01"]), expected) < TOLERANCE
    config = json.loads((tmp_path / "enc" / "config.json").read_text())
    assert config["format_version"] == 2 and config["mae"] is None
    assert config["source"]["dropped_keys"] == ["head.bias", "head.weight"]


def test_hivit_mae_export_holds_encoder_and_full_mae(tmp_path, capsys) -> None:
    ref = load_reference("hivit_mae")
    src = tmp_path / "mae.safetensors"
    save_file(ref.state, str(src))
    out = tmp_path / "enc"
    code, err = _convert(capsys, src, "--from", "hivit-mae", "-o", out, "-s", "decoder_heads=4")
    assert code == 0, err
    enc, config = load_backbone(out)
    t = ref.tensors
    with torch.no_grad():
        latent = enc.forward_latent(t["input.rgb01"], t["mask.ids_keep"])
        assert max_abs(latent, t["out.latent"]) < TOLERANCE
        # the backbone's features: the pooled normalised (7C) tokens
        x = t["input.rgb01"]
        assert torch.allclose(enc.forward_features(x), enc.forward_tokens(x).mean(1))
    assert config["mae"]["model"] == "mae_hivit_nano" and (out / "mae.safetensors").is_file()


def test_missing_unexpected_and_unreadable_are_one_line_exit_2(tmp_path, capsys) -> None:
    state = to_authors_state_dict(create_model("hivit_nano", img_size=64))
    state["extra.weight"] = torch.zeros(1)
    del state["blocks.7.norm1.weight"]
    src = tmp_path / "bad.pth"
    torch.save(state, src)
    code, err = _convert(capsys, src, "--from", "hivit", "-o", tmp_path / "o")
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: ")
    assert "unexpected keys ['extra.weight']" in err
    assert "missing keys ['blocks.7.norm1.weight']" in err
    # a file that needs pickled code to load is refused, not run
    torch.save({"model": Path("x")}, tmp_path / "pickled.pth")
    code, err = _convert(capsys, tmp_path / "pickled.pth", "--from", "mae", "-o", tmp_path / "o")
    assert code == 2 and "cannot read weights" in err
    code, err = _convert(capsys, src, "--from", "swin", "-o", tmp_path / "o")
    assert code == 2 and "unknown source 'swin'" in err
    assert not (tmp_path / "o").exists()


def test_unknown_key_set_lists_found_and_expected() -> None:
    state = {"backbone.layers.0.weight": torch.zeros(2), "regressor.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match=r"Found: \['backbone.layers.N.weight', .*Expected: "):
        convert_state_dict(state, "hivit")
    vit = {k: v for k, v in state.items()} | {"cls_token": torch.zeros(1, 1, 8)}
    with pytest.raises(ValueError, match="not a ViT state dict with a class token. Found"):
        convert_state_dict(vit, "mae")
    mae = to_authors_state_dict(create_model("mae_hivit_nano", img_size=64))
    del mae["decoder_embed.weight"]
    with pytest.raises(ValueError, match="decoder keys without decoder_embed.weight"):
        convert_state_dict(mae, "hivit-mae")


def test_hivit_with_a_scoring_head_is_accepted_and_the_head_dropped() -> None:
    """The QPT V2 release is HiViT-keyed with a score head (exact keys unknown offline)."""
    model = create_model("hivit_nano", img_size=64).eval()
    state = to_authors_state_dict(model)
    state |= {"head.0.weight": torch.rand(64, 128), "head.2.weight": torch.rand(1, 64)}
    conv = convert_state_dict({f"module.{k}": v for k, v in state.items()}, "hivit")
    assert conv.dropped == ["head.0.weight", "head.2.weight"]
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(conv.encoder.forward_features(x), model.forward_features(x))


def test_read_state_dict_unwraps_the_usual_wrappers(tmp_path: Path) -> None:
    sd = {"a.weight": torch.zeros(2)}
    for i, wrapped in enumerate(
        [sd, {"model": sd}, {"state_dict": sd}, {"model": {"module.a.weight": sd["a.weight"]}}]
    ):
        torch.save(wrapped, tmp_path / f"{i}.pt")
        assert list(read_state_dict(tmp_path / f"{i}.pt")) == ["a.weight"]
    torch.save({"epoch": 3}, tmp_path / "none.pt")
    with pytest.raises(ValueError, match="expected a state dict of tensors"):
        read_state_dict(tmp_path / "none.pt")


@pytest.mark.parametrize("pool", ["token", "avg"])
def test_timm_vit_converts_to_the_same_tokens_as_timm(pool: str) -> None:
    """The peer: timm's own ViT, its state dict converted, the same tokens / pooled output."""
    import timm

    torch.manual_seed(0)
    peer = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=64, depth=2, global_pool=pool
    ).eval()
    for p in peer.parameters():  # move norms and biases off their initial values
        p.data.add_(0.05 * torch.randn_like(p))
    conv = convert_state_dict(peer.state_dict(), "timm-vit", {"num_heads": 3})
    enc = conv.encoder
    x = torch.rand(2, 3, 64, 64)
    normed = (x - enc.pixel_mean) / enc.pixel_std
    with torch.no_grad():
        tokens = peer.forward_features(normed)  # (B, 1 + N, D), normed when pool = token
        if pool == "token":
            assert max_abs(enc.forward_tokens(x), tokens[:, 1:]) < TOLERANCE
        else:
            pooled = peer.forward_head(tokens, pre_logits=True)  # fc_norm(mean(patches))
            assert max_abs(enc.forward_features(x), pooled) < TOLERANCE
    assert conv.dropped == ["head.bias", "head.weight"]


def _small(name: str) -> dict:
    """The variant's widths and heads, fewer blocks (CPU-fast), 64 px."""
    kw: dict = {"img_size": 64}
    kw |= {"depths": (1, 1, 1)} if "hivit" in name else {"depth": 2}
    return kw | ({"decoder_depth": 1} if name.startswith("mae_") else {})


def _heads(model) -> dict:
    enc = getattr(model, "encoder", model)
    out = {"num_heads": enc.blocks[0].attn.num_heads}
    if hasattr(model, "decoder_blocks"):
        out["decoder_heads"] = model.decoder_blocks[0].attn.num_heads
    return out


SOURCE = {"hivit": "hivit", "mae_hivit": "hivit-mae", "vit": "mae", "mae_vit": "mae"}


@pytest.mark.parametrize("name", list_models())
def test_every_named_model_round_trips_through_convert(name: str) -> None:
    """qpt weights -> the authors' key names -> ``qpt convert`` -> the same outputs."""
    torch.manual_seed(0)
    model = create_model(name, **_small(name)).eval()
    if name.startswith(("qpt_", "mae_qpt_")):  # qpt's own variants: no authors' layout
        with pytest.raises(ValueError, match="no authors' layout"):
            to_authors_state_dict(model)
        return
    family = name.rsplit("_", 1)[0]
    conv = convert_state_dict(to_authors_state_dict(model), SOURCE[family], _heads(model))
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        if name.startswith("mae_"):
            ids_keep, mask, ids_restore = random_masking(2, 16, 0.75)
            ours = model.forward_masked(x, ids_keep, ids_restore, mask)
            theirs = conv.mae.forward_masked(x, ids_keep, ids_restore, mask)
            assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
        else:
            assert torch.equal(conv.encoder.forward_features(x), model.forward_features(x))
