"""EfficientNet-B0..B3 / -Lite0 in PyTorch, with torchvision's module names.

torchvision's naming is the canonical layout: its state dict of B0 has exactly the 360 entries the
write-up's checkpoint had, and other layouts (timm, efficientnet_pytorch) are mapped onto it in
``layouts.py``. Padding is a property of the weights, not of the names:
- "symmetric": (k-1)//2 on every side, as torchvision and timm's non-``tf_`` models pad;
- "tf_same": TensorFlow's SAME, as efficientnet_pytorch pads (its weights come from TensorFlow): the total
  pad ``max((ceil(n/s)-1)*s + k - n, 0)`` split with the odd pixel after, e.g. (0, 1) for a stride-2 3x3 on
  an even size. Computed from the size the layer actually sees, which is efficientnet_pytorch's dynamic
  padding and equals its static padding at the variant's own resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sramflow.models.arch import ArchSpec, BlockSpec, get_arch, tf_same_pads

PADDINGS = ("symmetric", "tf_same")


def _activation(kind: str) -> nn.Module:
    return nn.SiLU() if kind == "silu" else nn.ReLU6()


class _ExportAsOnnxConv(torch.autograd.Function):
    """Export only: one ONNX Conv with per-side ``pads`` (ONNX Conv has them natively), instead of the
    exporter's unfolded shape arithmetic around a Pad."""

    @staticmethod
    def forward(ctx, x, weight, pads, stride, dilation, groups):  # noqa: ANN001, ANN205, ARG004
        t, left, b, r = pads
        return F.conv2d(F.pad(x, (left, r, t, b)), weight, None, stride, 0, dilation, groups)

    @staticmethod
    def symbolic(g, x, weight, pads, stride, dilation, groups):  # noqa: ANN001, ANN205
        return g.op("Conv", x, weight, kernel_shape_i=list(weight.type().sizes()[2:]), pads_i=list(pads),
                    strides_i=list(stride), dilations_i=list(dilation), group_i=groups)


class TfSameConv2d(nn.Conv2d):
    """A Conv2d that zero-pads its input like TensorFlow's SAME (``padding`` stays 0). Same parameters and
    state-dict keys as nn.Conv2d."""

    def same_pads(self, x: torch.Tensor) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), the IR's order, for this input's size."""
        top, bottom = tf_same_pads(int(x.shape[-2]), self.kernel_size[0], self.stride[0], self.dilation[0])
        left, right = tf_same_pads(int(x.shape[-1]), self.kernel_size[1], self.stride[1], self.dilation[1])
        return top, left, bottom, right

    def pad_input(self, x: torch.Tensor) -> torch.Tensor:
        t, left, b, r = self.same_pads(x)
        return F.pad(x, (left, r, t, b)) if t or left or b or r else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return _ExportAsOnnxConv.apply(x, self.weight, self.same_pads(x), self.stride, self.dilation, self.groups)
        return super().forward(self.pad_input(x))


def padded_input(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``x`` as ``conv`` pads it beyond its own ``padding`` (for code that calls F.conv2d with its weights)."""
    return conv.pad_input(x) if isinstance(conv, TfSameConv2d) else x


def _conv(cin: int, cout: int, k: int, stride: int, groups: int, padding: str) -> nn.Conv2d:
    if padding == "tf_same" and k > 1:
        return TfSameConv2d(cin, cout, k, stride, 0, groups=groups, bias=False)
    return nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False)


class ConvNormAct(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> optional activation; keys ``.0`` conv, ``.1`` bn."""

    def __init__(
        self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: str | None = None, eps: float = 1e-5,
        padding: str = "symmetric",
    ):
        layers: list[nn.Module] = [_conv(cin, cout, k, stride, groups, padding), nn.BatchNorm2d(cout, eps=eps)]
        if act is not None:
            layers.append(_activation(act))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.SiLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return x * s


class MBConv(nn.Module):
    def __init__(self, spec: BlockSpec, arch: ArchSpec, eps: float, padding: str = "symmetric"):
        super().__init__()
        act = arch.activation
        mid = spec.expanded_channels
        layers: list[nn.Module] = []
        if spec.has_expand:
            layers.append(ConvNormAct(spec.in_channels, mid, 1, act=act, eps=eps))
        layers.append(ConvNormAct(mid, mid, spec.kernel, spec.stride, groups=mid, act=act, eps=eps, padding=padding))
        if arch.squeeze_excite:
            layers.append(SqueezeExcitation(mid, spec.squeeze_channels))
        layers.append(ConvNormAct(mid, spec.out_channels, 1, act=None, eps=eps))
        self.block = nn.Sequential(*layers)
        self.use_residual = spec.has_residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_residual else y


class EfficientNet(nn.Module):
    def __init__(self, arch: ArchSpec, num_classes: int, bn_eps: float = 1e-5, padding: str = "symmetric"):
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        self.arch = arch
        self.num_classes = num_classes
        self.padding = padding
        feats: list[nn.Module] = [ConvNormAct(3, arch.stem_channels, 3, 2, act=arch.activation, eps=bn_eps,
                                              padding=padding)]
        blocks = arch.blocks()
        for s in range(len(arch.stages)):
            feats.append(nn.Sequential(*[MBConv(b, arch, bn_eps, padding) for b in blocks if b.stage == s]))
        feats.append(ConvNormAct(arch.stages[-1].out_channels, arch.head_channels, 1, act=arch.activation, eps=bn_eps))
        self.features = nn.Sequential(*feats)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(arch.dropout), nn.Linear(arch.head_channels, num_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -1.0 / m.in_features**0.5, 1.0 / m.in_features**0.5)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def build_model(name: str, num_classes: int, seed: int | None = 0, bn_eps: float = 1e-5,
                padding: str = "symmetric") -> EfficientNet:
    """Build a model with deterministic random weights (``seed``, drawn by ``models.state.random_state``) in
    eval mode; ``seed=None`` leaves torch's own initialization (for weights loaded right after).

    ``bn_eps``: torchvision and timm use 1e-5, efficientnet_pytorch and TF-derived weights 1e-3.
    ``padding``: "symmetric" (torchvision, timm) or "tf_same" (efficientnet_pytorch, TF-derived weights).
    """
    if num_classes < 1:
        from sramflow.errors import SramflowError

        raise SramflowError(f"--num-classes must be >= 1, got {num_classes}")
    if seed is not None:
        torch.manual_seed(seed)
    net = EfficientNet(get_arch(name), num_classes, bn_eps, padding).eval()
    if seed is not None:  # the same seeded weights as the torch-free graph builder (models.state)
        from sramflow.models.state import random_state

        weights = random_state(net.arch, num_classes, seed)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    return net
