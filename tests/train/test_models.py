"""train.models: shapes, parameter counts, masking, MSFF, patchify, gradients.

Tests taking ``device`` / ``dtype`` (tests/conftest.py) also run on CUDA in bfloat16 autocast
under ``pytest -m gpu``."""

from __future__ import annotations

import pytest
import torch

from train.models import (
    MSFF,
    MaskedAutoencoder,
    ScoreHead,
    create_backbone,
    create_model,
    gather_tokens,
    list_models,
    patchify,
    random_masking,
    unpatchify,
)

ENCODERS = ["hivit_nano", "hivit_tiny", "hivit_small", "hivit_base"]
ENCODERS += ["vit_tiny", "vit_small", "vit_base", "vit_large"]
ENCODERS += ["qpt_hivit_nano", "qpt_hivit_tiny", "qpt_hivit_small", "qpt_hivit_base"]
ENCODERS += ["qpt_vit_tiny", "qpt_vit_small", "qpt_vit_base"]


def test_registry_has_every_variant() -> None:
    names = list_models()
    for enc in ENCODERS:
        assert enc in names and f"mae_{enc}" in names
    assert list_models("mae_*") == [n for n in names if n.startswith("mae_")]


def test_unknown_name_and_kwarg_are_value_errors() -> None:
    with pytest.raises(ValueError, match="unknown model 'hivit_huge'"):
        create_model("hivit_huge")
    with pytest.raises(ValueError, match="hivit_nano"):
        create_model("hivit_nano", no_such_option=1)
    with pytest.raises(ValueError, match="pretraining model"):
        create_backbone("mae_hivit_tiny")


def _shallow(name: str) -> dict:
    """Depth override keeping the variant's widths and heads (full depth is slow on CPU)."""
    return {"depths": (1, 1, 1)} if "hivit" in name else {"depth": 2}


def _autocast(device: torch.device, dtype: torch.dtype):
    """Mixed precision as training runs it (a no-op in float32)."""
    return torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)


@pytest.mark.parametrize("name", ENCODERS)
def test_encoder_output_shapes(name: str, device: torch.device, dtype: torch.dtype) -> None:
    enc = create_backbone(name, img_size=64, **_shallow(name)).eval().to(device)
    x = torch.rand(2, 3, 64, 64, device=device)
    with torch.no_grad(), _autocast(device, dtype):
        tokens = enc.forward_tokens(x)
        feats = enc.forward_features(x)
        stages = enc.forward_stages(x)
        pooled = tokens.mean(1)
        expected = enc.fc_norm(pooled) if hasattr(enc, "fc_norm") else pooled
    assert tokens.shape == (2, 16, enc.num_features)
    assert feats.shape == (2, enc.num_features)
    tol = 1e-5 if dtype == torch.float32 else 1e-2
    assert torch.allclose(feats.float(), expected.float(), rtol=tol, atol=tol)
    assert torch.isfinite(feats).all()
    assert [s.shape[-1] for s in stages] == enc.stage_dims
    assert all(s.shape[:2] == (2, 16) for s in stages)


def test_wrong_input_size_is_a_clear_error() -> None:
    enc = create_backbone("hivit_nano", img_size=64)
    with pytest.raises(ValueError, match="64x64"):
        enc.forward_features(torch.rand(1, 3, 96, 96))


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("hivit_tiny", 17e6, 20e6), ("hivit_base", 60e6, 75e6), ("vit_base", 84e6, 88e6)],
)
def test_parameter_counts(name: str, low: float, high: float) -> None:
    with torch.device("meta"):  # counts only: no memory, no init time
        enc = create_backbone(name)
    n = sum(p.numel() for p in enc.parameters())
    assert low < n < high, n


