"""train.engine and the pretrain stage: learning, exact resume, bad input, checkpoints, export."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from train.checkpoint import latest_checkpoint, load_backbone
from train.config import PretrainParams
from train.distributed import DistInfo
from train.engine import Trainer, pretrain

from .conftest import tiny_params as tiny
from .conftest import write_shards


def _photo_batch(n: int = 4, size: int = 64) -> torch.Tensor:
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    crops = [
        torch.from_numpy(p[100 : 100 + size, 100 : 100 + size]).permute(2, 0, 1) for p in photos
    ]
    return torch.stack(crops[:n]).contiguous()


def test_overfits_a_handful_of_images(dist: DistInfo) -> None:
    params = tiny(steps=80, warmup_steps=5, blr=0.02, clip_grad=1.0)
    trainer = Trainer(params, dist, seed=0)
    trainer.reseed(0, 0)
    batch = _photo_batch()
    losses = [trainer.step([batch]).loss for _ in range(params.steps)]
    start, end = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert end < 0.6 * start, (start, end)


def test_run_writes_checkpoints_metrics_pictures_and_export(
    shard_dir: Path, tmp_path: Path
) -> None:
    summary = pretrain(tiny(), tmp_path, shard_dir, progress=False)
    assert summary["complete"] and summary["steps"] == 6 and summary["images_seen"] == 24
    rows = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    # each line's lr is the one its step ran at: a 1-step warm-up (peak / 2), the peak
    # (blr x 4 / 256) at step 2, then the cosine over the remaining 5 steps towards 0
    peak = 1.5e-4 * 4 / 256
    cosine = [peak * (1 + math.cos(math.pi * j / 5)) / 2 for j in range(1, 5)]
    assert [r["lr"] for r in rows] == pytest.approx([peak / 2, peak, *cosine], rel=1e-12)
    assert sorted(p.name for p in (tmp_path / "images").glob("*.png")) == [
        "step-00000003.png",
        "step-00000006.png",
    ]
    assert (tmp_path / "loss.png").stat().st_size > 1000
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step-00000006"
    enc, cfg = load_backbone(tmp_path / "export")
    assert cfg["model"] == "qpt_hivit_nano" and cfg["img_size"] == 64
    weights = load_file(str(latest_checkpoint(tmp_path / "checkpoints") / "model.safetensors"))
    assert torch.equal(
        enc.state_dict()["blocks.0.attn.qkv.weight"], weights["encoder.blocks.0.attn.qkv.weight"]
    )
    # a second call finds the run complete and does not train again
    again = pretrain(tiny(), tmp_path, shard_dir, progress=False)
    assert again["steps"] == 6 and again["resumed_from"].endswith("step-00000006")


@pytest.mark.parametrize("stop_after", [3, 2])  # at a checkpoint boundary, and mid-epoch
def test_stopped_and_resumed_run_matches_an_uninterrupted_one(
    shard_dir: Path, tmp_path: Path, stop_after: int
) -> None:
    params = tiny(degrade="qpt-v2", drop_path_rate=0.1)
    pretrain(params, tmp_path / "a", shard_dir, progress=False)
    first = pretrain(params, tmp_path / "b", shard_dir, progress=False, stop_after=stop_after)
    assert not first["complete"] and first["steps"] == stop_after
    assert (tmp_path / "b" / "export").exists() is False
    # a kill in a later checkpoint write leaves later metric lines, the last one cut short,
    # and the temporaries of the checkpoint, of `latest` and of an export
    with (tmp_path / "b" / "metrics.jsonl").open("a") as f:
        f.write('{"step": 5, "loss": 9.0, "lr": 0.1}\n{"step": 6, "lo')
    _leave_temporaries(tmp_path / "b", step=6)
    second = pretrain(params, tmp_path / "b", shard_dir, progress=False)
    assert second["complete"] and second["resumed_from"]
    assert _temporaries(tmp_path / "b") == []
    wa = load_file(str(tmp_path / "a/checkpoints/step-00000006/model.safetensors"))
    wb = load_file(str(tmp_path / "b/checkpoints/step-00000006/model.safetensors"))
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=1e-5, atol=1e-6)
    la = [json.loads(r)["loss"] for r in (tmp_path / "a/metrics.jsonl").read_text().splitlines()]
    lb = [json.loads(r)["loss"] for r in (tmp_path / "b/metrics.jsonl").read_text().splitlines()]
    assert lb == pytest.approx(la, rel=1e-5)


def _leave_temporaries(run: Path, step: int) -> None:
    """What a writer killed mid-write leaves (names as the checkpoint writer makes them)."""
    half = run / "checkpoints" / f".step-{step:08d}.tmp-4242"
    half.mkdir(parents=True)
    (half / "model.safetensors").write_bytes(b"\0" * 64)
    (run / "checkpoints" / ".latest.tmp-4242").write_text("step-0")
    (run / "export").mkdir(exist_ok=True)
    (run / "export" / ".encoder.safetensors.tmp-4242-0badcafe").write_bytes(b"\0" * 64)


def _temporaries(run: Path) -> list[Path]:
    return [p for p in run.rglob(".*") if ".tmp-" in p.name]


def test_rerun_after_a_kill_in_the_first_checkpoint_write(shard_dir: Path, tmp_path: Path) -> None:
    """No checkpoint yet: the rerun starts afresh, so the killed run's metric lines go."""
    (tmp_path / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "loss": 9.0, "lr": 0.1}) + "\n" for s in (1, 2, 3))
    )
    _leave_temporaries(tmp_path, step=3)
    summary = pretrain(tiny(), tmp_path, shard_dir, progress=False)
    assert summary["complete"] and summary["resumed_from"] is None
    rows = [json.loads(r) for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["loss"] != 9.0 for r in rows)
    assert _temporaries(tmp_path) == []
    assert (tmp_path / "export" / "encoder.safetensors").is_file()


