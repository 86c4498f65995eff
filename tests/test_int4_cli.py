"""``--weight-bits`` end to end through the commands: quantize (INT4 .tflite), verify against LiteRT, simulate
(analytical and functional), and one-line usage errors that name the bad token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sramflow.cli import main

B0 = ["--model", "efficientnet_b0", "--num-classes", "7", "--resolution", "32", "--seed", "3"]


def test_quantize_then_verify_int4_against_litert(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "q"
    spec = "stem=8,classifier=8,default=4"
    assert main(["quantize", *B0, "--calib-random", "4", "--weight-bits", spec, "--out", str(out)]) == 0
    rep = json.loads((out / "quantization_report.json").read_text())
    assert rep["weight_bits"] == "stem=8,depthwise=4,pointwise=4,se=4,conv=4,classifier=8"
    assert rep["weighted_ops_by_bits"]["8"] == 2 and rep["weighted_ops_by_bits"]["4"] > 50
    tfl = (out / "model_int8.tflite").read_bytes()
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(tfl, 0))
    types = [t.type for t in model.subgraphs[0].tensors if t.name.endswith(b"/weights")]
    assert types.count(s.TensorType.INT4) == rep["weighted_ops_by_bits"]["4"]
    assert main(["verify", "--quantized", str(out), "--images", "2", "--weight-bits", spec,
                 "--out", str(tmp_path / "v")]) == 0
    ver = json.loads((tmp_path / "v" / "verify_report.json").read_text())
    assert ver["tensors_mismatched"] == 0 and ver["weighted_ops_by_bits"] == rep["weighted_ops_by_bits"]
    assert "INT4 weights in" in capsys.readouterr().out
    # the stored model is not an all-4 one: verify says so instead of checking something else
    assert main(["verify", "--quantized", str(out), "--weight-bits", "4", "--out", str(tmp_path / "v2")]) == 2


@pytest.mark.parametrize("spec", ["4", "pointwise=4,default=8"])
def test_simulate_functional_int4(tmp_path: Path, spec: str) -> None:
    out = tmp_path / "s"
    assert main(["simulate", *B0, "--weight-bits", spec, "--functional", "--random", "--out", str(out)]) == 0
    fr = json.loads((out / "functional_report.json").read_text())
    assert fr["bit_exact"] and fr["counts_match"] and fr["clobbers"] == 0
    sim = json.loads((out / "inference_simulator_report.json").read_text())
    assert fr["counts"]["functional"]["offchip_bytes"] == sum(sim["total"]["offchip_bytes"].values())
    assert fr["weight_bits"] == (4 if spec == "4" else "stem=8,depthwise=8,pointwise=4,se=8,conv=8,classifier=8")


def test_int4_cuts_weight_traffic_in_simulate(tmp_path: Path) -> None:
    w = {}
    for spec in ("8", "4"):
        assert main(["simulate", *B0, "--weight-bits", spec, "--out", str(tmp_path / spec)]) == 0
        w[spec] = json.loads((tmp_path / spec / "inference_simulator_report.json").read_text())["total"]
    assert w["4"]["offchip_bytes"]["weights"] < 0.6 * w["8"]["offchip_bytes"]["weights"]
    assert w["4"]["macs"] == w["8"]["macs"]


@pytest.mark.parametrize("cmd", ["quantize", "simulate", "run", "verify"])
@pytest.mark.parametrize("spec, token", [("pointwise=4,bogus=8", "'bogus=8'"), ("3", "'3'"),
                                         ("se=4,se=4,default=8", "'se=4'")])
def test_bad_spec_is_a_one_line_usage_error(cmd: str, spec: str, token: str, capsys) -> None:  # noqa: ANN001
    assert main([cmd, "--weight-bits", spec, "--out", "/nonexistent-never-written"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "--weight-bits" in line]
    assert len(err) == 1 and token in err[0]
