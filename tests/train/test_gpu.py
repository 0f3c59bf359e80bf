"""CUDA paths of pretraining (run on a GPU machine: pytest -m gpu)."""

from __future__ import annotations

import pytest
import torch

from train.models import create_model

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _need_cuda() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")


@pytest.mark.parametrize("name", ["mae_hivit_tiny", "mae_hivit_base", "mae_qpt_hivit_tiny"])
def test_bf16_step_has_finite_loss_and_gradients(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name).cuda()
    x = torch.rand(8, 3, 224, 224, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = model(x)[0]
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