def test_corrupt_samples_are_skipped_and_counted(tmp_path: Path) -> None:
    write_shards(tmp_path / "s", n_shards=1, per_shard=6, corrupt_keys=("000001", "000004"))
    summary = pretrain(tiny(steps=3), tmp_path / "run", tmp_path / "s", progress=False)
    assert summary["complete"]
    # 12 good images consumed: every pass over the shard meets both corrupt samples
    assert summary["skipped_by_reason"]["corrupt"] >= 4
    assert summary["skipped_samples"] == sum(summary["skipped_by_reason"].values())


def test_all_corrupt_shards_fail_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import train.data

    monkeypatch.setattr(train.data, "MAX_CONSECUTIVE_FAILURES", 5)
    keys = tuple(f"000{i:03d}" for i in range(4))
    write_shards(tmp_path / "s", n_shards=1, per_shard=4, corrupt_keys=keys)
    with pytest.raises(ValueError, match="no decodable image"):
        pretrain(tiny(steps=1), tmp_path / "run", tmp_path / "s", progress=False)


def test_missing_and_empty_shards(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no .tar shard"):
        pretrain(tiny(), tmp_path / "run", tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match="shard-000008.tar: not found \\(2 missing\\)"):
        pretrain(tiny(), tmp_path / "run", str(tmp_path / "shard-{000008..000009}.tar"))


def test_non_finite_loss_stops_with_step_and_checkpoint(
    shard_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import train.models.mae as mae

    real, calls = mae.masked_mse, {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 5 else loss

    monkeypatch.setattr(mae, "masked_mse", poisoned)
    with pytest.raises(ValueError, match="non-finite loss .* at step 5;"):
        pretrain(tiny(), tmp_path, shard_dir, progress=False)
    ckpt = latest_checkpoint(tmp_path / "checkpoints")
    assert ckpt.name == "step-00000004"
    assert all(torch.isfinite(t).all() for t in load_file(str(ckpt / "model.safetensors")).values())


def test_resume_with_another_model_config_names_the_mismatch(
    shard_dir: Path, tmp_path: Path
) -> None:
    pretrain(tiny(steps=3), tmp_path, shard_dir, progress=False, stop_after=3)
    with pytest.raises(ValueError, match="decoder_dim=None, this run has decoder_dim=64"):
        pretrain(tiny(steps=3, decoder_dim=64), tmp_path, shard_dir, progress=False)
    with pytest.raises(ValueError, match="steps=3, this run has steps=30"):
        pretrain(tiny(steps=30), tmp_path, shard_dir, progress=False)
    # harmless changes are fine: logging cadence, workers
    done = pretrain(tiny(steps=3, log_every=2, num_workers=1), tmp_path, shard_dir, progress=False)
    assert done["steps"] == 3 and done["resumed_from"]


def test_the_seed_is_a_parameter_recorded_and_checked_on_resume(
    shard_dir: Path, tmp_path: Path
) -> None:
    first = pretrain(tiny(steps=3), tmp_path, shard_dir, seed=0, progress=False, stop_after=2)
    assert first["seed"] == 0
    config = json.loads((latest_checkpoint(tmp_path / "checkpoints") / "config.json").read_text())
    assert config["params"]["seed"] == 0  # the seed in effect, though the params had none
    refused = r"written with seed=0, this run has seed=1 \(1 parameter\(s\) differ\)"
    with pytest.raises(ValueError, match=refused):
        pretrain(tiny(steps=3), tmp_path, shard_dir, seed=1, progress=False)
    with pytest.raises(ValueError, match=refused):
        pretrain(tiny(steps=3, seed=1), tmp_path, shard_dir, seed=0, progress=False)
    # the parameters' seed is the run's seed, whatever the caller's default
    done = pretrain(tiny(steps=3, seed=0), tmp_path, shard_dir, seed=1, progress=False)
    assert done["complete"] and done["resumed_from"] and done["seed"] == 0


def test_params_validate() -> None:
    with pytest.raises(ValueError, match="mae_"):
        PretrainParams(model="hivit_tiny")
    with pytest.raises(ValueError, match="resize_to"):
        PretrainParams(crop="resize")
    with pytest.raises(ValueError, match="extra"):
        PretrainParams(stepz=3)


def test_stage_uses_the_shard_stage_output(shard_dir: Path, tmp_path: Path) -> None:
    from qpt.stage import StageContext
    from qpt.stages.pretrain import run_pretrain

    ctx = StageContext(
        pipeline="t",
        stage="pretrain",
        kind="pretrain",
        run_dir=tmp_path,
        out_dir=tmp_path / "pretrain",
        inputs={"shard": shard_dir},
        kinds={"shard": "shard"},
        json_mode=True,
    )
    summary = run_pretrain(ctx, tiny(steps=2, ckpt_every=2))
    assert summary["complete"] and (tmp_path / "pretrain" / "export" / "config.json").is_file()
    ctx.inputs, ctx.kinds = {}, {}
    with pytest.raises(ValueError, match="needs an earlier 'shard' stage"):
        run_pretrain(ctx, tiny())


def test_time_budget_stops_early_but_completes(shard_dir: Path, tmp_path: Path) -> None:
    summary = pretrain(tiny(steps=50, time_budget_s=1e-3), tmp_path, shard_dir, progress=False)
    assert summary["complete"] and summary["stopped_by"] == "time_budget"
    assert summary["steps"] == 1 and (tmp_path / "export" / "encoder.safetensors").is_file()


@pytest.mark.parametrize("where", ["device", "loader"])
def test_degradation_site_and_clean_target(where: str, dist: DistInfo) -> None:
    trainer = Trainer(tiny(degrade="qpt-v2", degrade_on=where, target="clean"), dist, seed=0)
    trainer.reseed(0, 0)
    batch = _photo_batch()
    clean, degraded = trainer.prepare(batch)
    if where == "device":
        assert not torch.allclose(clean, degraded, atol=1e-3)
    else:  # the loader degrades; bare images arrive undegraded
        assert trainer.degrader is None and torch.equal(clean, degraded)
        given = torch.rand(4, 3, 64, 64)
        prepared = trainer.prepare({"images": batch, "degraded": given})[1]
        assert torch.equal(prepared.cpu(), given)
    assert math.isfinite(trainer.step([batch]).loss)


def test_degrade_none_from_toml_turns_degradation_off() -> None:
    from train.config import PretrainParams

    assert PretrainParams(degrade="none").degrade is None
    assert PretrainParams(degrade="Off").degrade is None
    assert PretrainParams(degrade="kadid").degrade == "kadid"
