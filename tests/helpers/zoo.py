"""A model zoo the project builds itself (issue 22 item 4): PyTorch definitions that follow the published
architectures' structure (block types, operator sequence, strides, skip and concat topology) at reduced width and
depth so each exports and runs in seconds at 96 px. Random weights from a fixed seed; BatchNorm statistics are
randomized too so BN folding is exercised with non-trivial values. Shared by ``benchmarks/bench_zoo.py`` and
``tests/test_zoo.py``. Nothing is downloaded.

Each builder returns an ``nn.Module`` in eval mode taking (1, 3, R, R)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F


def _cbr(cin: int, cout: int, k: int = 3, s: int = 1, groups: int = 1, act: type[nn.Module] | None = nn.ReLU
         ) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


# --- ResNet-18 (He et al. 2016): basic blocks, 2 per stage, projection shortcut on stride / width change --------
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_cbr(cin, cout, 3, stride), _cbr(cout, cout, 3, 1, act=None))
        self.short = nn.Identity() if stride == 1 and cin == cout else _cbr(cin, cout, 1, stride, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.short(x))


def resnet18(width: int = 16, classes: int = 10) -> nn.Module:
    w = [width, 2 * width, 4 * width, 8 * width]
    layers: list[nn.Module] = [_cbr(3, w[0], 7, 2), nn.MaxPool2d(3, 2, 1)]
    cin = w[0]
    for i, c in enumerate(w):
        layers += [BasicBlock(cin, c, 1 if i == 0 else 2), BasicBlock(c, c, 1)]
        cin = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


# --- MobileNetV2 (Sandler et al. 2018): inverted residuals, ReLU6, linear bottlenecks ---------------------------
class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hid = cin * expand
        layers: list[nn.Module] = [] if expand == 1 else [_cbr(cin, hid, 1, act=nn.ReLU6)]
        layers += [_cbr(hid, hid, 3, stride, groups=hid, act=nn.ReLU6), _cbr(hid, cout, 1, act=None)]
        self.body = nn.Sequential(*layers)
        self.res = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.res else self.body(x)


def mobilenet_v2(classes: int = 10) -> nn.Module:
    # (expand, channels, repeats, stride): the paper's table at width 0.25-ish, repeats capped at 2
    cfg = [(1, 8, 1, 1), (6, 8, 2, 2), (6, 8, 2, 2), (6, 16, 2, 2), (6, 24, 1, 1), (6, 40, 2, 2), (6, 80, 1, 1)]
    layers: list[nn.Module] = [_cbr(3, 8, 3, 2, act=nn.ReLU6)]
    cin = 8
    for t, c, n, s in cfg:
        for i in range(n):
            layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
            cin = c
    layers += [_cbr(cin, 320, 1, act=nn.ReLU6), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(320, classes)]
    return nn.Sequential(*layers)


# --- MobileNetV3-small (Howard et al. 2019): hard-swish, SE with hard-sigmoid -----------------------------------
class SqueezeExcite(nn.Module):
    def __init__(self, c: int, squeeze: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, squeeze, 1), nn.Conv2d(squeeze, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))


class V3Block(nn.Module):
    def __init__(self, cin: int, k: int, hid: int, cout: int, se: bool, act: type[nn.Module], stride: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [] if hid == cin else [_cbr(cin, hid, 1, act=act)]
        layers.append(_cbr(hid, hid, k, stride, groups=hid, act=act))
        if se:
            layers.append(SqueezeExcite(hid, max(8, hid // 4)))
        layers.append(_cbr(hid, cout, 1, act=None))
        self.body = nn.Sequential(*layers)
        self.res = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.res else self.body(x)


def mobilenet_v3_small(classes: int = 10) -> nn.Module:
    hs, re = nn.Hardswish, nn.ReLU
    # the paper's Table 2 (k, exp, out, SE, NL, s), widths halved, one block of each repeated group
    cfg = [(3, 16, 16, True, re, 2), (3, 72, 24, False, re, 2), (3, 88, 24, False, re, 1),
           (5, 96, 40, True, hs, 2), (5, 240, 40, True, hs, 1), (5, 120, 48, True, hs, 1),
           (5, 288, 96, True, hs, 2), (5, 576, 96, True, hs, 1)]
    layers: list[nn.Module] = [_cbr(3, 16, 3, 2, act=hs)]
    cin = 16
    for k, e, c, se, act, s in cfg:
        layers.append(V3Block(cin, k, e // 2 if e // 2 != cin else cin, c // 2, se, act, s))
        cin = c // 2
    layers += [_cbr(cin, 288, 1, act=hs), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(288, 128), nn.Hardswish(),
               nn.Linear(128, classes)]
    return nn.Sequential(*layers)


# --- DenseNet (Huang et al. 2017): dense blocks (BN-ReLU-Conv1x1-BN-ReLU-Conv3x3, Concat), transitions ----------
class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 4 * growth, 1, bias=False),
                                  nn.BatchNorm2d(4 * growth), nn.ReLU(), nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], 1)


def densenet(growth: int = 8, blocks: tuple[int, ...] = (3, 3, 3), classes: int = 10) -> nn.Module:
    c = 2 * growth
    layers: list[nn.Module] = [nn.Conv2d(3, c, 7, 2, 3, bias=False), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    for i, n in enumerate(blocks):
        for _ in range(n):
            layers.append(DenseLayer(c, growth))
            c += growth
        if i < len(blocks) - 1:  # transition: BN-ReLU-Conv1x1 (compression 0.5) - AvgPool 2x2
            layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2, 2)]
            c //= 2
    layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes)]
    return nn.Sequential(*layers)


# --- ShuffleNetV2 (Ma et al. 2018): channel split, concat, channel shuffle --------------------------------------
def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        b = cout // 2
        self.stride = stride
        if stride == 2:
            self.left = nn.Sequential(_cbr(cin, cin, 3, 2, groups=cin, act=None), _cbr(cin, b, 1))
        rin = cin if stride == 2 else b
        self.right = nn.Sequential(_cbr(rin, b, 1), _cbr(b, b, 3, stride, groups=b, act=None), _cbr(b, b, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            a, b = x.chunk(2, dim=1)
            out = torch.cat([a, self.right(b)], 1)
        else:
            out = torch.cat([self.left(x), self.right(x)], 1)
        return channel_shuffle(out, 2)


def shufflenet_v2(classes: int = 10) -> nn.Module:
    stages, repeats = (24, 48, 96), (2, 2, 2)  # x0.5 widths halved again, repeats (4, 8, 4) cut to 2
    layers: list[nn.Module] = [_cbr(3, 12, 3, 2), nn.MaxPool2d(3, 2, 1)]
    cin = 12
    for c, n in zip(stages, repeats):
        for i in range(n):
            layers.append(ShuffleUnit(cin, c, 2 if i == 0 else 1))
            cin = c
    layers += [_cbr(cin, 256, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, classes)]
    return nn.Sequential(*layers)


# --- SqueezeNet 1.1 (Iandola et al. 2016): fire modules, ceil-mode max pools -----------------------------------
class Fire(nn.Module):
    def __init__(self, cin: int, s: int, e: int) -> None:
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(cin, s, 1), nn.ReLU())
        self.e1 = nn.Sequential(nn.Conv2d(s, e, 1), nn.ReLU())
        self.e3 = nn.Sequential(nn.Conv2d(s, e, 3, padding=1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return torch.cat([self.e1(x), self.e3(x)], 1)


def squeezenet1_1(classes: int = 10) -> nn.Module:
    # torchvision's squeezenet1_1 layer sequence, widths halved
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(32, 8, 32), Fire(64, 8, 32), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(64, 16, 64), Fire(128, 16, 64), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(128, 24, 96), Fire(192, 24, 96), Fire(192, 32, 128), Fire(256, 32, 128),
        nn.Conv2d(256, classes, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


# --- GoogLeNet (Szegedy et al. 2015): inception blocks (1x1, 1x1-3x3, 1x1-3x3, pool-1x1), ceil-mode pools -------
class Inception(nn.Module):
    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, cp: int) -> None:
        super().__init__()
        self.b1 = _cbr(cin, c1, 1)
        self.b2 = nn.Sequential(_cbr(cin, c3r, 1), _cbr(c3r, c3, 3))
        self.b3 = nn.Sequential(_cbr(cin, c5r, 1), _cbr(c5r, c5, 3))  # torchvision uses 3x3 here too
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), _cbr(cin, cp, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


def googlenet(classes: int = 10) -> nn.Module:
    # stem and inception 3a, 3b, 4a, 4b, 5a of torchvision's googlenet at a quarter width
    return nn.Sequential(
        _cbr(3, 16, 7, 2), nn.MaxPool2d(3, 2, ceil_mode=True), _cbr(16, 16, 1), _cbr(16, 48, 3),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        Inception(48, 16, 24, 32, 4, 8, 8), Inception(64, 32, 32, 48, 8, 24, 16), nn.MaxPool2d(3, 2, ceil_mode=True),
        Inception(120, 48, 24, 52, 4, 12, 16), Inception(128, 40, 28, 56, 6, 16, 16), nn.MaxPool2d(2, 2, ceil_mode=True),
        Inception(128, 64, 40, 80, 8, 32, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(208, classes))


# --- U-Net (Ronneberger et al. 2015), tiny: double convs, max-pool down, resize up, concat skips ----------------
class TinyUNet(nn.Module):
    def __init__(self, base: int = 8, classes: int = 2, mode: str = "nearest") -> None:
        super().__init__()
        def dc(cin: int, cout: int) -> nn.Sequential:  # noqa: E306
            return nn.Sequential(_cbr(cin, cout), _cbr(cout, cout))
        self.mode = mode
        self.d1, self.d2, self.mid = dc(3, base), dc(base, 2 * base), dc(2 * base, 4 * base)
        self.u2, self.u1 = dc(6 * base, 2 * base), dc(3 * base, base)
        self.out = nn.Conv2d(base, classes, 1)

    def up(self, x: torch.Tensor) -> torch.Tensor:
        kw = {} if self.mode == "nearest" else {"align_corners": False}
        return F.interpolate(x, scale_factor=2, mode=self.mode, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.d1(x)
        b = self.d2(F.max_pool2d(a, 2))
        m = self.mid(F.max_pool2d(b, 2))
        y = self.u2(torch.cat([self.up(m), b], 1))
        return self.out(self.u1(torch.cat([self.up(y), a], 1)))


# --- VGG (Simonyan & Zisserman 2014), VGG-11 layer pattern at 1/8 width -----------------------------------------
def vgg11(classes: int = 10) -> nn.Module:
    cfg: list[int | str] = [8, "M", 16, "M", 32, 32, "M", 64, 64, "M", 64, 64, "M"]
    layers: list[nn.Module] = []
    cin = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers.append(_cbr(cin, int(v)))
            cin = int(v)
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * 3 * 3, 128), nn.ReLU(), nn.Linear(128, classes))


ZOO: dict[str, Callable[[], nn.Module]] = {
    "resnet18": resnet18, "mobilenet_v2": mobilenet_v2, "mobilenet_v3_small": mobilenet_v3_small,
    "densenet": densenet, "shufflenet_v2": shufflenet_v2, "squeezenet1_1": squeezenet1_1, "googlenet": googlenet,
    "unet": TinyUNet, "unet_bilinear": lambda: TinyUNet(mode="bilinear"), "vgg11": vgg11,
}
BUILTIN = ("efficientnet_b0",)  # sramflow's own definition (``--model``), not exported here


def build(name: str, seed: int = 0) -> nn.Module:
    """The zoo network ``name`` with seeded random weights and random BN statistics, in eval mode."""
    torch.manual_seed(seed)
    m = ZOO[name]()
    g = torch.Generator().manual_seed(seed + 1)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            mod.running_mean.copy_(0.1 * torch.randn(c, generator=g))
            mod.running_var.copy_(0.5 + torch.rand(c, generator=g))
            mod.weight.data.copy_(0.75 + 0.5 * torch.rand(c, generator=g))
            mod.bias.data.copy_(0.1 * torch.randn(c, generator=g))
    return m.eval()


def export(name: str, folder: Path, resolution: int = 96, seed: int = 0) -> Path:
    """``name`` exported with torch.onnx.export (opset 17) to ``folder/name.onnx``."""
    path = folder / f"{name}.onnx"
    x = torch.randn(1, 3, resolution, resolution)
    torch.onnx.export(build(name, seed), (x,), str(path), opset_version=17, input_names=["x"], output_names=["y"],
                      dynamo=False)
    return path


def size(name: str, resolution: int = 96) -> tuple[int, int]:
    """(parameters, multiply-accumulates of Conv and Linear layers) of ``name`` at ``resolution``."""
    m = build(name)
    params = sum(p.numel() for p in m.parameters())
    macs = [0]

    def hook(mod: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        if isinstance(mod, nn.Conv2d):
            macs[0] += out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            macs[0] += out.numel() * mod.in_features

    hs = [mod.register_forward_hook(hook) for mod in m.modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        m(torch.zeros(1, 3, resolution, resolution))
    for h in hs:
        h.remove()
    return params, macs[0]
