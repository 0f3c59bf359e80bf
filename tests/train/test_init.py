"""``qpt pretrain --init DIR``: pretraining starts from exactly the converted weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from qpt.cli import main
from train.checkpoint import export_encoder, save_checkpoint
from train.convert import convert_state_dict, to_authors_state_dict, write_export
from train.distributed import DistInfo
from train.engine import Trainer
from train.models import create_model

from .conftest import tiny_params
from .reference import TOLERANCE, load_reference, max_abs

CPU = DistInfo(0, 1, 0, torch.device("cpu"), False)
# the hivit_mae reference: HiViT-nano at 64 px, decoder 64 wide, 2 blocks, 4 heads
FIXTURE_PARAMS = dict(
    model="mae_hivit_nano", img_size=64, decoder_dim=64, decoder_depth=2, decoder_heads=4
)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, dict]:
    """The authors' HiViT MAE reference converted through ``qpt convert``."""
    ref = load_reference("hivit_mae")
    folder = tmp_path_factory.mktemp("init")
    save_file(ref.state, str(folder / "authors.safetensors"))
    args = ["convert", str(folder / "authors.safetensors"), "--from", "hivit-mae"]
    assert main([*args, "-o", str(folder / "export"), "-s", "decoder_heads=4"]) == 0
    return folder / "export", ref.tensors


def test_init_starts_from_the_converted_weights_and_the_authors_loss(converted) -> None:
    folder, t = converted
    trainer = Trainer(tiny_params(**FIXTURE_PARAMS, init=str(folder)), CPU, seed=0)
    from safetensors.torch import load_file

    expected = load_file(str(folder / "mae.safetensors"))
    state = trainer.model.state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[k], expected[k]) for k in expected)
    model = trainer.model.eval()
    with torch.no_grad():
        loss, _, _ = model.forward_masked(
            t["input.rgb01"], t["mask.ids_keep"], t["mask.ids_restore"], t["mask.mask"]
        )
    assert max_abs(loss.reshape(1), t["out.loss"]) < TOLERANCE
    # the same model without --init starts elsewhere
    fresh = Trainer(tiny_params(**FIXTURE_PARAMS), CPU, seed=0).model.state_dict()
    assert not torch.equal(fresh["decoder_embed.weight"], expected["decoder_embed.weight"])


def test_pretrain_cli_with_init_runs_and_a_mismatch_names_the_fix(
    converted, shard_dir: Path, tmp_path: Path, capsys
) -> None:
    folder, _ = converted
    sets = [f"{k}={json.dumps(v)}" for k, v in FIXTURE_PARAMS.items()]
    sets += ["batch_size=2", "steps=2", "warmup_steps=1", "num_workers=0", "degrade='none'"]
    args = ["pretrain", "--shards", str(shard_dir), "--init", str(folder), "--json"]
    for s in sets:
        args += ["-s", s]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["complete"] and summary["steps"] == 2
    code = main([*args, "-s", "decoder_heads=8", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "--set decoder_heads=4" in err


def test_init_from_an_encoder_only_export_keeps_a_fresh_decoder(tmp_path: Path) -> None:
    """MAE's released encoders carry no decoder: the encoder is loaded, the rest is fresh."""
    torch.manual_seed(1)
    source = create_model("mae_vit_tiny", img_size=64)
    encoder_only = {
        k: v for k, v in to_authors_state_dict(source).items() if not k.startswith(("dec", "mask"))
    }
    conv = convert_state_dict(encoder_only, "mae")
    assert conv.mae is None
    folder = write_export(conv, tmp_path / "enc")
    params = tiny_params(model="mae_vit_tiny", img_size=64, init=str(folder))
    model = Trainer(params, CPU, seed=0).model
    mine = model.encoder.state_dict()
    assert all(torch.equal(mine[k], v) for k, v in source.encoder.state_dict().items())
    assert not torch.equal(model.decoder_embed.weight, source.decoder_embed.weight)


def test_a_pretrain_export_also_initialises_its_encoder(tmp_path: Path) -> None:
    model = create_model("mae_qpt_hivit_nano", img_size=64)
    config = {"model": model.model_name, "model_kwargs": model.model_kwargs}
    ckpt = save_checkpoint(tmp_path / "ckpt", 1, model, {}, config)
    folder = export_encoder(ckpt, tmp_path / "export")
    trainer = Trainer(tiny_params(init=str(folder)), CPU, seed=7)
    mine = trainer.model.encoder.state_dict()
    assert all(torch.equal(mine[k], v) for k, v in model.encoder.state_dict().items())
    with pytest.raises(ValueError, match="pick the mae_\\* model built on qpt_hivit_nano"):
        Trainer(tiny_params(model="mae_hivit_nano", init=str(folder)), CPU, seed=0)
