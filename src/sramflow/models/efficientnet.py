"""EfficientNet-B0 / -Lite0 in PyTorch, with torchvision's module names.

torchvision's naming is the canonical layout: its state dict of B0 has exactly the 360 entries the
write-up's checkpoint had, and other layouts (timm, efficientnet_pytorch) are mapped onto it in
``layouts.py``. Padding is symmetric ((k-1)//2), as in torchvision and timm's non-``tf_`` models.
"""

from __future__ import annotations

import torch
from torch import nn

from sramflow.models.arch import ArchSpec, BlockSpec, get_arch


def _activation(kind: str) -> nn.Module:
    return nn.SiLU() if kind == "silu" else nn.ReLU6()


class ConvNormAct(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> optional activation; keys ``.0`` conv, ``.1`` bn."""

    def __init__(
        self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: str | None = None, eps: float = 1e-5
    ):
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout, eps=eps),
        ]
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
    def __init__(self, spec: BlockSpec, arch: ArchSpec, eps: float):
        super().__init__()
        act = arch.activation
        mid = spec.expanded_channels
        layers: list[nn.Module] = []
        if spec.has_expand:
            layers.append(ConvNormAct(spec.in_channels, mid, 1, act=act, eps=eps))
        layers.append(ConvNormAct(mid, mid, spec.kernel, spec.stride, groups=mid, act=act, eps=eps))
        if arch.squeeze_excite:
            layers.append(SqueezeExcitation(mid, spec.squeeze_channels))
        layers.append(ConvNormAct(mid, spec.out_channels, 1, act=None, eps=eps))
        self.block = nn.Sequential(*layers)
        self.use_residual = spec.has_residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_residual else y


class EfficientNet(nn.Module):
    def __init__(self, arch: ArchSpec, num_classes: int, bn_eps: float = 1e-5):
        super().__init__()
        self.arch = arch
        self.num_classes = num_classes
        feats: list[nn.Module] = [ConvNormAct(3, arch.stem_channels, 3, 2, act=arch.activation, eps=bn_eps)]
        blocks = arch.blocks()
        for s in range(len(arch.stages)):
            feats.append(nn.Sequential(*[MBConv(b, arch, bn_eps) for b in blocks if b.stage == s]))
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


def build_model(name: str, num_classes: int, seed: int | None = 0, bn_eps: float = 1e-5) -> EfficientNet:
    """Build a model with deterministic random weights (``seed``, drawn by ``models.state.random_state``) in
    eval mode; ``seed=None`` leaves torch's own initialization (for weights loaded right after).

    ``bn_eps``: torchvision and timm use 1e-5, efficientnet_pytorch and TF-derived weights 1e-3.
    """
    if num_classes < 1:
        from sramflow.errors import SramflowError

        raise SramflowError(f"--num-classes must be >= 1, got {num_classes}")
    if seed is not None:
        torch.manual_seed(seed)
    net = EfficientNet(get_arch(name), num_classes, bn_eps).eval()
    if seed is not None:  # the same seeded weights as the torch-free graph builder (models.state)
        from sramflow.models.state import random_state

        weights = random_state(net.arch, num_classes, seed)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    return net