def test_hivit_tiny_layout_matches_the_paper() -> None:
    with torch.device("meta"):
        enc = create_backbone("hivit_tiny")
        qpt = create_backbone("qpt_hivit_tiny")
    assert enc.patch_embed.out_channels == 96 and enc.patch_embed.kernel_size == (4, 4)
    # the authors' early stages hold 2 x depth MLP blocks; qpt's variant 1 x depth
    assert (len(enc.stage1), len(enc.stage2), len(enc.blocks)) == (2, 2, 10)
    assert (len(qpt.stage1), len(qpt.stage2), len(qpt.blocks)) == (1, 1, 10)
    assert enc.merge1.reduction.out_features == 192 and enc.merge2.reduction.out_features == 384
    assert enc.blocks[0].attn.num_heads == 6
    norms = [m for m in enc.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and {m.eps for m in norms} == {1e-6}


def test_hivit_tiny_has_the_authors_parameter_count() -> None:
    """18.80 M parameters without a head (the authors' HiViT-T), qpt's variant 18.40 M."""
    with torch.device("meta"):
        counts = {n: create_backbone(n) for n in ("hivit_tiny", "qpt_hivit_tiny")}
    n = {k: sum(p.numel() for p in m.parameters()) for k, m in counts.items()}
    assert round(n["hivit_tiny"] / 1e6, 2) == 18.80
    assert round(n["qpt_hivit_tiny"] / 1e6, 2) == 18.40


def test_random_masking_keeps_exactly_the_unmasked_units() -> None:
    g = torch.Generator().manual_seed(0)
    ids_keep, mask, ids_restore = random_masking(4, 196, 0.75, generator=g)
    assert ids_keep.shape == (4, 49)
    assert torch.all(mask.sum(1) == 147)
    for b in range(4):
        visible = torch.nonzero(mask[b] == 0).flatten()
        assert torch.equal(visible, ids_keep[b])
    # ids_restore undoes "visible first, then masked"
    order = torch.argsort(ids_restore, dim=1)
    assert torch.equal(order[:, :49], ids_keep)
    again = random_masking(4, 196, 0.75, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[0], ids_keep)
    with pytest.raises(ValueError, match="mask_ratio"):
        random_masking(1, 4, 1.0)


@pytest.mark.parametrize("name", ["hivit_nano", "vit_tiny", "qpt_hivit_nano", "qpt_vit_tiny"])
def test_masked_encoding_equals_encoding_the_kept_units(name: str, device: torch.device) -> None:
    """Dropping units before the encoder sees exactly the visible units (per-unit stages)."""
    enc = create_backbone(name, img_size=64, **_shallow(name)).eval().to(device)
    x = torch.rand(2, 3, 64, 64, device=device)
    g = torch.Generator(device=device).manual_seed(1)
    ids_keep, _, _ = random_masking(2, 16, 0.5, device, generator=g)
    with torch.no_grad():
        masked = enc.forward_stages(x, ids_keep)
        full = enc.forward_stages(x)
    # stages before attention are per unit: identical to the full pass, gathered
    for m, f in zip(masked[:-1], full[:-1], strict=True):
        if "hivit" in name:
            assert torch.allclose(m, gather_tokens(f, ids_keep), atol=1e-5)
    assert masked[-1].shape == (2, 8, enc.num_features)
    # changing a masked-out unit's pixels changes nothing
    hidden = sorted(set(range(16)) - set(ids_keep[0].tolist()))[0]
    r, c = divmod(hidden, 4)
    y = x.clone()
    y[0, :, r * 16 : (r + 1) * 16, c * 16 : (c + 1) * 16] = 0.5
    with torch.no_grad():
        assert torch.allclose(enc.forward_stages(y, ids_keep)[-1], masked[-1], atol=1e-5)


def test_patchify_unpatchify_round_trip() -> None:
    x = torch.rand(2, 3, 64, 48)
    p = patchify(x, 16)
    assert p.shape == (2, 12, 768)
    # the first patch is the top-left 16x16 block, pixels in (row, col, channel) order
    assert torch.equal(p[0, 0].view(16, 16, 3), x[0, :, :16, :16].permute(1, 2, 0))
    assert torch.equal(unpatchify(p, 16, (4, 3)), x)
    with pytest.raises(ValueError, match="multiple"):
        patchify(torch.rand(1, 3, 20, 16), 16)


def test_msff_on_uses_every_stage_and_off_only_the_last(device: torch.device) -> None:
    dims = [32, 16, 8]
    stages = [torch.rand(2, 5, d, device=device) for d in dims]
    on = MSFF(dims, 12, enabled=True).to(device)
    off = MSFF(dims, 12, enabled=False).to(device)
    assert on(stages).shape == off(stages).shape == (2, 5, 12)
    changed = [torch.rand_like(stages[0]), *stages[1:]]
    assert not torch.allclose(on(changed), on(stages))
    assert torch.allclose(off(changed), off(stages))
    concat = MSFF(dims, 12, fusion="concat").to(device)
    assert concat(stages).shape == (2, 5, 12)
    with pytest.raises(ValueError, match="fusion"):
        MSFF(dims, 12, fusion="max")


@pytest.mark.parametrize(
    ("name", "msff"),
    [
        ("mae_hivit_nano", {}),
        ("mae_hivit_nano", {"msff": False}),
        ("mae_hivit_nano", {"msff_fusion": "sum"}),
        ("mae_qpt_hivit_nano", {}),
        ("mae_qpt_hivit_nano", {"msff": False}),
        ("mae_qpt_vit_tiny", {}),
        ("mae_qpt_vit_tiny", {"msff": False}),
        ("mae_vit_tiny", {}),
    ],
)
def test_mae_forward_and_every_parameter_gets_a_gradient(
    name: str, msff: dict, device: torch.device, dtype: torch.dtype
) -> None:
    vit = "vit" in name and "hivit" not in name
    kw = dict(depth=3, decoder_depth=1, decoder_dim=64, decoder_heads=4) if vit else {}
    model = create_model(name, img_size=64, **msff, **kw).to(device)
    x = torch.rand(2, 3, 64, 64, device=device)
    with _autocast(device, dtype):
        loss, pred, mask = model(x, generator=torch.Generator(device=device).manual_seed(0))
    assert pred.shape == (2, 16, 768) and mask.shape == (2, 16)
    assert torch.all(mask.sum(1) == 12) and torch.isfinite(loss)
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert no_grad == []
    zero = [
        n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() == 0
    ]
    assert zero == []
    fused = msff.get("msff", name != "mae_vit_tiny")
    if isinstance(model, MaskedAutoencoder):  # qpt's MSFF: one projection per stage
        assert len(model.msff.proj) == (len(model.encoder.stage_dims) if fused else 1)
    else:  # the authors' hifeat: stage-1 unit, stage-2 unit and main token, 7C wide
        c = 128 if "hivit" in name else 192
        assert model.decoder_embed.in_features == (7 * c if fused else c)


def test_mae_vit_has_no_multi_scale_fusion() -> None:
    with pytest.raises(ValueError, match="msff = false"):
        create_model("mae_vit_tiny", msff=True)
    with pytest.raises(ValueError, match="msff_fusion"):
        create_model("mae_hivit_nano", msff_fusion="max")


def test_loss_is_on_masked_patches_only_and_target_is_configurable(device: torch.device) -> None:
    model = create_model("mae_hivit_nano", img_size=64).to(device)
    x, clean = torch.rand(2, 1, 3, 64, 64, device=device)
    g = lambda: torch.Generator(device=device).manual_seed(3)  # noqa: E731
    loss, _, mask = model(x, generator=g())
    # overwrite visible pixels of the target: the loss must not move
    visible = torch.nonzero(mask[0] == 0).flatten()
    t = x.clone()
    for u in visible.tolist():
        r, c = divmod(u, 4)
        t[0, :, r * 16 : (r + 1) * 16, c * 16 : (c + 1) * 16] = torch.rand(3, 16, 16, device=device)
    assert torch.allclose(model(x, target=t, generator=g())[0], loss)
    assert not torch.allclose(model(x, target=clean, generator=g())[0], loss)


def test_score_head_tokens_and_pooled(device: torch.device) -> None:
    head = ScoreHead(32).to(device)
    tokens = torch.rand(3, 10, 32, device=device)
    assert head(tokens).shape == (3,)
    assert head(tokens.mean(1)).shape == (3,)
    # LN happens before pooling for tokens (as in the released heads)
    expected = head.mlp(head.norm(tokens).mean(1)).squeeze(-1)
    assert torch.allclose(head(tokens), expected)
    with pytest.raises(ValueError, match="ScoreHead"):
        head(torch.rand(3, device=device))


def test_model_stats_match_the_published_figures() -> None:
    """HiViT-T: 19.18 M parameters with its 1000-class head and 4.60 G multiply-adds
    (the HiViT paper, mmpretrain's table); ViT-B/16: 17.6 G (fvcore counts)."""
    from train.models.stats import model_stats

    hivit = model_stats("hivit_tiny")
    assert round((hivit.params + 384 * 1000 + 1000) / 1e6, 2) == 19.18
    assert abs(hivit.macs / 1e9 - 4.60) < 0.05
    assert abs(model_stats("vit_base").macs / 1e9 - 17.6) < 0.1


@pytest.mark.parametrize("name", ["mae_hivit_nano", "mae_qpt_hivit_nano"])
def test_reconstruction_of_a_perfect_prediction_is_the_target(name: str) -> None:
    """The PNG's reconstruction row undoes the model's own target space (the authors' MAE
    predicts the ImageNet-normalised image, qpt's the [0, 1] one)."""
    from train.models import masked_mse
    from train.visualize import reconstruct

    model = create_model(name, img_size=64)
    norm = getattr(model, "target_norm", None)
    x = torch.rand(2, 3, 64, 64)
    mean, std = norm if norm is not None else (0.0, 1.0)
    tp = patchify((x - mean) / std, 16)
    pred = (tp - tp.mean(-1, keepdim=True)) / (tp.var(-1, keepdim=True) + 1e-6) ** 0.5
    mask = torch.ones(2, 16)
    loss = model.loss(x, pred, mask) if norm is not None else masked_mse(pred, tp, mask)
    assert loss < 1e-10  # pred is exactly what the model is trained to output
    assert torch.allclose(reconstruct(x, pred, mask, 16, True, norm), x, atol=1e-5)
    if norm is not None:  # read as [0, 1] predictions, the colours would be off
        assert not torch.allclose(reconstruct(x, pred, mask, 16, True, None), x, atol=1e-2)
