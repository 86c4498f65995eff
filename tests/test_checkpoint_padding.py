"""efficientnet_pytorch checkpoints pad like TensorFlow's SAME, and sramflow must too.

The expected logits come from a forward pass written here from first principles, reading the checkpoint's
own key names (F.pad with explicit per-side pads, then F.conv2d without padding; BatchNorm eps 1e-3), not from
sramflow's model code. BatchNorm statistics are random, so the logits depend on the input: a freshly
initialised BN gives almost constant logits and would hide a padding error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from sramflow.errors import CheckpointError
from sramflow.frontend.source import ModelSource, load_graph
from sramflow.models.arch import get_arch
from sramflow.models.checkpoint import load_checkpoint
from sramflow.models.efficientnet import build_model
from sramflow.models.layouts import key_map
from sramflow.reference.float_exec import run_float

# B0's stages as (repeats, kernel, first stride, expand ratio): the EfficientNet paper, Table 1.
B0_STAGES = ((1, 3, 1, 1), (2, 3, 2, 6), (2, 5, 2, 6), (3, 3, 2, 6), (3, 5, 1, 6), (4, 5, 2, 6), (1, 3, 1, 6))
B1_REPEATS = (2, 3, 3, 4, 4, 5, 2)  # ceil(1.1 x B0's)


def _randomised_state_dict(model: str, layout: str, classes: int = 7, seed: int = 5, res: int = 64) -> dict[str, torch.Tensor]:
    """Random weights, random BN affine parameters and random-but-plausible BN statistics, in ``layout``'s
    key names. Each BN's running mean / variance is its input's, measured in eval mode on the test's inputs
    (``_inputs(res)``: a random-weight network is chaotic on anything else) and then perturbed at random (x U(0.9, 1.1) on the variance, +-0.05 std on the mean), so features
    stay normalised through 16+ blocks as after training and the logits vary with the input."""
    padding = "tf_same" if layout == "efficientnet_pytorch" else "symmetric"
    net = build_model(model, classes, seed=seed, padding=padding)
    g = torch.Generator().manual_seed(seed)
    calib = _inputs(res)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):  # fan-in scaling: the signal neither dies nor explodes
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (1.0 / m.weight[0].numel()) ** 0.5)
        def measured(bn: torch.nn.BatchNorm2d, args: tuple[torch.Tensor]) -> None:  # runs before bn does
            # a floor on the variance: a channel nearly constant on these images must not amplify others 1000x
            mean, var = args[0].mean((0, 2, 3)), args[0].var((0, 2, 3))
            std = (var + 0.05 * var.mean()).sqrt()
            bn.running_mean.copy_(mean + 0.05 * std * torch.randn(mean.shape, generator=g))
            bn.running_var.copy_(std**2 * (0.9 + 0.2 * torch.rand(std.shape, generator=g)))
            bn.weight.copy_(torch.rand(bn.weight.shape, generator=g) * 0.4 + 0.6)
            bn.bias.copy_(torch.randn(bn.bias.shape, generator=g) * 0.1)

        hooks = [m.register_forward_pre_hook(measured) for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        net(calib)
        for h in hooks:
            h.remove()
    sd = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    m = key_map(layout, get_arch(model), list(sd))
    return {m[k]: v for k, v in sd.items()}


def _plain_state_dict(model: str, layout: str, classes: int = 7) -> dict[str, torch.Tensor]:
    sd = build_model(model, classes, seed=0).state_dict()
    m = key_map(layout, get_arch(model), list(sd))
    return {m[k]: v for k, v in sd.items()}


def _same(size: int, k: int, s: int) -> tuple[int, int]:
    total = max((-(-size // s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _conv(x: torch.Tensor, w: torch.Tensor, stride: int, groups: int, padding: str) -> torch.Tensor:
    k = w.shape[-1]
    if padding == "same":
        (t, b), (left, r) = _same(x.shape[-2], k, stride), _same(x.shape[-1], k, stride)
    else:
        t = b = left = r = (k - 1) // 2
    return F.conv2d(F.pad(x, (left, r, t, b)), w, None, stride, 0, 1, groups)


def _bn(x: torch.Tensor, sd: dict[str, torch.Tensor], p: str) -> torch.Tensor:
    scale = sd[f"{p}.weight"] / torch.sqrt(sd[f"{p}.running_var"] + 1e-3)
    return (x - sd[f"{p}.running_mean"][:, None, None]) * scale[:, None, None] + sd[f"{p}.bias"][:, None, None]


def lukemelas_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, repeats: tuple[int, ...],
                      padding: str = "same") -> torch.Tensor:
    """efficientnet_pytorch's EfficientNet.forward, from its key names and the paper's stage table."""
    swish = F.silu
    x = swish(_bn(_conv(x, sd["_conv_stem.weight"], 2, 1, padding), sd, "_bn0"))
    i = 0
    for (_, k, stride, expand), reps in zip(B0_STAGES, repeats):
        for j in range(reps):
            p = f"_blocks.{i}"
            inp = x
            if expand != 1:
                x = swish(_bn(F.conv2d(x, sd[f"{p}._expand_conv.weight"]), sd, f"{p}._bn0"))
            x = swish(_bn(_conv(x, sd[f"{p}._depthwise_conv.weight"], stride if j == 0 else 1, x.shape[1], padding),
                          sd, f"{p}._bn1"))
            s = x.mean((2, 3), keepdim=True)
            s = F.conv2d(swish(F.conv2d(s, sd[f"{p}._se_reduce.weight"], sd[f"{p}._se_reduce.bias"])),
                         sd[f"{p}._se_expand.weight"], sd[f"{p}._se_expand.bias"])
            x = _bn(F.conv2d(x * torch.sigmoid(s), sd[f"{p}._project_conv.weight"]), sd, f"{p}._bn2")
            if j > 0 and inp.shape == x.shape:
                x = x + inp
            i += 1
    x = swish(_bn(F.conv2d(x, sd["_conv_head.weight"]), sd, "_bn1")).mean((2, 3))
    return F.linear(x, sd["_fc.weight"], sd["_fc.bias"])


def _inputs(res: int, n: int = 4, seed: int = 11) -> torch.Tensor:
    """Inputs that differ in more than noise (per-image colour offsets and gradients): globally pooled
    features of i.i.d. noise images are all alike."""
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(-1, 1, res)
    grad = torch.randn(n, 3, 2, 1, 1, generator=g)
    return (torch.randn(n, 3, res, res, generator=g) * 0.5 + torch.randn(n, 3, 1, 1, generator=g)
            + grad[:, :, 0] * ramp[:, None] + grad[:, :, 1] * ramp[None, :])


def _assert_close(got: torch.Tensor, expected: torch.Tensor) -> None:
    """float32 through 16+ blocks in another summation order: within 1e-4 of the logits' own scale (a padding
    error moves them by a good fraction of it)."""
    diff, scale = float((got - expected).abs().max()), float(expected.abs().max())
    assert diff <= 1e-4 * scale + 1e-5, (diff, scale)


@pytest.mark.parametrize("res", [64, 72])  # 72: odd sizes deeper in (9 -> 5 with a stride-2 5x5)
def test_efficientnet_pytorch_layout_pads_like_tensorflow(tmp_path: Path, res: int) -> None:
    sd = _randomised_state_dict("efficientnet_b0", "efficientnet_pytorch", res=res)
    path = tmp_path / "b0_lukemelas.pth"
    torch.save({f"module.{k}": v for k, v in sd.items()}, path)
    x = _inputs(res)
    with torch.no_grad():
        expected = lukemelas_forward(sd, x, (1, 2, 2, 3, 3, 4, 1))
        symmetric = lukemelas_forward(sd, x, (1, 2, 2, 3, 3, 4, 1), padding="symmetric")
    # The test can fail: the logits depend on the input and on the padding convention.
    spread = float((expected - expected.mean(0)).abs().max())
    assert spread > 0.1
    assert float((expected - symmetric).abs().max()) > 0.1 * spread

    loaded = load_checkpoint(path)
    assert loaded.info.layout == "efficientnet_pytorch" and loaded.info.padding == "tf_same"
    with torch.no_grad():
        torch_logits = loaded.model(x)
    _assert_close(torch_logits, expected)

    # The IR (exported to ONNX, imported, BN folded) carries the per-side pads and gives the same logits.
    g = load_graph(ModelSource(checkpoint=str(path), resolution=res)).graph
    stem = g.nodes[0]
    assert stem.op == "Conv" and tuple(stem.attrs["pads"]) == ((0, 0, 1, 1) if res % 2 == 0 else (1, 1, 1, 1))
    ir_logits = run_float(g, x.numpy())[g.output].reshape(x.shape[0], -1)
    _assert_close(torch.from_numpy(ir_logits), expected)


def test_torchvision_layout_keeps_symmetric_padding(tmp_path: Path) -> None:
    sd = _plain_state_dict("efficientnet_b0", "torchvision")
    p = tmp_path / "tv.pth"
    torch.save(sd, p)
    loaded = load_checkpoint(p)
    assert loaded.info.padding == "symmetric"
    g = load_graph(ModelSource(checkpoint=str(p), resolution=32)).graph
    assert tuple(g.nodes[0].attrs["pads"]) == (1, 1, 1, 1)


def test_b1_efficientnet_pytorch_from_first_principles(tmp_path: Path) -> None:
    sd = _randomised_state_dict("efficientnet_b1", "efficientnet_pytorch")
    assert sum(1 for k in sd if k.endswith("._depthwise_conv.weight")) == sum(B1_REPEATS)
    p = tmp_path / "b1.pth"
    torch.save(sd, p)
    loaded = load_checkpoint(p)
    assert loaded.info.model == "efficientnet_b1"
    x = _inputs(64)
    with torch.no_grad():
        expected = lukemelas_forward(sd, x, B1_REPEATS)
        got = loaded.model(x)
    _assert_close(got, expected)


@pytest.mark.parametrize("layout", ["torchvision", "timm", "efficientnet_pytorch"])
@pytest.mark.parametrize("variant", ["efficientnet_b1", "efficientnet_b2", "efficientnet_b3"])
def test_variants_are_recognised(tmp_path: Path, layout: str, variant: str) -> None:
    p = tmp_path / "v.pth"
    torch.save(_plain_state_dict(variant, layout, classes=3), p)
    assert load_checkpoint(p).info.model == variant
    with pytest.raises(CheckpointError, match=f"looks like {variant} \\({layout} layout\\) but --model efficientnet_b0"):
        load_checkpoint(p, model="efficientnet_b0")


def test_unbuilt_variant_is_named(tmp_path: Path) -> None:
    from sramflow.models.arch import scaled_variant
    from sramflow.models.efficientnet import EfficientNet

    torch.manual_seed(0)
    sd = EfficientNet(scaled_variant("efficientnet_b4"), 5).state_dict()
    p = tmp_path / "b4.pth"
    torch.save(sd, p)
    with pytest.raises(CheckpointError, match="looks like efficientnet_b4 .*not built in.*--onnx"):
        load_checkpoint(p)


def test_compound_scaling_matches_the_published_widths() -> None:
    # torchvision / timm / efficientnet_pytorch: stem, head, last stage channels and number of blocks.
    expected = {"efficientnet_b0": (32, 1280, 320, 16), "efficientnet_b1": (32, 1280, 320, 23),
                "efficientnet_b2": (32, 1408, 352, 23), "efficientnet_b3": (40, 1536, 384, 26)}
    for name, (stem, head, last, blocks) in expected.items():
        a = get_arch(name)
        assert (a.stem_channels, a.head_channels, a.stages[-1].out_channels, len(a.blocks())) == (stem, head, last, blocks)
    assert [get_arch(n).resolution for n in expected] == [224, 240, 260, 300]
    assert [s.out_channels for s in get_arch("efficientnet_b3").stages] == [24, 32, 48, 96, 136, 232, 384]


def test_parameter_counts_equal_torchvisions() -> None:
    """torchvision's documented ImageNet (1000-class) parameter counts of efficientnet_b0..b3."""
    from sramflow.models.efficientnet import EfficientNet

    published = {"efficientnet_b0": 5_288_548, "efficientnet_b1": 7_794_184, "efficientnet_b2": 9_109_994,
                 "efficientnet_b3": 12_233_232}
    for name, count in published.items():
        with torch.device("meta"):
            net = EfficientNet(get_arch(name), 1000)
        assert sum(p.numel() for p in net.parameters()) == count, name


