"""The authors' key layouts (HiViT, HiViT MAE, MAE / timm ViT) and the qpt names they map to.

Architecture numbers are read from tensor shapes: widths from the patch embedding, depths
from the ``blocks`` list (HiViT: 2 x d1 MLP blocks, a merge, 2 x d2 MLP blocks, a merge, d3
attention blocks), the grid from the position tables. Head counts, which no shape carries
when there is no relative-bias table, come from the matching named size or an override.
"""

from __future__ import annotations

import re
from typing import Any

from torch import Tensor

from .models import hivit as hivit_models
from .models import vit as vit_models

HIVIT_EXPECTED = (
    "patch_embed.proj.*, patch_embed.norm.*; blocks.N: 2 x d1 MLP blocks (norm2, mlp.fc1, "
    "mlp.fc2), a merge (norm, reduction), 2 x d2 MLP blocks, a merge, d3 attention blocks "
    "(norm1, attn.qkv, attn.proj, [attn.relative_position_bias_table], norm2, mlp.*); "
    "[absolute_pos_embed]; [relative_position_index]; fc_norm.* or norm.*; [head.*]"
)
VIT_EXPECTED = (
    "cls_token, pos_embed, patch_embed.proj.*; blocks.N.{norm1, attn.qkv, attn.proj, "
    "norm2, mlp.fc1, mlp.fc2}; norm.* or fc_norm.*; [head.*]"
)
_HIVIT_FIXED = {
    "patch_embed.proj.weight": "patch_embed.weight",
    "patch_embed.proj.bias": "patch_embed.bias",
    "patch_embed.norm.weight": "patch_norm.weight",
    "patch_embed.norm.bias": "patch_norm.bias",
    "absolute_pos_embed": "pos_embed",
}
_RPE = ("attn.relative_position_bias_table", "rel_pos.relative_position_bias_table")
_STEM_NORM = ("norm2.", "norm.")  # the authors' MLP-only blocks keep only their norm2


def key_patterns(keys: Any) -> list[str]:
    """Distinct key shapes, block numbers folded: ``blocks.N.attn.qkv.weight``."""
    return sorted({re.sub(r"\.\d+(?=\.|$)", ".N", k) for k in keys})


def _block_kinds(state: dict[str, Tensor]) -> list[str]:
    """The kind of each authors' HiViT ``blocks.i``: "mlp", "merge" or "attn", in order."""
    rests: dict[int, list[str]] = {}
    for key in state:
        if m := re.match(r"blocks\.(\d+)\.(.+)", key):
            rests.setdefault(int(m.group(1)), []).append(m.group(2))
    if sorted(rests) != list(range(len(rests))):
        return []
    kinds = []
    for i in range(len(rests)):
        keys = rests[i]
        merge = any(r.startswith("reduction.") for r in keys)
        kinds.append("merge" if merge else "attn" if any("attn." in r for r in keys) else "mlp")
    return kinds


def hivit_paths(depths: tuple[int, int, int] | list[int]) -> dict[int, str]:
    """{authors' ``blocks`` index: qpt module path} for HiViT ``depths``.

    The authors' list is: 2 x d1 MLP blocks, a merge, 2 x d2 MLP blocks, a merge, d3
    attention blocks; qpt names them ``stage1.i``, ``merge1``, ``stage2.i``, ``merge2``,
    ``blocks.i``.
    """
    d1, d2, d3 = depths
    names = [f"stage1.{i}" for i in range(2 * d1)] + ["merge1"]
    names += [f"stage2.{i}" for i in range(2 * d2)] + ["merge2"]
    names += [f"blocks.{i}" for i in range(d3)]
    return dict(enumerate(names))


def hivit_depths(state: dict[str, Tensor]) -> tuple[int, int, int]:
    """HiViT depths (d1, d2, d3) read from the authors' ``blocks`` list.

    Raises:
        ValueError: not that layout; the message lists the key shapes found and expected.
    """
    kinds = _block_kinds(state)
    if kinds.count("merge") == 2 and "patch_embed.proj.weight" in state:
        m1 = kinds.index("merge")
        m2 = kinds.index("merge", m1 + 1)
        n1, n2, n3 = m1, m2 - m1 - 1, len(kinds) - m2 - 1
        if not (n1 % 2 or n2 % 2 or not n3):
            return n1 // 2, n2 // 2, n3
    raise ValueError(
        f"not a HiViT state dict in the authors' layout. Found: {key_patterns(state)}. "
        f"Expected: {HIVIT_EXPECTED}"
    )


def hivit_key(key: str, paths: dict[int, str]) -> str | None:
    """An authors' HiViT encoder key -> qpt :class:`HiViT` key; None = not an encoder key."""
    if key in _HIVIT_FIXED:
        return _HIVIT_FIXED[key]
    if key.split(".")[0] in ("fc_norm", "norm"):
        return key
    m = re.match(r"blocks\.(\d+)\.(.+)", key)
    if not m or int(m.group(1)) not in paths:
        return None
    path, rest = paths[int(m.group(1))], m.group(2)
    if path.startswith("stage") and rest.startswith(_STEM_NORM[0]):
        rest = _STEM_NORM[1] + rest.removeprefix(_STEM_NORM[0])
    return f"{path}.{rest.replace(*_RPE)}"


