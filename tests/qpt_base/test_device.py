"""qpt_base.device: device names resolved or refused."""

from __future__ import annotations

import pytest


def test_resolve_device():
    from qpt_base.device import resolve_device

    assert str(resolve_device("cpu")) == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu-9")