def test_analysis_names_the_layout_and_padding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sramflow.cli import main

    p = tmp_path / "b1.pth"
    torch.save(_plain_state_dict("efficientnet_b1", "efficientnet_pytorch", classes=7), p)
    assert main(["analyze", "--checkpoint", str(p), "--resolution", "32"]) == 0
    out = capsys.readouterr().out
    assert "model efficientnet_b1" in out and "efficientnet_pytorch layout, TensorFlow SAME padding" in out


def test_a_damaged_variant_is_reported_against_its_own_variant(tmp_path: Path) -> None:
    sd = _plain_state_dict("efficientnet_b2", "timm")
    del sd["blocks.3.1.bn2.running_var"]
    p = tmp_path / "b2.pth"
    torch.save(sd, p)
    with pytest.raises(CheckpointError, match="does not match efficientnet_b2 .*missing keys: blocks.3.1.bn2.running_var$"):
        load_checkpoint(p)


def test_tf_same_pads_give_tensorflows_output_size() -> None:
    from sramflow.models.arch import tf_same_pads

    for size in range(1, 20):
        for k in (1, 3, 5):
            for s in (1, 2):
                before, after = tf_same_pads(size, k, s)
                assert (before, after) == _same(size, k, s)
                assert (size + before + after - k) // s + 1 == -(-size // s) and 0 <= after - before <= 1
    assert tf_same_pads(224, 3, 2) == (0, 1) and tf_same_pads(56, 5, 2) == (1, 2) and tf_same_pads(15, 5, 2) == (2, 2)


def test_torch_export_and_builtin_builder_agree_on_tf_same_pads(tmp_path: Path) -> None:
    """The two ways into the IR (torch model -> ONNX -> import; the torch-free builder) pad alike."""
    from sramflow.frontend.torch_export import torch_to_graph

    p = tmp_path / "b0.pth"
    torch.save(_plain_state_dict("efficientnet_b0", "efficientnet_pytorch"), p)
    built = load_graph(ModelSource(checkpoint=str(p), resolution=40)).graph
    exported = torch_to_graph(load_checkpoint(p).model, 40, "b0")
    pads = [[tuple(n.attrs["pads"]) for n in g.nodes if n.op == "Conv"] for g in (built, exported)]
    assert pads[0] == pads[1] and (0, 0, 1, 1) in pads[0] and (1, 1, 2, 2) in pads[0]
