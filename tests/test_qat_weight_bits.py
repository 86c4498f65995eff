"""QAT for mixed INT8 / INT4 weights (``--weight-bits`` in ``python -m sramflow.train``): the fake-quant INT4
grid is the integer quantizer's, bit for bit; the layer groups are the exported graph's; the spec is parsed by
the one parser quantize uses; ``--resume`` refuses a different spec."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from helpers.ham import write_ham
from sramflow.data.ham10000 import load_ham10000, make_split, write_split
from sramflow.ir.precision import canonical_weight_bits, node_group
from sramflow.models.efficientnet import ConvNormAct, build_model
from sramflow.quant.weight_bits import quantize_weights_bits
from sramflow.train.__main__ import build_parser, main
from sramflow.train.loop import TrainConfig, checkpoint_metadata, save_safetensors
from sramflow.train.qat import _folded_conv, conv_weight_group, fake_quant_weight
from sramflow.train.state import read_state

PW4 = "pointwise=4,default=8"


def _folded(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
    inv = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return conv.weight * inv.view(-1, 1, 1, 1)


def test_int4_fake_quant_is_the_integer_quantizers_dequantized_weights_bit_for_bit() -> None:
    torch.manual_seed(0)
    seq = ConvNormAct(6, 5, 3, act=None).eval()
    bn = seq[1]
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.2, 2.0)
    bn.weight.data.uniform_(0.5, 1.5)
    # channel 0 sits on half-way points of its own grid (max 7, so scale 1): round half away from zero gives
    # 3 and -3 where torch.round (half to even) would give 2 and -2
    with torch.no_grad():
        seq[0].weight[0] = 0.0
        seq[0].weight[0, 0, 0, :3] = torch.tensor([7.0, 2.5, -2.5])
        seq[0].weight[0] /= (bn.weight[0] / torch.sqrt(bn.running_var[0] + bn.eps))
    w = _folded(seq[0], bn)
    q, scales = quantize_weights_bits(w.detach().numpy(), 4)
    want = q.astype(np.float32) * scales[:, None, None, None]
    got = fake_quant_weight(w, 4).detach().numpy()
    assert got.dtype == np.float32 and np.array_equal(got, want)
    assert np.abs(q).max() <= 7 and len(np.unique(q[1])) > 8  # the 15-level grid is used, nothing beyond +-7
    k = got[0] / scales[0]
    if scales[0] == np.float32(1.0):  # the folding may land an ulp away from 7; only then is the half-way check exact
        assert k[0, 0, 1] == 3.0 and k[0, 0, 2] == -3.0
    # the forward of the patched conv uses exactly those weights; the gradient passes straight through
    x = torch.randn(2, 6, 8, 8)
    y = _folded_conv(seq, x, 4)
    inv = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    ref = torch.nn.functional.conv2d(x, torch.from_numpy(want), bn.bias - bn.running_mean * inv, 1, 1)
    assert torch.equal(y, ref)
    wl = w.detach().clone().requires_grad_(True)
    fake_quant_weight(wl, 4).sum().backward()
    assert torch.equal(wl.grad, torch.ones_like(wl))


def test_half_way_rounding_matches_the_quantizer_not_torch_round() -> None:
    w = torch.tensor([[7.0, 2.5, -2.5, 0.5, -0.5, 1.5]])  # scale 1 exactly: every code is w itself
    assert fake_quant_weight(w, 4).tolist() == [[7.0, 3.0, -3.0, 1.0, -1.0, 2.0]]
    assert fake_quant_weight(w, 8).shape == w.shape  # the int8 path is unchanged (its own torch rounding)


def test_torch_layer_groups_are_the_graphs_groups() -> None:
    """Each ``--weight-bits`` group covers the same layers in QAT as in the exported graph quantize reads."""
    from sramflow.frontend.builtin import builtin_graph
    from sramflow.models.arch import get_arch

    m = build_model("efficientnet_b0", 7).eval()
    torch_groups: Counter = Counter()
    for name, mod in m.named_modules():
        if isinstance(mod, ConvNormAct):
            torch_groups[(conv_weight_group(m, name, mod[0]), tuple(mod[0].weight.shape))] += 1
        if type(mod).__name__ == "SqueezeExcitation":
            for fc in (mod.fc1, mod.fc2):
                torch_groups[("se", tuple(fc.weight.shape))] += 1
    torch_groups[("classifier", tuple(m.classifier[1].weight.shape))] += 1
    state = {k: v.numpy() for k, v in m.state_dict().items()}
    g = builtin_graph(get_arch("efficientnet_b0"), state, 64, 1e-5)
    graph_groups: Counter = Counter()
    for node in g.nodes:
        group = node_group(g, node)
        if group is not None:
            graph_groups[(group, tuple(node.weights["W"].shape))] += 1
    assert torch_groups == graph_groups
    assert sum(v for (grp, _), v in torch_groups.items() if grp == "pointwise") == 32


def test_torch_layer_names_are_the_graphs_layer_names() -> None:
    """A layer token (``features.6.*=4``) names the same layers, with the same groups, in QAT as in the graph."""
    from sramflow.frontend.builtin import builtin_graph
    from sramflow.ir.precision import layer_name
    from sramflow.models.arch import get_arch
    from sramflow.train.qat import layer_groups

    m = build_model("efficientnet_b0", 7).eval()
    g = builtin_graph(get_arch("efficientnet_b0"), {k: v.numpy() for k, v in m.state_dict().items()}, 64, 1e-5)
    graph = {layer_name(n.name): node_group(g, n) for n in g.nodes if node_group(g, n) is not None}
    assert layer_groups(m) == graph and len(graph) == 82


def test_layer_tokens_fake_quantize_only_their_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    """``insert_fake_quant`` with a layer token: the named conv's weights go on the INT4 grid, no other layer's; a
    token naming no layer is refused before anything is wired."""
    from sramflow.errors import PrecisionError
    from sramflow.train import qat

    m = build_model("efficientnet_b0", 7).eval()
    calls: list[tuple[tuple[int, ...], int]] = []
    real = qat.fake_quant_weight

    def spy(w: torch.Tensor, bits: int = 8) -> torch.Tensor:
        calls.append((tuple(w.shape), bits))
        return real(w, bits)

    state = qat.insert_fake_quant(m, weight_bits="default=8,features.6.1.block.3.*=4")
    monkeypatch.setattr(qat, "fake_quant_weight", spy)
    with torch.no_grad():
        m(torch.zeros(1, 3, 32, 32))
    qat.remove_fake_quant(state)
    assert len(calls) == 82
    assert [c for c in calls if c[1] == 4] == [(tuple(m.features[6][1].block[3][0].weight.shape), 4)]
    with pytest.raises(PrecisionError, match="features.9"):
        qat.insert_fake_quant(build_model("efficientnet_b0", 7), weight_bits="default=8,features.9.*=4")


def test_the_spec_is_parsed_as_quantize_parses_it(capsys: pytest.CaptureFixture) -> None:
    a = build_parser().parse_args(["--data", "d", "--qat-from", "c", "--weight-bits", "default=8,pointwise=4"])
    assert a.weight_bits == canonical_weight_bits(PW4) == "stem=8,depthwise=8,pointwise=4,se=8,conv=8,classifier=8"
    assert build_parser().parse_args(["--data", "d", "--weight-bits", "8"]).weight_bits == 8
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--data", "d", "--qat-from", "c", "--weight-bits", "pointwize=4,default=8"])
    assert "unknown layer group 'pointwize'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--data", "d", "--weight-bits", "4"])
    assert "QAT-stage option" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_keeps_the_spec_and_refuses_another(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_ham(tmp_path / "d", 42, per_lesion=1)  # 6 lesions per class: train 28, val 7, test 7 images
    split = tmp_path / "split.json"
    write_split(make_split(load_ham10000(tmp_path / "d").samples, 0), split)
    base = tmp_path / "base.safetensors"
    save_safetensors(build_model("efficientnet_b0", 7), base, checkpoint_metadata(TrainConfig(data="", resolution=32)))
    args = ["--data", str(tmp_path / "d"), "--qat-from", str(base), "--qat-epochs", "2", "--resolution", "32",
            "--batch-size", "8", "--lr", "1e-3", "--threads", "1", "--device", "cpu", "--split-file", str(split)]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert main([*args, "--weight-bits", PW4, "--out", str(whole)]) == 0
    assert main([*args, "--weight-bits", PW4, "--out", str(parts), "--epochs-this-sitting", "1"]) == 0
    assert read_state(parts, "qat").info["config"]["weight_bits"] == canonical_weight_bits(PW4)
    assert main([*args, "--weight-bits", "4", "--resume", str(parts)]) == 2
    err = capsys.readouterr().err
    assert "weight_bits=" in err and "pointwise=4" in err and "weight_bits=4" in err
    assert main([*args, "--resume", str(parts)]) == 2  # the default (8) is a different spec too
    assert main([*args, "--weight-bits", PW4, "--resume", str(parts)]) == 0
    from safetensors.torch import load_file

    a, b = (load_file(str(d / "efficientnet_b0_ham10000.safetensors")) for d in (whole, parts))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # an INT4 run and an INT8 run from the same start end on different weights: the spec reaches the training
    int8 = tmp_path / "int8"
    assert main([*args, "--out", str(int8)]) == 0
    c = load_file(str(int8 / "efficientnet_b0_ham10000.safetensors"))
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())
