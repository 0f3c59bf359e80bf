"""Models registered by name, timm style: ``create_model("mae_hivit_tiny", msff=True)``."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from torch import nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a model factory under its function name."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"model '{fn.__name__}' is registered twice")
    _MODELS[fn.__name__] = fn
    return fn


def register_factory(name: str, doc: str, build: Callable[..., nn.Module], **defaults: Any) -> None:
    """Register ``name`` as ``build(**{**defaults, **kwargs})``, documented by ``doc``."""

    def factory(**kwargs: Any) -> nn.Module:
        return build(**{**defaults, **kwargs})

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    register_model(factory)


def register_sizes(
    prefix: str, build: Callable[..., nn.Module], sizes: dict[str, dict], title: str
) -> None:
    """Register ``{prefix}_{size}`` for every size: ``build`` with that size's keywords."""
    for size, kw in sizes.items():
        settings = ", ".join(f"{k} {v}" for k, v in kw.items())
        register_factory(f"{prefix}_{size}", f"{title}, {size}: {settings}.", build, **kw)


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern`` (``"mae_*"``), sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``; ``kwargs`` override its defaults.

    The model remembers how it was built (``model.model_name``, ``model.model_kwargs``) so a
    checkpoint can record it and :func:`train.checkpoint.load_backbone` can rebuild it.

    Raises:
        ValueError: unknown name or unknown keyword.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model '{name}'; known: {', '.join(list_models())}")
    try:
        model = _MODELS[name](**kwargs)
    except TypeError as e:
        raise ValueError(f"model '{name}': {e}") from None
    model.model_name = name
    model.model_kwargs = dict(kwargs)
    return model


def create_backbone(name: str, **kwargs: Any) -> nn.Module:
    """Build an encoder (``hivit_*`` / ``vit_*``) for scoring.

    The encoder takes ``x: (B, 3, H, W)`` float RGB in ``[0, 1]`` (ImageNet normalisation is
    applied inside), ``H, W`` = its ``img_size``; ``forward_features(x) -> (B, D)`` mean-pooled
    normalised tokens, ``forward_tokens(x) -> (B, N, D)``; ``num_features`` = D.

    Raises:
        ValueError: unknown name, or ``name`` is not an encoder (e.g. a ``mae_*`` model).
    """
    if name.startswith("mae_"):
        raise ValueError(f"'{name}' is a pretraining model; use the encoder name '{name[4:]}'")
    return create_model(name, **kwargs)
