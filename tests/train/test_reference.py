"""qpt's own modules reproduce the authors' code: HiViT, HiViT MAE and MAE's ViT.

The weights, inputs, masks and outputs come from the authors' unmodified code
(``../shared/reference``); qpt converts the weights from the authors' key names, builds its
models from the configuration the metadata records, and must match every stored output
within 1e-4 (float32, CPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from train.convert import convert_state_dict
from train.models import create_model

from .reference import TOLERANCE, load_reference, max_abs


def _overrides(cfg: dict) -> dict:
    """The numbers no tensor shape carries, from the reference metadata."""
    out = {"num_heads": cfg["num_heads"]}
    if "decoder_num_heads" in cfg:
        out["decoder_heads"] = cfg["decoder_num_heads"]
    return out


@torch.no_grad()
def test_hivit_backbone_matches_the_authors() -> None:
    ref = load_reference("hivit_backbone")
    cfg, t = ref.config, ref.tensors
    conv = convert_state_dict(ref.state, "hivit", _overrides(cfg))
    enc = conv.encoder
    kw = enc.model_kwargs
    assert (kw["img_size"], kw["embed_dim"], tuple(kw["depths"])) == (
        cfg["img_size"],
        cfg["embed_dim"],
        tuple(cfg["depths"]),
    )
    assert (kw["ape"] == "learned", kw["rpe"]) == (cfg["ape"], cfg["rpe"])
    assert conv.dropped == ["head.bias", "head.weight"]
    x = t["input.rgb01"]
    assert max_abs(enc.forward_tokens(x), t["out.tokens"]) < TOLERANCE
    assert max_abs(enc.forward_stages(x, t["masked.ids_keep"])[-1], t["masked.tokens"]) < TOLERANCE
    # pooled features: the authors' fc_norm on their pooled tokens, then their head
    feats = enc.forward_features(x)
    state = ref.state
    fc = F.layer_norm(
        t["out.tokens"].mean(1),
        (cfg["embed_dim"],),
        state["fc_norm.weight"],
        state["fc_norm.bias"],
        ref.meta["layernorm_eps"],
    )
    assert max_abs(feats, fc) < TOLERANCE
    logits = F.linear(feats, state["head.weight"], state["head.bias"])
    assert max_abs(logits, t["out.logits"]) < TOLERANCE


@torch.no_grad()
def test_hivit_mae_matches_the_authors() -> None:
    ref = load_reference("hivit_mae")
    cfg, t = ref.config, ref.tensors
    conv = convert_state_dict(ref.state, "hivit-mae", _overrides(cfg))
    mae = conv.mae
    assert mae.model_name == "mae_hivit_nano" and mae.model_kwargs["msff"] == cfg["hifeat"]
    assert not mae.encoder.model_kwargs["rpe"] and not cfg["rpe"]
    loss, pred, latent = mae.forward_masked(
        t["input.rgb01"], t["mask.ids_keep"], t["mask.ids_restore"], t["mask.mask"]
    )
    assert latent.shape[-1] == 7 * cfg["embed_dim"]
    assert max_abs(latent, t["out.latent"]) < TOLERANCE
    assert max_abs(pred, t["out.pred"]) < TOLERANCE
    assert max_abs(loss.reshape(1), t["out.loss"]) < TOLERANCE


@torch.no_grad()
def test_mae_vit_matches_the_authors() -> None:
    ref = load_reference("mae_vit")
    cfg, t = ref.config, ref.tensors
    conv = convert_state_dict(ref.state, "mae", _overrides(cfg))
    mae = conv.mae
    assert mae.model_name == "mae_vit_tiny" and mae.encoder.num_prefix_tokens == 1
    ids_keep = t["mask.noise"].argsort(dim=1)[:, : t["out.latent"].shape[1] - 1]
    loss, pred, latent = mae.forward_masked(
        t["input.rgb01"], ids_keep, t["mask.ids_restore"], t["mask.mask"]
    )
    assert max_abs(latent, t["out.latent"]) < TOLERANCE
    assert max_abs(pred, t["out.pred"]) < TOLERANCE
    assert max_abs(loss.reshape(1), t["out.loss"]) < TOLERANCE


def test_the_registered_models_are_the_reference_architectures() -> None:
    """Built by name from the metadata, qpt's model holds exactly the converted keys."""
    ref = load_reference("hivit_mae")
    cfg = ref.config
    conv = convert_state_dict(ref.state, "hivit-mae", _overrides(cfg))
    named = create_model(
        "mae_hivit_nano",
        img_size=cfg["img_size"],
        decoder_dim=cfg["decoder_embed_dim"],
        decoder_depth=cfg["decoder_depth"],
        decoder_heads=cfg["decoder_num_heads"],
    )
    ours = {k: v.shape for k, v in named.state_dict().items()}
    assert ours == {k: v.shape for k, v in conv.mae.state_dict().items()}
    # every authors' tensor lands somewhere: as many numbers in qpt's model as in theirs
    assert sum(v.numel() for v in ref.state.values()) == sum(
        v.numel() for v in conv.mae.state_dict().values()
    )
