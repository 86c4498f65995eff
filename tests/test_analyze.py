"""model_analysis figures against independent computations (torch's own counts, hand-computed MACs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sramflow.api import analyze
from sramflow.frontend.source import ModelSource
from sramflow.models.efficientnet import build_model


@pytest.fixture(scope="module")
def b0_224():
    return analyze(ModelSource(model="efficientnet_b0", num_classes=7, resolution=224))


def test_b0_totals_match_torch_and_the_issue(b0_224) -> None:
    r = b0_224.report
    net = build_model("efficientnet_b0", 7)
    assert r["total_params"] == sum(p.numel() for p in net.parameters()) == 4_016_515
    sd = net.state_dict()
    assert r["state_dict_entries"] == len(sd) == 360
    assert r["state_dict_numel"] == sum(t.numel() for t in sd.values()) == 4_058_580
    assert r["conv_gemm_macs"] == 384_543_712


def _conv_macs_by_hook(net: torch.nn.Module, res: int) -> int:
    """MACs counted independently with forward hooks on the torch modules."""
    total = 0

    def hook(mod, inp, out):  # noqa: ANN001
        nonlocal total
        if isinstance(mod, torch.nn.Conv2d):
            kh, kw = mod.kernel_size
            total += out.numel() * (mod.in_channels // mod.groups) * kh * kw
        else:
            total += mod.in_features * mod.out_features

    hs = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        net(torch.zeros(1, 3, res, res))
    for h in hs:
        h.remove()
    return total


def test_macs_hand_computed_layers(b0_224) -> None:
    nodes = {n["name"]: n for n in b0_224.report["nodes"]}
    stem = nodes["features.0.0/Conv"]
    assert stem["macs"] == 32 * 112 * 112 * 3 * 3 * 3  # C_out x H_out x W_out x C_in x kh x kw
    dw = nodes["features.1.0.block.0.0/Conv"]  # depthwise 3x3, 32 channels at 112x112
    assert dw["macs"] == 32 * 112 * 112 * 1 * 3 * 3
    assert dw["weight_bytes_int8"] == 32 * 9
    fc = nodes["classifier.1/Gemm"]
    assert fc["macs"] == 1280 * 7 and fc["params"] == 1280 * 7 + 7
    head = nodes["features.8.0/Conv"]
    assert head["macs"] == 1280 * 7 * 7 * 320
    assert head["input_bytes_int8"] == 320 * 7 * 7 and head["output_bytes_int8"] == 1280 * 7 * 7


@pytest.mark.parametrize("model,res,classes", [("efficientnet_lite0", 128, 1000), ("efficientnet_b0", 96, 3)])
def test_macs_match_hooks(model: str, res: int, classes: int) -> None:
    r = analyze(ModelSource(model=model, num_classes=classes, resolution=res)).report
    assert r["conv_gemm_macs"] == _conv_macs_by_hook(build_model(model, classes), res)


def test_peak_activation_is_the_largest_live_set(b0_224) -> None:
    r = b0_224.report
    # stage-2 first block at 112x112: expand output (96 ch) + its sigmoid + the SiLU product
    assert r["peak_activation_bytes_int8"] == 3 * 96 * 112 * 112
    # fused SiLU in place: the stage-2 depthwise conv holds its 96x112x112 input and 96x56x56 output
    assert r["peak_activation_bytes_int8_fused"] == 96 * 112 * 112 + 96 * 56 * 56
    biggest_io = max(n["input_bytes_int8"] + n["output_bytes_int8"] for n in r["nodes"])
    assert r["peak_activation_bytes_int8"] >= biggest_io


def test_weight_tensors_fitting(b0_224) -> None:
    r = b0_224.report
    sizes = [n["weight_bytes_int8"] for n in r["nodes"] if n["op"] in ("Conv", "Gemm")]
    assert r["weight_tensors_total"] == len(sizes) == 82
    assert r["weight_tensors_fitting_bytes"] == sum(s <= 256 for s in sizes)


def test_cli_analyze_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "sramflow", "analyze", "--model", "efficientnet_lite0", "--num-classes", "7",
         "--resolution", "64", "--out", str(out)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "model_analysis.json").read_text())
    for key in ("model", "resolution", "num_classes", "total_params", "state_dict_numel", "state_dict_entries",
                "conv_gemm_macs", "total_ops", "float32_bytes", "int8_bytes", "peak_activation_bytes_int8",
                "weight_tensors_fitting_bytes", "unsupported_nodes", "nodes"):
        assert key in data, key
    for key in ("name", "op", "params", "macs", "input_bytes_int8", "output_bytes_int8", "weight_bytes_int8"):
        assert key in data["nodes"][0]
    assert "peak live activations" in proc.stdout