def hivit_authors_key(key: str, paths: dict[int, str]) -> str:
    """The inverse of :func:`hivit_key`: a qpt :class:`HiViT` key -> the authors' key."""
    fixed = {v: k for k, v in _HIVIT_FIXED.items()}
    if key in fixed:
        return fixed[key]
    index = {path: i for i, path in paths.items()}
    for path, i in index.items():
        if key.startswith(path + "."):
            rest = key.removeprefix(path + ".")
            if path.startswith("stage") and rest.startswith(_STEM_NORM[1]):
                rest = _STEM_NORM[0] + rest.removeprefix(_STEM_NORM[1])
            return f"blocks.{i}.{rest.replace(_RPE[1], _RPE[0])}"
    return key


def _grid_side(n: int, what: str) -> int:
    side = round(n**0.5)
    if side * side != n:
        raise ValueError(f"{what}: {n} positions are not a square grid")
    return side


def _named_size(sizes: dict[str, dict], **match: Any) -> str | None:
    for name, cfg in sizes.items():
        if all(
            tuple(cfg[k]) == tuple(v) if isinstance(v, (list, tuple)) else cfg[k] == v
            for k, v in match.items()
        ):
            return name
    return None


def _needs(value: Any, what: str, key: str) -> Any:
    if value is None:
        raise ValueError(
            f"{what} cannot be read from the weights and matches no named size; "
            f"pass it as an override (--set {key}=N)"
        )
    return value


def hivit_config(
    state: dict[str, Tensor], mae: bool, overrides: dict[str, Any]
) -> tuple[str, dict]:
    """(registered name, kwargs) of the qpt :class:`HiViT` that holds this state dict."""
    depths = hivit_depths(state)
    c = 4 * state["patch_embed.proj.weight"].shape[0]
    tables = [k for k in state if k.endswith("attn.relative_position_bias_table")]
    size = _named_size(hivit_models.SIZES, embed_dim=c, depths=depths)
    heads = state[tables[0]].shape[1] if tables else None
    heads = overrides.get(
        "num_heads", heads or (hivit_models.SIZES[size]["num_heads"] if size else None)
    )
    if "absolute_pos_embed" in state:
        grid = _grid_side(state["absolute_pos_embed"].shape[1], "absolute_pos_embed")
    elif tables:
        grid = (round(state[tables[0]].shape[0] ** 0.5) + 1) // 2
    else:
        grid = None
    norm = state.get("norm.weight")
    out = (
        "fc_norm"
        if "fc_norm.weight" in state
        else "hifeat"
        if norm is not None and norm.shape[0] == 7 * c
        else "norm"
    )
    kwargs = {
        "img_size": overrides.get("img_size", 16 * grid if grid else 224),
        "embed_dim": c,
        "depths": list(depths),
        "num_heads": _needs(heads, "num_heads", "num_heads"),
        "ape": ("sincos" if mae else "learned") if "absolute_pos_embed" in state else "none",
        "rpe": bool(tables),
        "out": out,
    }
    return f"hivit_{size or 'nano'}", kwargs


def vit_config(state: dict[str, Tensor], timm: bool, overrides: dict[str, Any]) -> tuple[str, dict]:
    """(registered name, kwargs) of the qpt :class:`VisionTransformer` for this state dict."""
    depths = [int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.", k))]
    needed = ("cls_token", "pos_embed", "patch_embed.proj.weight")
    if not depths or any(k not in state for k in needed):
        raise ValueError(
            f"not a ViT state dict with a class token. Found: {key_patterns(state)}. "
            f"Expected: {VIT_EXPECTED}"
        )
    patch = tuple(state["patch_embed.proj.weight"].shape[-2:])
    if patch != (16, 16):
        raise ValueError(f"only 16x16 patches are supported, got {patch}")
    d = state["cls_token"].shape[-1]
    depth = 1 + max(depths)
    size = _named_size(vit_models.SIZES, embed_dim=d, depth=depth)
    heads = overrides.get("num_heads", vit_models.SIZES[size]["num_heads"] if size else None)
    grid = _grid_side(state["pos_embed"].shape[1] - 1, "pos_embed")
    kwargs = {
        "img_size": overrides.get("img_size", 16 * grid),
        "embed_dim": d,
        "depth": depth,
        "num_heads": _needs(heads, "num_heads", "num_heads"),
        "pos": "learned" if timm else "sincos",
        "out": "fc_norm" if "fc_norm.weight" in state and "norm.weight" not in state else "norm",
    }
    return f"vit_{size or 'tiny'}", kwargs


def decoder_config(
    state: dict[str, Tensor], defaults: dict[str, dict], overrides: dict[str, Any]
) -> dict[str, Any]:
    """Decoder kwargs of :class:`LatentMAE` read from ``decoder_*`` shapes."""
    if "decoder_embed.weight" not in state:
        raise ValueError(
            f"decoder keys without decoder_embed.weight: found {key_patterns(state)}; "
            "expected decoder_embed.*, mask_token, decoder_pos_embed, decoder_blocks.N.*, "
            "decoder_norm.*, decoder_pred.*"
        )
    dim = state["decoder_embed.weight"].shape[0]
    depth = len({k.split(".")[1] for k in state if k.startswith("decoder_blocks.")})
    size = _named_size(defaults, decoder_dim=dim, decoder_depth=depth)
    heads = overrides.get("decoder_heads", defaults[size]["decoder_heads"] if size else None)
    return {
        "decoder_dim": dim,
        "decoder_depth": depth,
        "decoder_heads": _needs(heads, "decoder_heads", "decoder_heads"),
    }
